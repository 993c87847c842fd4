package io.github.idlereaper.examples;

import io.github.idlereaper.IdleReaper;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import reactor.core.publisher.Mono;
import reactor.netty.DisposableServer;
import reactor.netty.http.server.HttpServer;

/**
 * A Reactor Netty {@link HttpServer} with idle-reaper. Reactor Netty keeps its {@code ServerBootstrap} to itself, so
 * {@code install()} cannot reach it; {@link HttpServer#doOnChannelInit} is the first hook that sees each accepted
 * connection's pipeline, once Reactor Netty has put its HTTP codec in. The recipe is one line
 * ({@link #withReaper}): the reaper's handler first in that pipeline. The handler then places the HTTP layer behind
 * Reactor Netty's codec by itself, so a request in flight is never idle, whatever the handler does meanwhile.
 *
 * <p>Paths: {@code /} answers "hello"; {@code /slow?ms=N} answers after N ms (a request in flight, never reaped as
 * idle).
 *
 * <p>Run: {@code mvn -q -B test-compile exec:java -Dexec.classpathScope=test
 * -Dexec.mainClass=io.github.idlereaper.examples.ReactorNettyServer}, then for example
 * {@code curl -v http://127.0.0.1:8084/slow?ms=8000} (answered, though the read idle timeout is 5 s) and
 * {@code nc 127.0.0.1 8084} (closed after 5 s of silence).
 */
public final class ReactorNettyServer implements AutoCloseable {

    private final DisposableServer server;

    /** Listens on 127.0.0.1:{@code port} (0 for any free port) on Reactor Netty's own event loops. */
    public ReactorNettyServer(IdleReaper reaper, int port) {
        server = withReaper(HttpServer.create(), reaper)
                .host("127.0.0.1")
                .port(port)
                .route(routes -> routes
                        .get("/", (req, res) -> res.sendString(Mono.just("hello\n")))
                        .get("/slow", (req, res) -> res.sendString(
                                Mono.delay(Duration.ofMillis(delayOf(req.uri()))).map(tick -> "hello\n"))))
                .bindNow();
    }

    /**
     * The recipe: every connection of {@code server} gets the reaper's handler first in its pipeline. Nothing else is
     * needed; the HTTP layer ({@code http()}) and the heartbeat's watch come by themselves.
     */
    public static HttpServer withReaper(HttpServer server, IdleReaper reaper) {
        return server.doOnChannelInit((observer, channel, remoteAddress) ->
                channel.pipeline().addFirst(IdleReaper.HANDLER_NAME, reaper.newHandler()));
    }

    /** The HTTP layer on, a request may take as long as it takes; a connection with nothing to do goes after 5 s. */
    public static IdleReaper reaper() {
        return IdleReaper.builder()
                .http()                                        // requests in flight hold the idle timers off
                .readIdleTimeout(Duration.ofSeconds(5))
                .requestHeaderTimeout(Duration.ofSeconds(10))
                .build();
    }

    /** How long /slow?ms=N waits, at most 60 s. */
    static long delayOf(String uri) {
        List<String> ms = new QueryStringDecoder(uri).parameters().get("ms");
        return ms == null ? 0 : Math.min(60_000, Long.parseLong(ms.get(0)));
    }

    public InetSocketAddress address() {
        return (InetSocketAddress) server.address();
    }

    @Override
    public void close() {
        server.disposeNow();
    }

    public static void main(String[] args) {
        int port = args.length > 0 ? Integer.parseInt(args[0]) : 8084;
        ReactorNettyServer s = new ReactorNettyServer(reaper(), port);
        System.out.println("Reactor Netty with idle-reaper at http:/" + s.address() + "/ (and /slow?ms=N)");
        s.server.onDispose().block();
    }
}
