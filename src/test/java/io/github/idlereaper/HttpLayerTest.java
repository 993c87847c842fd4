package io.github.idlereaper;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.idlereaper.examples.HttpServer;
import io.netty.channel.Channel;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The HTTP layer on HTTP/1.1, on real loopback sockets, against the example server (which does nothing about
 * timeouts itself), with a hand-made client for the bytes real clients do not send. Timing checks are one-sided
 * where it matters (never early) and loose on the other side.
 */
class HttpLayerTest {

    static final Duration TICK = Duration.ofMillis(50);
    /** How late a close may be seen on a busy machine, beyond the reaper's own one-tick bound. */
    static final long SLACK_MS = 1_500;

    private HttpServer server;
    private final List<ReapEvent> reaps = new CopyOnWriteArrayList<>();
    private final List<Long> reapedAt = new CopyOnWriteArrayList<>();

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    private RawHttp start(UnaryOperator<IdleReaper.Builder> options) throws Exception {
        IdleReaper reaper = options.apply(IdleReaper.builder().tickResolution(TICK)
                .listener((Channel ch, ReapEvent e) -> {
                    reapedAt.add(System.nanoTime());
                    reaps.add(e);
                })).build();
        server = new HttpServer(reaper, 0);
        return new RawHttp(server.address());
    }

    private static long ms(long fromNanos, long toNanos) {
        return TimeUnit.NANOSECONDS.toMillis(toNanos - fromNanos);
    }

    @Test
    void keepAlive_reusedWithinTheTimeout_closedAfterIt_neverBefore() throws Exception {
        try (RawHttp c = start(b -> b.keepAliveTimeout(Duration.ofMillis(600)))) {
            for (int i = 0; i < 4; i++) {
                c.send(RawHttp.get("/"));
                RawHttp.Response r = c.read();
                assertEquals(200, r.status, r::toString);
                await().pollDelay(Duration.ofMillis(300)).until(() -> true); // a gap of half the timeout
            }
            assertTrue(reaps.isEmpty(), () -> "reaped while reused: " + reaps);
            c.send(RawHttp.get("/"));
            long answered = c.read().readAt;
            long end = c.awaitEnd();
            assertTrue(ms(answered, end) >= 600 - TICK.toMillis(), () -> "closed early: " + ms(answered, end));
            assertTrue(ms(answered, end) <= 600 + TICK.toMillis() + SLACK_MS, () -> "late: " + ms(answered, end));
        }
        await().until(() -> reaps.size() == 1);
        ReapEvent e = reaps.get(0);
        assertEquals(ReapReason.KEEPALIVE_TIMEOUT, e.reason());
        assertTrue(e.idleFor().compareTo(e.limit()) >= 0, e::toString);
    }

    @Test
    void slowloris_headersTrickled_isAnswered408AndClosedAtTheHeaderTimeout_notBefore() throws Exception {
        try (RawHttp c = start(b -> b.requestHeaderTimeout(Duration.ofMillis(800))
                .keepAliveTimeout(Duration.ofSeconds(30)))) {
            c.send(RawHttp.get("/"));
            assertEquals(200, c.read().status);
            long first = System.nanoTime();
            c.send("GET / HTTP/1.1\r\nHost: test\r\n");
            // One header byte every 100 ms: never the end of the headers.
            c.socket.setSoTimeout(100);
            RawHttp.Response r = null;
            for (int i = 0; i < 60 && r == null; i++) {
                try {
                    c.send("X");
                    r = c.read();
                } catch (java.net.SocketTimeoutException stillWaiting) {
                    // go on trickling
                } catch (java.io.IOException reset) {
                    break;
                }
            }
            c.socket.setSoTimeout(15_000);
            assertNotNull(r, "no 408 came");
            assertEquals(408, r.status, r::toString);
            assertEquals("close", r.header("connection"));
            long answered = r.readAt;
            assertTrue(ms(first, answered) >= 800, () -> "408 early: " + ms(first, answered));
            assertTrue(ms(first, answered) <= 800 + TICK.toMillis() + SLACK_MS, () -> "408 late: " + ms(first, answered));
            c.awaitEnd();
        }
        await().until(() -> reaps.size() == 1);
        assertEquals(ReapReason.REQUEST_HEADER_TIMEOUT, reaps.get(0).reason());
    }

    @Test
    void firstRequest_nothingSent_isClosedWithoutAResponseAtTheHeaderTimeout() throws Exception {
        long open = System.nanoTime();
        try (RawHttp c = start(b -> b.requestHeaderTimeout(Duration.ofMillis(500))
                .keepAliveTimeout(Duration.ofSeconds(30)))) {
            long end = c.awaitEnd(); // fails if any byte (a 408) comes
            assertTrue(ms(open, end) >= 500 - TICK.toMillis(), () -> "early: " + ms(open, end));
        }
        await().until(() -> reaps.size() == 1);
        assertEquals(ReapReason.REQUEST_HEADER_TIMEOUT, reaps.get(0).reason());
    }

    @Test
    void slowRequest_isNotReapedByReadIdleWhileInFlight_withoutMarkBusy() throws Exception {
        try (RawHttp c = start(b -> b.http().readIdleTimeout(Duration.ofMillis(400)))) {
            c.send(RawHttp.get("/slow?ms=1500"));
            RawHttp.Response r = c.read();
            assertEquals(200, r.status, r::toString);
            assertEquals("hello", r.body.trim());
            assertTrue(reaps.isEmpty(), () -> "reaped in flight: " + reaps);
            // Done: now the read idle timer runs again from the response.
            c.awaitEnd();
        }
        await().until(() -> reaps.size() == 1);
        assertEquals(ReapReason.READ_IDLE, reaps.get(0).reason());
    }

    @Test
    void pipelinedRequests_allCountAsInFlight() throws Exception {
        try (RawHttp c = start(b -> b.http().readIdleTimeout(Duration.ofMillis(300)))) {
            c.send(RawHttp.get("/slow?ms=700") + RawHttp.get("/slow?ms=700") + RawHttp.get("/"));
            for (int i = 0; i < 3; i++) {
                RawHttp.Response r = c.read();
                assertNotNull(r, "connection ended after " + i + " responses: " + reaps);
                assertEquals(200, r.status);
            }
            assertTrue(reaps.isEmpty(), () -> "reaped in flight: " + reaps);
        }
    }

    @Test
    void maxRequests_theLastResponseSaysCloseAndTheConnectionCloses() throws Exception {
        try (RawHttp c = start(b -> b.maxRequestsPerConnection(3))) {
            for (int i = 1; i <= 3; i++) {
                c.send(RawHttp.get("/"));
                RawHttp.Response r = c.read();
                assertEquals(200, r.status);
                assertEquals("hello", r.body.trim(), "a response cut");
                if (i < 3) {
                    assertNull(r.header("connection"), r::toString);
                } else {
                    assertEquals("close", r.header("connection"), r::toString);
                }
            }
            c.awaitEnd();
        }
        await().until(() -> reaps.size() == 1);
        ReapEvent e = reaps.get(0);
        assertEquals(ReapReason.MAX_REQUESTS, e.reason());
        assertEquals(3, e.count());
        assertEquals("served 3 requests, the most allowed (maxRequestsPerConnection 3)", e.message());
    }

    @Test
    void maxRequests_pipelinedPastTheLimit_theLastAllowedResponseIsWhole() throws Exception {
        try (RawHttp c = start(b -> b.maxRequestsPerConnection(2))) {
            c.send(RawHttp.get("/") + RawHttp.get("/") + RawHttp.get("/") + RawHttp.get("/"));
            assertEquals(200, c.read().status);
            RawHttp.Response last = c.read();
            assertEquals("close", last.header("connection"));
            assertEquals("hello", last.body.trim());
            assertNull(c.read(), "a response past the limit");
        }
        await().until(() -> reaps.size() == 1);
        assertEquals(ReapReason.MAX_REQUESTS, reaps.get(0).reason());
    }

    @Test
    void bodyThatStops_isAnswered408AtTheBodyTimeout() throws Exception {
        try (RawHttp c = start(b -> b.requestBodyTimeout(Duration.ofMillis(600)))) {
            long sent = System.nanoTime();
            c.send("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\n0123456789");
            RawHttp.Response r = c.read();
            assertEquals(408, r.status, r::toString);
            assertTrue(ms(sent, r.readAt) >= 600 - TICK.toMillis(), () -> "early: " + ms(sent, r.readAt));
            c.awaitEnd();
        }
        await().until(() -> reaps.size() == 1);
        assertEquals(ReapReason.REQUEST_BODY_TIMEOUT, reaps.get(0).reason());
    }

    @Test
    void bodyThatTrickles_keepsProgressing_andIsAnswered() throws Exception {
        try (RawHttp c = start(b -> b.requestBodyTimeout(Duration.ofMillis(600)).readIdleTimeout(
                Duration.ofMillis(400)))) {
            c.send("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n\r\n");
            for (int i = 0; i < 10; i++) {
                await().pollDelay(Duration.ofMillis(250)).until(() -> true);
                c.send(String.valueOf(i));
            }
            RawHttp.Response r = c.read();
            assertEquals(200, r.status, r::toString);
            assertEquals("0123456789", r.body);
            assertTrue(reaps.isEmpty(), () -> "reaped: " + reaps);
        }
    }

    @Test
    void expectContinue_theWaitCounts_andTheBodyClockStartsAgainAtTheContinue() throws Exception {
        try (RawHttp c = start(b -> b.requestBodyTimeout(Duration.ofMillis(600)))) {
            c.send("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
            RawHttp.Response cont = c.read();
            assertEquals(100, cont.status, cont::toString);
            // The client never sends the body it announced.
            RawHttp.Response r = c.read();
            assertEquals(408, r.status, r::toString);
            assertTrue(ms(cont.readAt, r.readAt) >= 600 - TICK.toMillis(), () -> "early: " + ms(cont.readAt,
                    r.readAt));
            c.awaitEnd();
        }
        await().until(() -> reaps.size() == 1);
        assertEquals(ReapReason.REQUEST_BODY_TIMEOUT, reaps.get(0).reason());
    }

    @Test
    void closeRace_aRequestAtTheKeepAliveDeadline_getsAWholeResponseOrNone() throws Exception {
        long seed = System.nanoTime();
        System.out.println("closeRace seed " + seed);
        java.util.Random random = new java.util.Random(seed);
        int whole = 0;
        int none = 0;
        start(b -> b.keepAliveTimeout(Duration.ofMillis(200))).close();
        for (int i = 0; i < 24; i++) {
            try (RawHttp c = new RawHttp(server.address())) {
                c.send(RawHttp.get("/"));
                assertEquals(200, c.read().status);
                // The next request leaves within a tick either side of the keep-alive deadline.
                long gap = 200 - TICK.toMillis() + random.nextInt((int) (2 * TICK.toMillis()) + 1);
                await().pollDelay(Duration.ofMillis(gap)).until(() -> true);
                RawHttp.Response r;
                try {
                    c.send(RawHttp.get("/"));
                    r = c.read();
                } catch (java.net.SocketException resetBeforeAnyByte) {
                    r = null; // RawHttp.read throws "cut" or "ended inside a line" as plain IOExceptions
                }
                if (r == null) {
                    none++;
                } else {
                    assertEquals(200, r.status, r::toString);
                    assertEquals("hello", r.body.trim(), "a response cut (seed " + seed + ")");
                    whole++;
                }
            }
        }
        System.out.println("closeRace: " + whole + " whole responses, " + none + " closed before any byte");
        assertEquals(24, whole + none);
    }

    @Test
    void httpOnAPipelineWithoutAnHttpCodec_stopsItsTimersThere_andSaysSoOnce() throws Exception {
        IdleReaper reaper = IdleReaper.builder().tickResolution(TICK).requestHeaderTimeout(Duration.ofMillis(300))
                .keepAliveTimeout(Duration.ofMillis(300)).listener((Channel ch, ReapEvent e) -> reaps.add(e)).build();
        io.netty.channel.EventLoopGroup group = HttpServer.nio(1);
        try {
            io.netty.bootstrap.ServerBootstrap b = new io.netty.bootstrap.ServerBootstrap().group(group)
                    .channel(io.netty.channel.socket.nio.NioServerSocketChannel.class)
                    .childHandler(new io.netty.channel.ChannelInboundHandlerAdapter() {
                        @Override
                        public void channelRead(io.netty.channel.ChannelHandlerContext ctx, Object msg) {
                            ctx.writeAndFlush(msg); // an echo server, not HTTP
                        }

                        @Override
                        public boolean isSharable() {
                            return true;
                        }
                    });
            reaper.install(b);
            Channel server = b.bind("127.0.0.1", 0).sync().channel();
            try (java.net.Socket s = new java.net.Socket()) {
                s.connect(server.localAddress(), 5_000);
                s.getOutputStream().write("hello\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                assertEquals('h', s.getInputStream().read());
                // Well past the HTTP deadlines: an echo connection is not an HTTP request that stalled.
                await().pollDelay(Duration.ofMillis(1_000)).until(() -> true);
                assertTrue(reaps.isEmpty(), () -> "reaped by HTTP timers on a non-HTTP pipeline: " + reaps);
            }
            server.close().sync();
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }
}
