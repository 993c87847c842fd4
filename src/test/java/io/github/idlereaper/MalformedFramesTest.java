package io.github.idlereaper;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.idlereaper.protocol.Http2Heartbeat;
import io.github.idlereaper.protocol.MqttHeartbeat;
import io.github.idlereaper.protocol.WebSocketHeartbeat;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolHandler;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.mqtt.MqttDecoder;
import io.netty.handler.codec.mqtt.MqttEncoder;
import io.netty.util.ReferenceCountUtil;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Layer 4: malformed frames sent with a plain socket to servers that run Netty's MQTT, WebSocket and HTTP/2 codecs
 * with the matching heartbeat protocol installed ({@link MqttHeartbeat}, {@link WebSocketHeartbeat},
 * {@link Http2Heartbeat}), on NIO and epoll, with the leak detector at PARANOID. For every case: the connection
 * ends closed (by the codec, or by the reaper when the codec leaves it open), no exception raised by the reaper's
 * handlers reaches the end of the pipeline (the codecs' own exceptions may: Netty hands them to the host), nothing
 * leaks, and the same event loop then serves a good client. Random garbage comes from a logged seed
 * ({@code -Didlereaper.seed=N} repeats a run).
 */
class MalformedFramesTest {

    private static final Duration RES = Duration.ofMillis(100);
    private static final long SEED = Long.getLong("idlereaper.seed", System.nanoTime());

    static {
        System.out.println("MalformedFramesTest seed " + SEED + " (-Didlereaper.seed=N to repeat)");
    }

    private final List<EventLoopGroup> groups = new CopyOnWriteArrayList<>();
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final Map<Integer, Channel> accepted = new ConcurrentHashMap<>();
    /** What reached the end of a server pipeline through exceptionCaught. */
    private final List<Throwable> tail = new CopyOnWriteArrayList<>();
    private final List<ReapEvent> listened = new CopyOnWriteArrayList<>();

    @AfterEach
    void tearDown() throws IOException {
        for (Socket s : sockets) {
            s.close();
        }
        for (EventLoopGroup g : groups) {
            g.shutdownGracefully(0, 0, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
        }
    }

    // ---------------------------------------------------------------- rig

    /** Last in every server pipeline: records each exception that would reach Netty's tail. */
    @ChannelHandler.Sharable
    private final class TailRecorder extends ChannelInboundHandlerAdapter {
        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            tail.add(cause);
        }
    }

    /** A server on one event loop (it accepts and serves), with the host's codecs, then {@link TailRecorder}. */
    private InetSocketAddress serve(Transport t, IdleReaper reaper, Consumer<ChannelPipeline> host) {
        EventLoopGroup g = t.group(1);
        groups.add(g);
        TailRecorder recorder = new TailRecorder();
        ServerBootstrap b = new ServerBootstrap().group(g).channel(t.serverChannel())
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        accepted.put(((InetSocketAddress) ch.remoteAddress()).getPort(), ch);
                        host.accept(ch.pipeline());
                        ch.pipeline().addLast(recorder);
                    }
                });
        reaper.install(b);
        return (InetSocketAddress) b.bind("127.0.0.1", 0).syncUninterruptibly().channel().localAddress();
    }

    private Socket connect(InetSocketAddress to) throws IOException {
        Socket s = new Socket();
        sockets.add(s);
        s.setSoTimeout(15_000);
        s.connect(to, 5_000);
        return s;
    }

    private Channel serverSide(Socket s) {
        await().atMost(Duration.ofSeconds(10)).until(() -> accepted.containsKey(s.getLocalPort()));
        return accepted.get(s.getLocalPort());
    }

    /** Reads until the server's close (EOF or a reset); returns how many bytes came. */
    private static int drain(Socket s) throws IOException {
        InputStream in = s.getInputStream();
        byte[] buf = new byte[4096];
        int total = 0;
        try {
            for (int n; (n = in.read(buf)) != -1; ) {
                total += n;
            }
        } catch (SocketException reset) {
            // the server's close may come as a reset (unread bytes, or SO_LINGER 0)
        }
        return total;
    }

    /**
     * Sends {@code bad} on a connection {@code opening} has prepared, then waits for the server to close it, and
     * checks that nothing the reaper raised reached the tail.
     */
    private void sendAndExpectClose(InetSocketAddress addr, String name, Opening opening, byte[] bad)
            throws Exception {
        Socket s = connect(addr);
        opening.open(s);
        Channel server = serverSide(s);
        int before = tail.size();
        s.getOutputStream().write(bad);
        s.getOutputStream().flush();
        int got = drain(s);
        await().atMost(Duration.ofSeconds(5)).until(() -> !server.isOpen());
        List<Throwable> seen = new ArrayList<>(tail.subList(before, tail.size()));
        System.out.printf("%s: closed after %d bytes from the server; at the tail: %s; reaps so far: %d%n", name,
                got, seen, listened.size());
        for (Throwable e : seen) {
            assertFalse(raisedByReaper(e), name + ": the reaper's handlers raised " + stack(e));
        }
    }

    @FunctionalInterface
    private interface Opening {
        void open(Socket s) throws IOException;
    }

    /**
     * Whether {@code e}, or one of its causes, was thrown by idle-reaper's code: a frame of io.github.idlereaper
     * above the handler invocation that caught it (frames below it are the pipeline that called the codec).
     */
    static boolean raisedByReaper(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            for (StackTraceElement f : t.getStackTrace()) {
                if (f.getClassName().startsWith("io.netty.channel.AbstractChannelHandlerContext")) {
                    break;
                }
                if (f.getClassName().startsWith("io.github.idlereaper.")) {
                    return true;
                }
            }
        }
        return false;
    }

    private static String stack(Throwable e) {
        java.io.StringWriter w = new java.io.StringWriter();
        e.printStackTrace(new java.io.PrintWriter(w));
        return w.toString();
    }

    /** Runs {@code body} with System.err also copied to a buffer; returns what was written. */
    private static String capturingStderr(Body body) throws Exception {
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        PrintStream err = System.err;
        System.setErr(new PrintStream(new OutputStream() {
            @Override
            public void write(int b) {
                synchronized (captured) {
                    captured.write(b);
                }
                err.write(b);
            }

            @Override
            public void write(byte[] b, int off, int len) {
                synchronized (captured) {
                    captured.write(b, off, len);
                }
                err.write(b, off, len);
            }
        }, true, StandardCharsets.UTF_8));
        try {
            body.run();
        } finally {
            System.setErr(err);
        }
        synchronized (captured) {
            return captured.toString(StandardCharsets.UTF_8);
        }
    }

    @FunctionalInterface
    private interface Body {
        void run() throws Exception;
    }

    /** The reaper's own complaints that would mean a fault escaped into it. */
    private static void assertReaperQuiet(String log) {
        for (String bad : List.of("wheel entry failed", "threw from", "could not tell why")) {
            assertFalse(log.contains(bad), "the reaper logged '" + bad + "':\n" + log);
        }
    }

    private static byte[] random(Random r, int n) {
        byte[] b = new byte[n];
        r.nextBytes(b);
        return b;
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    private static byte[] bytes(int... v) {
        byte[] b = new byte[v.length];
        for (int i = 0; i < v.length; i++) {
            b[i] = (byte) v[i];
        }
        return b;
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    // ---------------------------------------------------------------- MQTT

    /** MQTT 3.1.1 CONNECT, client id "c1", clean session, the given keep-alive in seconds. */
    private static byte[] mqtt311Connect(int keepAlive) {
        return bytes(0x10, 14, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, keepAlive >>> 8, keepAlive & 0xff, 0, 2, 'c', '1');
    }

    private InetSocketAddress mqttServer(Transport t) {
        IdleReaper reaper = IdleReaper.builder().tickResolution(RES).readIdleTimeout(Duration.ofSeconds(1))
                .heartbeat(Duration.ZERO, Duration.ZERO, 1, MqttHeartbeat.INSTANCE)
                .listener((c, e) -> listened.add(e)).build();
        return serve(t, reaper, p -> p.addLast("decoder", new MqttDecoder()).addLast("encoder", MqttEncoder.INSTANCE)
                .addLast(new FaultInjectionTest.Broker()));
    }

    private void assertGoodMqttClient(InetSocketAddress addr) throws IOException {
        Socket good = connect(addr);
        good.getOutputStream().write(mqtt311Connect(30));
        assertEquals(0x20, good.getInputStream().read(), "CONNACK");
        good.close();
    }

    /**
     * Bad remaining lengths, a bad protocol level, a truncated CONNECT and garbage: MqttDecoder reports an invalid
     * message and discards the rest, so the reaper's read idle timeout closes the connection; then a good client
     * gets its CONNACK.
     */
    @ParameterizedTest
    @EnumSource(Transport.class)
    void mqtt_malformedConnect_closedByTheReaper_noReaperException_loopServesAGoodClient(Transport t)
            throws Exception {
        InetSocketAddress addr = mqttServer(t);
        Random r = new Random(SEED);
        Map<String, byte[]> cases = new LinkedHashMap<>();
        cases.put("remaining length of five bytes", bytes(0x10, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 4, 'M'));
        cases.put("remaining length of 256 MiB", bytes(0x10, 0xff, 0xff, 0xff, 0x7f, 0, 4, 'M', 'Q', 'T', 'T'));
        cases.put("remaining length shorter than the CONNECT",
                concat(bytes(0x10, 4), Arrays.copyOfRange(mqtt311Connect(60), 2, 16)));
        cases.put("remaining length longer than sent (truncated)",
                concat(bytes(0x10, 100), Arrays.copyOfRange(mqtt311Connect(60), 2, 16)));
        cases.put("protocol level 9", bytes(0x10, 14, 0, 4, 'M', 'Q', 'T', 'T', 9, 0x02, 0, 60, 0, 2, 'c', '1'));
        cases.put("protocol name 'MQTX'", bytes(0x10, 14, 0, 4, 'M', 'Q', 'T', 'X', 4, 0x02, 0, 60, 0, 2, 'c', '1'));
        cases.put("MQTT 5 properties longer than the packet",
                bytes(0x10, 15, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x02, 0, 60, 0x7f, 0, 2, 'c', '1'));
        cases.put("reserved packet type 0", bytes(0x00, 2, 0, 0));
        cases.put("random garbage", concat(bytes(0x10), random(r, 64)));
        String log = capturingStderr(() -> {
            for (Map.Entry<String, byte[]> c : cases.entrySet()) {
                sendAndExpectClose(addr, t + " mqtt " + c.getKey(), s -> { }, c.getValue());
                assertGoodMqttClient(addr);
            }
        });
        assertReaperQuiet(log);
    }

    /**
     * Keep-alive values at the edges, in an otherwise valid CONNECT: 65535 s (the largest) becomes a read idle
     * timeout of 98,302.5 s, 1 s becomes 1.5 s and reaps; neither throws.
     */
    @ParameterizedTest
    @EnumSource(Transport.class)
    void mqtt_keepAliveAtTheEdges_isApplied_noReaperException(Transport t) throws Exception {
        InetSocketAddress addr = mqttServer(t);
        String log = capturingStderr(() -> {
            Socket huge = connect(addr);
            huge.getOutputStream().write(mqtt311Connect(0xffff));
            assertEquals(0x20, huge.getInputStream().read(), "CONNACK");
            Channel hugeSeen = serverSide(huge);
            await().atMost(Duration.ofSeconds(5)).until(() -> IdleReaper.channelTimeouts(hugeSeen).readIdle()
                    .equals(Duration.ofMillis(65_535L * 1_500)));
            huge.close();
            await().atMost(Duration.ofSeconds(5)).until(() -> !hugeSeen.isOpen());
            Socket one = connect(addr);
            long from = System.nanoTime();
            one.getOutputStream().write(mqtt311Connect(1));
            drain(one);
            long afterMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - from);
            assertTrue(afterMs >= 1_500, "reaped after " + afterMs + " ms, not before 1.5 keep-alives");
            assertEquals(Duration.ofMillis(1_500), listened.get(listened.size() - 1).limit());
            assertGoodMqttClient(addr);
        });
        assertEquals(List.of(), tail);
        assertReaperQuiet(log);
    }

    /**
     * A keep-alive the channel cannot take: 1 s asks for a read idle timeout of 1.5 s, shorter than the
     * heartbeat's bound (interval + timeout × maxMissed, 3 s here), which {@link IdleReaper#overrideTimeouts}
     * refuses. The CONNECT still reaches the broker (CONNACK), the channel keeps the reaper's timeouts, one WARN
     * says so, and nothing reaches the tail.
     */
    @ParameterizedTest
    @EnumSource(Transport.class)
    void mqtt_keepAliveShorterThanTheHeartbeatsBound_connectStillServed_timeoutsKept_noException(Transport t)
            throws Exception {
        IdleReaper reaper = IdleReaper.builder().tickResolution(RES).readIdleTimeout(Duration.ofSeconds(10))
                .heartbeat(Duration.ofSeconds(2), Duration.ofSeconds(1), 1, MqttHeartbeat.INSTANCE)
                .listener((c, e) -> listened.add(e)).build();
        InetSocketAddress addr = serve(t, reaper, p -> p.addLast("decoder", new MqttDecoder())
                .addLast("encoder", MqttEncoder.INSTANCE).addLast(new FaultInjectionTest.Broker()));
        String log = capturingStderr(() -> {
            Socket one = connect(addr);
            one.getOutputStream().write(mqtt311Connect(1));
            assertEquals(0x20, one.getInputStream().read(), "CONNACK: the CONNECT reached the broker");
            Channel seen = serverSide(one);
            assertEquals(Duration.ofSeconds(10), IdleReaper.channelTimeouts(seen).readIdle());
            assertGoodMqttClient(addr);
        });
        assertEquals(List.of(), tail);
        assertEquals(1, log.split("MQTT keep-alive of 1 s", -1).length - 1, log);
        assertReaperQuiet(log);
    }

    // ---------------------------------------------------------------- WebSocket

    private InetSocketAddress wsServer(Transport t) {
        IdleReaper reaper = IdleReaper.builder().tickResolution(RES).readIdleTimeout(Duration.ofSeconds(2))
                .heartbeat(Duration.ofMillis(500), Duration.ofMillis(200), 2, WebSocketHeartbeat.INSTANCE)
                .listener((c, e) -> listened.add(e)).build();
        return serve(t, reaper, p -> p.addLast(new HttpServerCodec(), new HttpObjectAggregator(65536),
                new WebSocketServerProtocolHandler("/ws"), new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        if (msg instanceof TextWebSocketFrame) {
                            ctx.writeAndFlush(new TextWebSocketFrame(((TextWebSocketFrame) msg).text()));
                        }
                        ReferenceCountUtil.release(msg);
                    }
                }));
    }

    /** The client's half of the opening handshake; fails unless the answer is 101. */
    private static void wsHandshake(Socket s) throws IOException {
        s.getOutputStream().write(ascii("GET /ws HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\n"
                + "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                + "Sec-WebSocket-Version: 13\r\n\r\n"));
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        InputStream in = s.getInputStream();
        while (!head.toString(StandardCharsets.US_ASCII).endsWith("\r\n\r\n")) {
            int c = in.read();
            if (c == -1) {
                throw new IOException("closed in the handshake: " + head);
            }
            head.write(c);
        }
        assertTrue(head.toString(StandardCharsets.US_ASCII).startsWith("HTTP/1.1 101"), head.toString());
    }

    private void assertGoodWebSocketClient(InetSocketAddress addr) throws IOException {
        Socket good = connect(addr);
        wsHandshake(good);
        good.getOutputStream().write(bytes(0x81, 0x82, 0, 0, 0, 0, 'h', 'i')); // masked (with zeros) "hi"
        byte[] echo = good.getInputStream().readNBytes(4);
        assertEquals(Arrays.toString(bytes(0x81, 2, 'h', 'i')), Arrays.toString(echo));
        good.close();
    }

    /**
     * Reserved opcodes, reserved bits, unmasked, oversized and fragmented control frames, bad lengths, a
     * continuation with nothing to continue, garbage, and a frame header cut short (left open by the codec: the
     * heartbeat's pings go unanswered and the reaper closes it). Then a good client gets its echo.
     */
    @ParameterizedTest
    @EnumSource(Transport.class)
    void webSocket_malformedFrames_connectionClosed_noReaperException_loopServesAGoodClient(Transport t)
            throws Exception {
        InetSocketAddress addr = wsServer(t);
        Random r = new Random(SEED + 1);
        int[] mask = {0x11, 0x22, 0x33, 0x44};
        Map<String, byte[]> cases = new LinkedHashMap<>();
        cases.put("reserved data opcode 0x3", bytes(0x83, 0x80, mask[0], mask[1], mask[2], mask[3]));
        cases.put("reserved control opcode 0xB", bytes(0x8b, 0x80, mask[0], mask[1], mask[2], mask[3]));
        cases.put("RSV1 without an extension", bytes(0xc1, 0x80, mask[0], mask[1], mask[2], mask[3]));
        cases.put("unmasked client frame", bytes(0x81, 0x02, 'h', 'i'));
        cases.put("ping of 126 bytes", concat(bytes(0x89, 0xfe, 0x00, 0x7e, 0, 0, 0, 0), new byte[126]));
        cases.put("fragmented ping", bytes(0x09, 0x80, mask[0], mask[1], mask[2], mask[3]));
        cases.put("continuation without a start", bytes(0x80, 0x80, mask[0], mask[1], mask[2], mask[3]));
        cases.put("64-bit length with the top bit set",
                bytes(0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, mask[0], mask[1], mask[2], mask[3]));
        cases.put("1 MiB frame over the 64 KiB limit",
                bytes(0x82, 0xff, 0, 0, 0, 0, 0, 0x10, 0, 0, mask[0], mask[1], mask[2], mask[3]));
        cases.put("16-bit length below 126", bytes(0x82, 0xfe, 0x00, 0x05, 0, 0, 0, 0, 1, 2, 3, 4, 5));
        cases.put("close with a 1-byte payload", bytes(0x88, 0x81, 0, 0, 0, 0, 0x03));
        cases.put("random garbage", random(r, 64));
        cases.put("a frame header cut short, then silence", bytes(0x82));
        String log = capturingStderr(() -> {
            for (Map.Entry<String, byte[]> c : cases.entrySet()) {
                sendAndExpectClose(addr, t + " websocket " + c.getKey(), MalformedFramesTest::wsHandshake,
                        c.getValue());
                assertGoodWebSocketClient(addr);
            }
        });
        assertReaperQuiet(log);
    }

    // ---------------------------------------------------------------- HTTP/2

    private InetSocketAddress h2Server(Transport t) {
        IdleReaper reaper = IdleReaper.builder().tickResolution(RES).readIdleTimeout(Duration.ofSeconds(2))
                .heartbeat(Duration.ofMillis(500), Duration.ofMillis(200), 2, Http2Heartbeat.INSTANCE)
                .listener((c, e) -> listened.add(e)).build();
        return serve(t, reaper, p -> p.addLast(Http2FrameCodecBuilder.forServer().build(),
                new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        if (msg instanceof Http2HeadersFrame && ((Http2HeadersFrame) msg).isEndStream()) {
                            ctx.writeAndFlush(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status("200"),
                                    true).stream(((Http2HeadersFrame) msg).stream()));
                        }
                        ReferenceCountUtil.release(msg);
                    }
                }));
    }

    private void assertGoodH2Client(InetSocketAddress addr) throws IOException {
        Socket good = connect(addr);
        try (RawH2 h2 = new RawH2(good)) {
            h2.get(1, "/");
            RawH2.Frame f = h2.until(RawH2.HEADERS);
            assertTrue(f.endStream(), f.toString());
        }
    }

    private static byte[] frame(int type, int flags, int stream, byte[] payload) {
        return concat(bytes(payload.length >>> 16, payload.length >>> 8, payload.length, type, flags,
                stream >>> 24, stream >>> 16, stream >>> 8, stream), payload);
    }

    /** The client preface and an empty SETTINGS. */
    private static void h2Preface(Socket s) throws IOException {
        s.getOutputStream().write(concat(ascii("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), frame(4, 0, 0, new byte[0])));
    }

    /**
     * Garbage instead of the preface (an HTTP/1.1 request, random bytes, a preface cut short then silence), and
     * after it (random bytes, frames of bad sizes, HEADERS on stream 0, a zero WINDOW_UPDATE, a frame over
     * SETTINGS_MAX_FRAME_SIZE). Then a good client gets its response.
     */
    @ParameterizedTest
    @EnumSource(Transport.class)
    void http2_garbageInsteadOfAndAfterThePreface_connectionClosed_noReaperException_loopServesAGoodClient(
            Transport t) throws Exception {
        InetSocketAddress addr = h2Server(t);
        Random r = new Random(SEED + 2);
        byte[] garbage = random(r, 64);
        garbage[0] = 'X'; // never the preface's first byte
        Opening none = s -> { };
        Map<String, Opening> openings = new LinkedHashMap<>();
        Map<String, byte[]> cases = new LinkedHashMap<>();
        openings.put("instead of the preface: an HTTP/1.1 request", none);
        cases.put("instead of the preface: an HTTP/1.1 request", ascii("GET / HTTP/1.1\r\nHost: test\r\n\r\n"));
        openings.put("instead of the preface: random garbage", none);
        cases.put("instead of the preface: random garbage", garbage);
        openings.put("a preface cut short, then silence", none);
        cases.put("a preface cut short, then silence", ascii("PRI * HTTP/2.0\r\n"));
        openings.put("after the preface: random garbage", MalformedFramesTest::h2Preface);
        cases.put("after the preface: random garbage", random(r, 64));
        openings.put("after the preface: PING of 7 bytes", MalformedFramesTest::h2Preface);
        cases.put("after the preface: PING of 7 bytes", frame(6, 0, 0, new byte[7]));
        openings.put("after the preface: SETTINGS of 5 bytes", MalformedFramesTest::h2Preface);
        cases.put("after the preface: SETTINGS of 5 bytes", frame(4, 0, 0, new byte[5]));
        openings.put("after the preface: HEADERS on stream 0", MalformedFramesTest::h2Preface);
        cases.put("after the preface: HEADERS on stream 0", frame(1, 5, 0, bytes(0x82)));
        openings.put("after the preface: WINDOW_UPDATE of 0", MalformedFramesTest::h2Preface);
        cases.put("after the preface: WINDOW_UPDATE of 0", frame(8, 0, 0, new byte[4]));
        openings.put("after the preface: a 16 MiB frame header", MalformedFramesTest::h2Preface);
        cases.put("after the preface: a 16 MiB frame header", bytes(0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 1));
        String log = capturingStderr(() -> {
            for (Map.Entry<String, byte[]> c : cases.entrySet()) {
                sendAndExpectClose(addr, t + " http2 " + c.getKey(), openings.get(c.getKey()), c.getValue());
                assertGoodH2Client(addr);
            }
        });
        assertReaperQuiet(log);
    }
}
