package io.github.idlereaper.examples;

import io.github.idlereaper.IdleReaper;
import java.time.Duration;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.reactor.netty.NettyServerCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.RouterFunctions;
import org.springframework.web.reactive.function.server.ServerResponse;
import reactor.core.publisher.Mono;

/**
 * A Spring Boot WebFlux application on Reactor Netty with idle-reaper (docs/integrations.md). Spring Boot builds the
 * Reactor Netty server itself, and applies every {@link NettyServerCustomizer} bean to it before it starts: the
 * customizer is where the reaper's handler goes in ({@link ReactorNettyServer#withReaper}, which uses
 * {@code doOnChannelInit}). Spring Boot 4 (Reactor Netty 1.3, Netty 4.2); on Spring Boot 3 the interface is
 * {@code org.springframework.boot.web.embedded.netty.NettyServerCustomizer} and the rest is the same.
 *
 * <p>Paths: {@code /} answers "hello"; {@code /slow?ms=N} answers after N ms (a request in flight, never reaped as
 * idle). The read idle timeout is the property {@code idle-reaper.read-idle} (5 s unless set).
 *
 * <p>Run: {@code mvn -q -B test-compile exec:java -Dexec.classpathScope=test
 * -Dexec.mainClass=io.github.idlereaper.examples.SpringWebFluxServer}, then for example
 * {@code curl -v http://127.0.0.1:8080/slow?ms=8000}.
 */
@SpringBootConfiguration
@EnableAutoConfiguration
public class SpringWebFluxServer {

    /** One reaper for the application: the HTTP layer on, and a read idle timeout held off while a request runs. */
    @Bean
    IdleReaper idleReaper(@Value("${idle-reaper.read-idle:5s}") Duration readIdle) {
        return IdleReaper.builder()
                .http()
                .readIdleTimeout(readIdle)
                .build();
    }

    /** The recipe: the reaper's handler first in every connection's pipeline. */
    @Bean
    NettyServerCustomizer idleReaperCustomizer(IdleReaper reaper) {
        return server -> server.doOnChannelInit((observer, channel, remoteAddress) ->
                channel.pipeline().addFirst(IdleReaper.HANDLER_NAME, reaper.newHandler()));
    }

    @Bean
    RouterFunction<ServerResponse> routes() {
        return RouterFunctions.route()
                .GET("/", request -> ServerResponse.ok().bodyValue("hello\n"))
                .GET("/slow", request -> Mono.delay(Duration.ofMillis(request.queryParam("ms")
                                .map(ms -> Math.min(60_000, Long.parseLong(ms))).orElse(0L)))
                        .flatMap(tick -> ServerResponse.ok().bodyValue("hello\n")))
                .build();
    }

    public static void main(String[] args) {
        SpringApplication.run(SpringWebFluxServer.class, args);
    }
}
