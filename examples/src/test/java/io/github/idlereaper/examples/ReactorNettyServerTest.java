package io.github.idlereaper.examples;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.idlereaper.IdleReaper;
import io.github.idlereaper.ReapEvent;
import io.github.idlereaper.ReapReason;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The Reactor Netty recipe ({@link ReactorNettyServer#withReaper}: the reaper's handler first, through
 * {@code doOnChannelInit}) on a real Reactor Netty server on loopback: a request that takes longer than the read idle
 * timeout is answered, an idle keep-alive connection is reaped after it, and a connection that never sends a request
 * is closed at the header timeout, which only the HTTP layer placed behind Reactor Netty's codec knows about.
 */
class ReactorNettyServerTest {

    private static final Duration TICK = Duration.ofMillis(50);

    private final List<ReapEvent> reaps = new CopyOnWriteArrayList<>();
    private ReactorNettyServer server;

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    private ReactorNettyServer start(IdleReaper.Builder options) {
        server = new ReactorNettyServer(options.tickResolution(TICK).listener((ch, e) -> reaps.add(e)).build(), 0);
        return server;
    }

    private static long msSince(long nanos) {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - nanos);
    }

    @Test
    void busyRequest_longerThanTheIdleTimeout_isAnswered_andTheIdleConnectionIsReapedAfterIt() throws Exception {
        start(IdleReaper.builder().http().readIdleTimeout(Duration.ofMillis(400)));
        try (HttpProbe c = new HttpProbe(server.address())) {
            long asked = System.nanoTime();
            assertEquals("200 hello", c.get("/slow?ms=1500"));
            assertTrue(msSince(asked) >= 1500, () -> "answered too soon: " + msSince(asked));
            assertEquals(List.of(), reaps, "reaped in flight");
            long answered = System.nanoTime();
            c.awaitEnd();
            assertTrue(msSince(answered) >= 400 - TICK.toMillis(), () -> "closed early: " + msSince(answered));
        }
        await().until(() -> reaps.size() == 1);
        assertEquals(ReapReason.READ_IDLE, reaps.get(0).reason());
    }

    @Test
    void idleConnection_afterAQuickRequest_isReaped() throws Exception {
        start(IdleReaper.builder().http().readIdleTimeout(Duration.ofMillis(400)));
        try (HttpProbe c = new HttpProbe(server.address())) {
            assertEquals("200 hello", c.get("/"));
            assertEquals("200 hello", c.get("/")); // the same connection, kept alive
            c.awaitEnd();
        }
        await().until(() -> reaps.size() == 1);
        assertEquals(ReapReason.READ_IDLE, reaps.get(0).reason());
        assertEquals(Duration.ofMillis(400), reaps.get(0).limit());
    }

    @Test
    void connectionThatNeverSendsARequest_isClosedAtTheHeaderTimeout() throws Exception {
        start(IdleReaper.builder().requestHeaderTimeout(Duration.ofMillis(500))
                .keepAliveTimeout(Duration.ofSeconds(30)));
        long open = System.nanoTime();
        try (HttpProbe c = new HttpProbe(server.address())) {
            c.awaitEnd();
            assertTrue(msSince(open) >= 500 - TICK.toMillis(), () -> "early: " + msSince(open));
        }
        await().until(() -> reaps.size() == 1);
        assertEquals(ReapReason.REQUEST_HEADER_TIMEOUT, reaps.get(0).reason());
    }
}
