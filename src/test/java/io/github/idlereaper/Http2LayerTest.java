package io.github.idlereaper;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.idlereaper.examples.HttpServer;
import io.netty.channel.Channel;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.io.InputStream;
import java.net.Socket;
import java.security.KeyStore;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The HTTP layer on HTTP/2: h2c by prior knowledge and by upgrade, and h2 over TLS chosen by ALPN, against the
 * example server, with a hand-made client that shows every frame and when it came.
 */
class Http2LayerTest {

    static final Duration TICK = HttpLayerTest.TICK;
    static final long SLACK_MS = HttpLayerTest.SLACK_MS;

    private HttpServer server;
    private final List<ReapEvent> reaps = new CopyOnWriteArrayList<>();

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    private Socket start(UnaryOperator<IdleReaper.Builder> options, SslContext ssl) throws Exception {
        IdleReaper reaper = options.apply(IdleReaper.builder().tickResolution(TICK)
                .listener((Channel ch, ReapEvent e) -> reaps.add(e))).build();
        server = new HttpServer(reaper, 0, ssl, HttpServer.nio(1), io.netty.channel.socket.nio.NioServerSocketChannel.class);
        if (ssl == null) {
            Socket s = new Socket();
            s.setTcpNoDelay(true);
            s.connect(server.address(), 5_000);
            return s;
        }
        SSLSocket s = (SSLSocket) clientTls().getSocketFactory().createSocket("127.0.0.1", server.address().getPort());
        SSLParameters p = s.getSSLParameters();
        p.setApplicationProtocols(new String[] {"h2"});
        s.setSSLParameters(p);
        s.startHandshake();
        assertEquals("h2", s.getApplicationProtocol());
        return s;
    }

    private static long ms(long fromNanos, long toNanos) {
        return TimeUnit.NANOSECONDS.toMillis(toNanos - fromNanos);
    }

    @Test
    void priorKnowledge_idleConnection_getsGoAwayNoErrorAtTheKeepAliveTimeout_notBefore() throws Exception {
        long open = System.nanoTime();
        try (RawH2 c = new RawH2(start(b -> b.keepAliveTimeout(Duration.ofMillis(600)), null))) {
            RawH2.Frame goAway = c.until(RawH2.GOAWAY);
            assertTrue(ms(open, goAway.readAt) >= 600 - TICK.toMillis(), () -> "early: " + ms(open, goAway.readAt));
            assertTrue(ms(open, goAway.readAt) <= 600 + TICK.toMillis() + SLACK_MS);
            assertEquals(0, goAway.errorCode());
            assertNull(c.next(), "the connection should end after the GOAWAY");
        }
        await().until(() -> reaps.size() == 1);
        assertEquals(ReapReason.KEEPALIVE_TIMEOUT, reaps.get(0).reason());
    }

    @Test
    void pingsAreNotActivity_theIdleConnectionStillGetsItsGoAway() throws Exception {
        long open = System.nanoTime();
        try (RawH2 c = new RawH2(start(b -> b.keepAliveTimeout(Duration.ofMillis(600)), null))) {
            RawH2.Frame f = null;
            c.socket.setSoTimeout(100);
            for (int i = 0; i < 40 && f == null; i++) {
                c.ping(i);
                try {
                    f = c.next();
                } catch (java.net.SocketTimeoutException quiet) {
                    // ping again
                }
            }
            assertTrue(f != null && f.type == RawH2.GOAWAY, "no GOAWAY while pinging: " + f);
            long at = f.readAt;
            assertTrue(ms(open, at) <= 600 + TICK.toMillis() + SLACK_MS, () -> "late: " + ms(open, at));
        }
    }

    @Test
    void openStream_isBusyWhileByteSilent_andTheKeepAliveCountsFromItsEnd() throws Exception {
        try (RawH2 c = new RawH2(start(b -> b.keepAliveTimeout(Duration.ofMillis(400))
                .readIdleTimeout(Duration.ofMillis(700)), null))) {
            c.get(1, "/slow?ms=1500");
            RawH2.Frame f = c.next();
            assertEquals(RawH2.HEADERS, f.type, f::toString);
            RawH2.Frame data = c.next();
            assertTrue(data.endStream(), data::toString);
            assertTrue(reaps.isEmpty(), () -> "reaped while a stream was open: " + reaps);
            RawH2.Frame goAway = c.until(RawH2.GOAWAY);
            assertTrue(ms(data.readAt, goAway.readAt) >= 400 - TICK.toMillis());
            assertEquals(1, goAway.lastStreamId());
        }
        await().until(() -> reaps.size() == 1);
        assertEquals(ReapReason.KEEPALIVE_TIMEOUT, reaps.get(0).reason());
    }

    @Test
    void maxRequests_goAwayWithTheLastStream_whichStillCompletes_thenClose() throws Exception {
        try (RawH2 c = new RawH2(start(b -> b.maxRequestsPerConnection(2), null))) {
            c.get(1, "/");
            assertEquals(RawH2.HEADERS, c.next().type);
            assertTrue(c.next().endStream());
            c.get(3, "/slow?ms=500");
            RawH2.Frame goAway = c.next();
            assertEquals(RawH2.GOAWAY, goAway.type, goAway::toString);
            assertEquals(3, goAway.lastStreamId());
            assertEquals(0, goAway.errorCode());
            RawH2.Frame headers = c.next();
            assertEquals(RawH2.HEADERS, headers.type, headers::toString);
            assertEquals(3, headers.stream);
            assertTrue(c.next().endStream(), "the last stream should complete");
            assertNull(c.next(), "the connection should end once its streams are done");
        }
        await().until(() -> reaps.size() == 1);
        assertEquals(ReapReason.MAX_REQUESTS, reaps.get(0).reason());
    }

    @Test
    void h2cUpgrade_theUpgradedStreamIsServed_thenTheKeepAliveGoAway() throws Exception {
        try (RawH2 c = new RawH2(start(b -> b.keepAliveTimeout(Duration.ofMillis(500)), null), false)) {
            String head = c.upgrade("/slow?ms=700");
            assertTrue(head.startsWith("HTTP/1.1 101"), head);
            c.preface();
            RawH2.Frame f = c.next();
            assertEquals(RawH2.HEADERS, f.type, f::toString);
            assertEquals(1, f.stream);
            RawH2.Frame data = c.next();
            assertTrue(data.endStream());
            assertTrue(reaps.isEmpty(), () -> "reaped during the upgraded request: " + reaps);
            RawH2.Frame goAway = c.until(RawH2.GOAWAY);
            assertTrue(ms(data.readAt, goAway.readAt) >= 500 - TICK.toMillis());
        }
        await().until(() -> reaps.size() == 1);
        assertEquals(ReapReason.KEEPALIVE_TIMEOUT, reaps.get(0).reason());
    }

    @Test
    void tlsAlpnH2_isFollowedAfterTheHandshake() throws Exception {
        try (RawH2 c = new RawH2(start(b -> b.keepAliveTimeout(Duration.ofMillis(600)), serverTls()))) {
            c.get(1, "/slow?ms=900");
            assertEquals(RawH2.HEADERS, c.next().type);
            RawH2.Frame data = c.next();
            assertTrue(data.endStream());
            assertTrue(reaps.isEmpty(), () -> "reaped in flight: " + reaps);
            RawH2.Frame goAway = c.until(RawH2.GOAWAY);
            assertTrue(ms(data.readAt, goAway.readAt) >= 600 - TICK.toMillis());
            assertEquals(0, goAway.errorCode());
        }
        await().until(() -> reaps.size() == 1);
        assertEquals(ReapReason.KEEPALIVE_TIMEOUT, reaps.get(0).reason());
    }

    @Test
    void tlsAlpnHttp11_theCompanionMovesBehindTheCodec() throws Exception {
        SSLSocket s = null;
        IdleReaper reaper = IdleReaper.builder().tickResolution(TICK).http().readIdleTimeout(Duration.ofMillis(300))
                .listener((Channel ch, ReapEvent e) -> reaps.add(e)).build();
        server = new HttpServer(reaper, 0, serverTls(), HttpServer.nio(1),
                io.netty.channel.socket.nio.NioServerSocketChannel.class);
        s = (SSLSocket) clientTls().getSocketFactory().createSocket("127.0.0.1", server.address().getPort());
        SSLParameters p = s.getSSLParameters();
        p.setApplicationProtocols(new String[] {"http/1.1"});
        s.setSSLParameters(p);
        s.startHandshake();
        s.getOutputStream().write(RawHttp.get("/slow?ms=900").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        s.setSoTimeout(10_000);
        InputStream in = s.getInputStream();
        byte[] buf = new byte[12];
        int n = in.readNBytes(buf, 0, 12);
        assertEquals("HTTP/1.1 200", new String(buf, 0, n, java.nio.charset.StandardCharsets.US_ASCII),
                () -> "reaped in flight: " + reaps);
        s.close();
    }

    static final char[] PASSWORD = "changeit".toCharArray();

    static KeyStore keyStore() throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Http2LayerTest.class.getResourceAsStream("/http-test.p12")) {
            ks.load(in, PASSWORD);
        }
        return ks;
    }

    /** The test key (src/test/resources/http-test.p12, CN=localhost, self-signed), ALPN h2 and http/1.1. */
    static SslContext serverTls() throws Exception {
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(keyStore(), PASSWORD);
        return SslContextBuilder.forServer(kmf).sslProvider(SslProvider.JDK)
                .applicationProtocolConfig(new ApplicationProtocolConfig(ApplicationProtocolConfig.Protocol.ALPN,
                        ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                        ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
                        ApplicationProtocolNames.HTTP_2, ApplicationProtocolNames.HTTP_1_1))
                .build();
    }

    static SSLContext clientTls() throws Exception {
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(keyStore());
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        return ctx;
    }
}
