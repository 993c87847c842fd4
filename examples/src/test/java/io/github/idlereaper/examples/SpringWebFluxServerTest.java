package io.github.idlereaper.examples;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.idlereaper.IdleReaper;
import io.github.idlereaper.ReapReason;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * The Spring Boot WebFlux recipe of docs/integrations.md, started for real: a tiny application whose
 * {@code NettyServerCustomizer} bean adds the reaper's handler. A request longer than the read idle timeout is
 * answered, and the idle connection after it is reaped.
 */
class SpringWebFluxServerTest {

    private ConfigurableApplicationContext app;

    @AfterEach
    void stop() {
        if (app != null) {
            app.close();
        }
    }

    @Test
    void busyRequest_isAnswered_andTheIdleConnectionIsReapedAfterIt() throws Exception {
        app = new SpringApplicationBuilder(SpringWebFluxServer.class)
                .properties("server.address=127.0.0.1", "server.port=0", "spring.main.banner-mode=off",
                        "idle-reaper.read-idle=400ms")
                .run();
        IdleReaper reaper = app.getBean(IdleReaper.class);
        int port = app.getEnvironment().getRequiredProperty("local.server.port", Integer.class);
        try (HttpProbe c = new HttpProbe(new InetSocketAddress("127.0.0.1", port))) {
            long asked = System.nanoTime();
            assertEquals("200 hello", c.get("/slow?ms=1500"));
            assertTrue(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - asked) >= 1500);
            assertEquals(0, reaper.stats().reapedTotal(), "reaped in flight");
            c.awaitEnd();
        }
        await().until(() -> reaper.stats().reaped(ReapReason.READ_IDLE) == 1);
        assertEquals(1, reaper.stats().reapedTotal());
    }
}
