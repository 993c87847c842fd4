package io.github.idlereaper;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.idlereaper.protocol.Http2Heartbeat;
import io.github.idlereaper.protocol.LineHeartbeat;
import io.github.idlereaper.protocol.MqttHeartbeat;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.mqtt.MqttConnectReturnCode;
import io.netty.handler.codec.mqtt.MqttDecoder;
import io.netty.handler.codec.mqtt.MqttEncoder;
import io.netty.handler.codec.mqtt.MqttFixedHeader;
import io.netty.handler.codec.mqtt.MqttMessage;
import io.netty.handler.codec.mqtt.MqttMessageBuilders;
import io.netty.handler.codec.mqtt.MqttMessageType;
import io.netty.handler.codec.mqtt.MqttQoS;
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
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Layer 4: the reaper's promises under injected faults, on real loopback sockets (NIO and epoll) with Netty's leak
 * detector at PARANOID ({@link LeakCheckExtension}): an event loop blocked for 2 s, a listener and a host handler
 * that throw on every reap, an allocator that fails the goodbye's buffer, and a peer that resets in the middle of
 * its goodbye. Every server pipeline ends with {@link TailRecorder}, which records what would otherwise reach
 * Netty's tail ("An exceptionCaught() event was fired, and it reached at the tail of the pipeline").
 */
class FaultInjectionTest {

    private static final Duration RES = Duration.ofMillis(100);
    /** How late a close may be observed on a busy 2-core machine, beyond the documented bound. */
    private static final long SLACK_MS = 1_000;

    private final List<EventLoopGroup> groups = new CopyOnWriteArrayList<>();
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    /** Server channels by the client's port. */
    private final Map<Integer, Channel> accepted = new ConcurrentHashMap<>();
    /** Server channels by the client's port: when they closed (System.nanoTime()). */
    private final Map<Integer, Long> closedAt = new ConcurrentHashMap<>();
    /** What reached the end of a server pipeline through exceptionCaught. */
    private final List<Throwable> tail = new CopyOnWriteArrayList<>();
    private final List<ReapEvent> listened = new CopyOnWriteArrayList<>();
    private ScheduledExecutorService pacer;

    @AfterEach
    void tearDown() throws IOException {
        if (pacer != null) {
            pacer.shutdownNow();
        }
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

    /** A server on one event loop (it accepts and serves), with {@code host} then {@link TailRecorder}. */
    private InetSocketAddress serve(Transport t, IdleReaper reaper, ByteBufAllocator alloc,
            Consumer<ChannelPipeline> host) {
        EventLoopGroup g = t.group(1);
        groups.add(g);
        TailRecorder recorder = new TailRecorder();
        ServerBootstrap b = new ServerBootstrap().group(g).channel(t.serverChannel())
                .childOption(ChannelOption.SO_SNDBUF, 64 * 1024)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        int port = ((InetSocketAddress) ch.remoteAddress()).getPort();
                        accepted.put(port, ch);
                        ch.closeFuture().addListener(f -> closedAt.put(port, System.nanoTime()));
                        host.accept(ch.pipeline());
                        ch.pipeline().addLast(recorder);
                    }
                });
        if (alloc != null) {
            b.childOption(ChannelOption.ALLOCATOR, alloc);
        }
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

    /** Everything the server sends until its close (EOF, or a reset after some bytes). */
    private static String readToEnd(Socket s) throws IOException {
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        InputStream in = s.getInputStream();
        byte[] buf = new byte[4096];
        try {
            for (int n; (n = in.read(buf)) != -1; ) {
                got.write(buf, 0, n);
            }
        } catch (SocketException e) {
            got.write(("<" + e.getMessage() + ">").getBytes(StandardCharsets.US_ASCII));
        }
        return got.toString(StandardCharsets.US_ASCII);
    }

    /** Sends a line and reads its echo: the server's loop serves. */
    private static void assertEchoes(Socket s, String line) throws IOException {
        OutputStream out = s.getOutputStream();
        out.write((line + "\n").getBytes(StandardCharsets.US_ASCII));
        out.flush();
        byte[] want = (line + "\n").getBytes(StandardCharsets.US_ASCII);
        byte[] got = s.getInputStream().readNBytes(want.length);
        assertEquals(line + "\n", new String(got, StandardCharsets.US_ASCII));
    }

    /** Echoes what it reads. */
    @ChannelHandler.Sharable
    private static final class Echo extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ctx.writeAndFlush(msg);
        }
    }

    /** Holds the calling thread (here: an event loop) for {@code ms}, as a GC pause or a starved CPU would. */
    private static void hold(long ms) {
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
        while (System.nanoTime() < end) {
            LockSupport.parkNanos(end - System.nanoTime());
        }
    }

    /** System.err, also copied to a buffer, while {@code body} runs; returns what was written. */
    private static String capturingStderr(ThrowingRunnable body) throws Exception {
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        PrintStream err = System.err;
        PrintStream tee = new PrintStream(new OutputStream() {
            @Override
            public void write(int b) {
                captured.write(b);
                err.write(b);
            }

            @Override
            public void write(byte[] b, int off, int len) {
                captured.write(b, off, len);
                err.write(b, off, len);
            }
        }, true, StandardCharsets.UTF_8);
        System.setErr(tee);
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
    private interface ThrowingRunnable {
        void run() throws Exception;
    }

    private static int count(String log, String what) {
        return log.split(Pattern.quote(what), -1).length - 1;
    }

    private static long ms(long nanos) {
        return TimeUnit.NANOSECONDS.toMillis(nanos);
    }

    // ---------------------------------------------------------------- 1. a blocked event loop

    /**
     * Complements {@link LoopLagLoopbackTest} (one silent peer and one talker): several silent peers whose read idle
     * deadlines fall before, during and after a 2 s block of the server's only event loop, one of them accepted
     * while it is blocked. Each reap is measured against its limit twice: the {@link ReapEvent}'s idle time, and the
     * time from the client's connect (its last act) to the server's close. Never early; those due during the block
     * come after it ends, within one tick plus slack; the talker is kept.
     */
    @ParameterizedTest
    @EnumSource(Transport.class)
    void blockedEventLoop_deadlinesDuringTheBlock_reapedAfterItEnds_neverEarly_withinResumePlusTick(Transport t)
            throws Exception {
        Duration readIdle = Duration.ofSeconds(1);
        long blockMs = 2_000;
        Map<Integer, ReapEvent> events = new ConcurrentHashMap<>();
        IdleReaper reaper = IdleReaper.builder().readIdleTimeout(readIdle).tickResolution(RES)
                .listener((c, e) -> {
                    listened.add(e);
                    events.put(((InetSocketAddress) c.remoteAddress()).getPort(), e);
                }).build();
        AcceptingHost host = new AcceptingHost(new ConcurrentLinkedQueue<>());
        InetSocketAddress addr = serve(t, reaper, null, p -> p.addLast(host));
        pacer = Executors.newScheduledThreadPool(2);
        Map<String, Long> connectedAt = new ConcurrentHashMap<>();
        Map<String, Socket> peers = new ConcurrentHashMap<>();

        // Before the block: one silent peer, reaped on time.
        long preFrom = System.nanoTime();
        Socket pre = connect(addr);
        connectedAt.put("pre", preFrom);
        peers.put("pre", pre);
        // The talker sends a byte every 300 ms the whole time (read idle is 1 s): its bytes wait in the kernel
        // during the block.
        Socket talker = connect(addr);
        OutputStream talk = talker.getOutputStream();
        var talking = pacer.scheduleAtFixedRate(() -> {
            try {
                talk.write(1);
            } catch (IOException e) {
                // seen below: the talker's server side must stay open
            }
        }, 0, 300, TimeUnit.MILLISECONDS);
        Channel talkerSeen = serverSide(talker);
        Channel preSeen = serverSide(pre);
        await().atMost(Duration.ofSeconds(10)).until(() -> closedAt.containsKey(pre.getLocalPort()));

        // Three silent peers 200 ms apart, then a block of the loop from 550 ms to 2,550 ms: their deadlines
        // (1,000, 1,200 and 1,400 ms) all fall inside it. A fourth connects at 1,000 ms, while the loop is blocked:
        // it is accepted only after the block.
        AtomicLong heldFrom = new AtomicLong();
        AtomicLong heldTo = new AtomicLong();
        EventLoop loop = preSeen.eventLoop();
        String[] names = {"a", "b", "c", "late"};
        long[] offsets = {0, 200, 400, 1_000};
        List<Future<?>> connects = new ArrayList<>();
        for (int i = 0; i < names.length; i++) {
            String name = names[i];
            connects.add(pacer.schedule(() -> {
                long from = System.nanoTime();
                Socket s = connect(addr);
                connectedAt.put(name, from);
                peers.put(name, s);
                return s;
            }, offsets[i], TimeUnit.MILLISECONDS));
        }
        loop.schedule(() -> {
            heldFrom.set(System.nanoTime());
            hold(blockMs);
            heldTo.set(System.nanoTime());
        }, 550, TimeUnit.MILLISECONDS);
        for (Future<?> f : connects) {
            f.get(10, TimeUnit.SECONDS);
        }
        await().atMost(Duration.ofSeconds(15)).until(() -> closedAt.keySet().containsAll(
                List.of(peers.get("a").getLocalPort(), peers.get("b").getLocalPort(),
                        peers.get("c").getLocalPort(), peers.get("late").getLocalPort())));
        assertTrue(heldTo.get() != 0, "the block ended");

        for (String name : List.of("pre", "a", "b", "c", "late")) {
            int port = peers.get(name).getLocalPort();
            long from = connectedAt.get(name);
            long idleMs = ms(closedAt.get(port) - from);
            ReapEvent e = events.get(port);
            assertNotNull(e, name + " was reaped by the reaper");
            assertEquals(ReapReason.READ_IDLE, e.reason(), name);
            System.out.printf("%s %s: closed %d ms after its connect (event idle %d ms, limit %d ms); "
                    + "the block ran %d..%d ms after it%n", t, name, idleMs, e.idleFor().toMillis(),
                    e.limit().toMillis(), ms(heldFrom.get() - from), ms(heldTo.get() - from));
            // Never early, by the reaper's own measure and by the client's.
            assertTrue(e.idleFor().compareTo(e.limit()) >= 0, name + ": " + e.message());
            assertTrue(idleMs >= readIdle.toMillis(), name + " reaped early: " + idleMs + " ms");
            // Late by at most the later of its deadline and the block's end (or its accept after the block),
            // plus a tick, plus the machine's slack.
            long due = name.equals("pre") ? readIdle.toMillis()
                    : name.equals("late") ? ms(heldTo.get() - from) + readIdle.toMillis()
                    : Math.max(readIdle.toMillis(), ms(heldTo.get() - from));
            assertTrue(idleMs <= due + RES.toMillis() + SLACK_MS,
                    name + " reaped late: " + idleMs + " ms, due by " + due + " ms");
        }
        // The deadlines that fell inside the block were reaped after it, not at it.
        for (String name : List.of("a", "b", "c")) {
            long closed = closedAt.get(peers.get(name).getLocalPort());
            assertTrue(closed - heldTo.get() >= 0, name + " closed after the block ended");
        }
        talking.cancel(false);
        assertTrue(talkerSeen.isActive(), "the talker, whose bytes waited in the kernel, is kept");
        ReaperStats stats = reaper.stats();
        System.out.println(t + ": " + stats);
        assertEquals(5, stats.reaped(ReapReason.READ_IDLE), stats.toString());
        assertEquals(5, stats.reapedTotal(), stats.toString());
        assertEquals(5, listened.size(), listened.toString());
        assertTrue(stats.maxLoopLag().toMillis() >= blockMs - 2 * RES.toMillis(), stats.toString());
        // The three whose deadlines fell inside the block are counted as late (3 measured; more only if the
        // machine held the loop up again).
        assertTrue(stats.reapsAfterLoopLag() >= 3, stats.toString());
        assertEquals(List.of(), tail);
    }

    // ---------------------------------------------------------------- 2. a throwing listener and host handler

    /**
     * A {@link ReapListener} that throws on every reap, and a host handler that throws from
     * {@code userEventTriggered} on every {@link ReapEvent}: each silent peer still gets its goodbye and its
     * close, a peer in use on the same loop is unaffected, the stats count every reap, the listener's exception is
     * logged at WARN, and the host's goes where Netty sends a handler's exception (its own pipeline's
     * exceptionCaught, once per reap), never into the reaper's wheel.
     */
    @ParameterizedTest
    @EnumSource(Transport.class)
    void throwingListenerAndHostHandler_reapsStillSayGoodbyeAndClose_othersUnaffected_counted(Transport t)
            throws Exception {
        AtomicInteger listenerCalls = new AtomicInteger();
        AtomicInteger hostThrows = new AtomicInteger();
        IdleReaper reaper = IdleReaper.builder().readIdleTimeout(Duration.ofMillis(600)).tickResolution(RES)
                .heartbeat(Duration.ZERO, Duration.ZERO, 1,
                        LineHeartbeat.ofBytes("PING\n".getBytes(StandardCharsets.US_ASCII))
                                .withGoodbye("BYE " + LineHeartbeat.REASON + "\n"))
                .listener((c, e) -> {
                    listenerCalls.incrementAndGet();
                    throw new IllegalStateException("listener bug on " + e.reason());
                }).build();
        ChannelInboundHandlerAdapter throwsOnReap = new ChannelInboundHandlerAdapter() {
            @Override
            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                if (evt instanceof ReapEvent) {
                    hostThrows.incrementAndGet();
                    throw new IllegalStateException("host bug on " + ((ReapEvent) evt).reason());
                }
                ctx.fireUserEventTriggered(evt);
            }

            @Override
            public boolean isSharable() {
                return true;
            }
        };
        InetSocketAddress addr = serve(t, reaper, null, p -> p.addLast(throwsOnReap, new Echo()));
        List<String> said = new CopyOnWriteArrayList<>();
        String log = capturingStderr(() -> {
            Socket user = connect(addr);
            pacer = Executors.newSingleThreadScheduledExecutor();
            AtomicInteger echoes = new AtomicInteger();
            AtomicLong echoFailed = new AtomicLong();
            var using = pacer.scheduleAtFixedRate(() -> {
                try {
                    assertEchoes(user, "hello");
                    echoes.incrementAndGet();
                } catch (IOException | AssertionError e) {
                    echoFailed.incrementAndGet();
                }
            }, 0, 200, TimeUnit.MILLISECONDS);
            List<Socket> silent = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                silent.add(connect(addr));
            }
            for (Socket s : silent) {
                said.add(readToEnd(s));
            }
            int before = echoes.get();
            await().atMost(Duration.ofSeconds(5)).until(() -> echoes.get() >= before + 3);
            using.cancel(false);
            assertEquals(0, echoFailed.get(), "the peer in use was served throughout");
            assertTrue(serverSide(user).isActive(), "the peer in use is kept");
        });
        assertEquals(List.of("BYE read idle\n", "BYE read idle\n", "BYE read idle\n"), said);
        ReaperStats stats = reaper.stats();
        assertEquals(3, stats.reaped(ReapReason.READ_IDLE), stats.toString());
        assertEquals(3, stats.reapedTotal(), stats.toString());
        assertEquals(3, listenerCalls.get());
        assertEquals(3, hostThrows.get());
        assertEquals(3, count(log, "threw on"), log);
        assertEquals(3, count(log, "; the reap goes on"), log);
        assertEquals(0, count(log, "wheel entry failed"), log);
        // Netty hands a handler's exception to the exceptionCaught of its own pipeline: the host's, once per reap.
        assertEquals(3, tail.size(), tail.toString());
        for (Throwable e : tail) {
            assertEquals("host bug on READ_IDLE", e.getMessage(), e.toString());
        }
    }

    // ---------------------------------------------------------------- 3. allocation failure on the goodbye

    /** Delegates to the pooled allocator; once armed, every allocation throws OutOfMemoryError. */
    private static final class FailingAllocator implements ByteBufAllocator {
        private final ByteBufAllocator delegate = PooledByteBufAllocator.DEFAULT;
        volatile boolean armed;
        final AtomicInteger failures = new AtomicInteger();

        private void fail() {
            if (armed) {
                failures.incrementAndGet();
                throw new OutOfMemoryError("injected: allocation failed");
            }
        }

        @Override
        public ByteBuf buffer() {
            fail();
            return delegate.buffer();
        }

        @Override
        public ByteBuf buffer(int initialCapacity) {
            fail();
            return delegate.buffer(initialCapacity);
        }

        @Override
        public ByteBuf buffer(int initialCapacity, int maxCapacity) {
            fail();
            return delegate.buffer(initialCapacity, maxCapacity);
        }

        @Override
        public ByteBuf ioBuffer() {
            fail();
            return delegate.ioBuffer();
        }

        @Override
        public ByteBuf ioBuffer(int initialCapacity) {
            fail();
            return delegate.ioBuffer(initialCapacity);
        }

        @Override
        public ByteBuf ioBuffer(int initialCapacity, int maxCapacity) {
            fail();
            return delegate.ioBuffer(initialCapacity, maxCapacity);
        }

        @Override
        public ByteBuf heapBuffer() {
            fail();
            return delegate.heapBuffer();
        }

        @Override
        public ByteBuf heapBuffer(int initialCapacity) {
            fail();
            return delegate.heapBuffer(initialCapacity);
        }

        @Override
        public ByteBuf heapBuffer(int initialCapacity, int maxCapacity) {
            fail();
            return delegate.heapBuffer(initialCapacity, maxCapacity);
        }

        @Override
        public ByteBuf directBuffer() {
            fail();
            return delegate.directBuffer();
        }

        @Override
        public ByteBuf directBuffer(int initialCapacity) {
            fail();
            return delegate.directBuffer(initialCapacity);
        }

        @Override
        public ByteBuf directBuffer(int initialCapacity, int maxCapacity) {
            fail();
            return delegate.directBuffer(initialCapacity, maxCapacity);
        }

        @Override
        public CompositeByteBuf compositeBuffer() {
            fail();
            return delegate.compositeBuffer();
        }

        @Override
        public CompositeByteBuf compositeBuffer(int maxNumComponents) {
            fail();
            return delegate.compositeBuffer(maxNumComponents);
        }

        @Override
        public CompositeByteBuf compositeHeapBuffer() {
            fail();
            return delegate.compositeHeapBuffer();
        }

        @Override
        public CompositeByteBuf compositeHeapBuffer(int maxNumComponents) {
            fail();
            return delegate.compositeHeapBuffer(maxNumComponents);
        }

        @Override
        public CompositeByteBuf compositeDirectBuffer() {
            fail();
            return delegate.compositeDirectBuffer();
        }

        @Override
        public CompositeByteBuf compositeDirectBuffer(int maxNumComponents) {
            fail();
            return delegate.compositeDirectBuffer(maxNumComponents);
        }

        @Override
        public boolean isDirectBufferPooled() {
            return delegate.isDirectBufferPooled();
        }

        @Override
        public int calculateNewCapacity(int minNewCapacity, int maxCapacity) {
            return delegate.calculateNewCapacity(minNewCapacity, maxCapacity);
        }
    }

    /**
     * Arms {@code alloc} when the reap's event passes, just before the goodbye is made, and disarms it when the
     * channel has closed.
     */
    private static ChannelInboundHandlerAdapter armsOnReap(FailingAllocator alloc) {
        return new ChannelInboundHandlerAdapter() {
            @Override
            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                if (evt instanceof ReapEvent) {
                    alloc.armed = true;
                    ctx.channel().closeFuture().addListener(f -> alloc.armed = false);
                }
                ctx.fireUserEventTriggered(evt);
            }

            @Override
            public boolean isSharable() {
                return true;
            }
        };
    }

    /**
     * The goodbye's own buffer cannot be allocated ({@link LineHeartbeat}'s goodbye comes from the channel's
     * allocator): the connection still closes within its bound (not at the 5 s goodbye timeout), without a
     * goodbye, the failure is logged once and stays out of the wheel, nothing leaks, nothing reaches the tail, and
     * the event loop serves the next connection.
     */
    @ParameterizedTest
    @EnumSource(Transport.class)
    void goodbyeAllocationFails_lineGoodbye_stillClosesInBound_loopServesTheNext(Transport t) throws Exception {
        FailingAllocator alloc = new FailingAllocator();
        Duration readIdle = Duration.ofMillis(600);
        IdleReaper reaper = IdleReaper.builder().readIdleTimeout(readIdle).tickResolution(RES)
                .goodbyeTimeout(Duration.ofSeconds(5))
                .heartbeat(Duration.ZERO, Duration.ZERO, 1,
                        LineHeartbeat.ofBytes("PING\n".getBytes(StandardCharsets.US_ASCII)).withGoodbye("BYE\n"))
                .listener((c, e) -> listened.add(e)).build();
        InetSocketAddress addr = serve(t, reaper, alloc, p -> p.addLast(armsOnReap(alloc), new Echo()));
        long from = System.nanoTime();
        Socket silent = connect(addr);
        String[] said = new String[1];
        String log = capturingStderr(() -> said[0] = readToEnd(silent));
        await().atMost(Duration.ofSeconds(5)).until(() -> closedAt.containsKey(silent.getLocalPort()));
        long afterMs = ms(closedAt.get(silent.getLocalPort()) - from);
        assertEquals("", said[0], "no goodbye: its buffer could not be allocated");
        // The protocol's failure is logged once, and never escapes into the wheel; the close does not wait for
        // the goodbye timeout (5 s).
        assertEquals(1, count(log, "threw from goodbye(READ_IDLE); closing without one"), log);
        assertEquals(0, count(log, "wheel entry failed"), log);
        assertTrue(alloc.failures.get() >= 1, "the goodbye's allocation failed");
        assertTrue(afterMs >= readIdle.toMillis() && afterMs <= readIdle.toMillis() + RES.toMillis() + SLACK_MS,
                "closed " + afterMs + " ms after its connect");
        assertFalse(alloc.armed);
        assertEquals(1, reaper.stats().reaped(ReapReason.READ_IDLE));
        assertEquals(List.of(), tail);
        // The loop survived: a new connection is served.
        assertEchoes(connect(addr), "still here");
    }

    /**
     * The encoder cannot allocate the goodbye's bytes (an MQTT 5 DISCONNECT 0x8D, encoded by the host's
     * {@link MqttEncoder} from the channel's allocator): the goodbye's write fails, the connection still closes
     * within its bound (at the failure, not at the 5 s goodbye timeout), nothing leaks, and the event loop serves
     * the next connection.
     */
    @ParameterizedTest
    @EnumSource(Transport.class)
    void goodbyeAllocationFails_mqttEncoder_stillClosesInBound_loopServesTheNext(Transport t) throws Exception {
        FailingAllocator alloc = new FailingAllocator();
        Duration readIdle = Duration.ofMillis(600);
        IdleReaper reaper = IdleReaper.builder().readIdleTimeout(readIdle).tickResolution(RES)
                .goodbyeTimeout(Duration.ofSeconds(5))
                .heartbeat(Duration.ZERO, Duration.ZERO, 1, MqttHeartbeat.INSTANCE)
                .listener((c, e) -> listened.add(e)).build();
        InetSocketAddress addr = serve(t, reaper, alloc, p -> p.addLast("decoder", new MqttDecoder())
                .addLast("encoder", MqttEncoder.INSTANCE).addLast(armsOnReap(alloc), new Broker()));
        Socket silent = connect(addr);
        long from = System.nanoTime();
        silent.getOutputStream().write(MQTT5_CONNECT_KEEPALIVE_0);
        byte[] connAck = silent.getInputStream().readNBytes(2);
        assertEquals(0x20, connAck[0] & 0xff, "CONNACK");
        silent.getInputStream().readNBytes(connAck[1]);
        String said = readToEnd(silent);
        await().atMost(Duration.ofSeconds(5)).until(() -> closedAt.containsKey(silent.getLocalPort()));
        long afterMs = ms(closedAt.get(silent.getLocalPort()) - from);
        assertEquals("", said, "no DISCONNECT: its bytes could not be allocated");
        assertTrue(alloc.failures.get() >= 1, "the encoder's allocation failed");
        assertTrue(afterMs >= readIdle.toMillis() && afterMs <= readIdle.toMillis() + RES.toMillis() + SLACK_MS,
                "closed " + afterMs + " ms after CONNECT");
        assertEquals(1, reaper.stats().reaped(ReapReason.READ_IDLE));
        assertEquals(List.of(), tail);
        // The loop survived: the next client connects and gets its CONNACK.
        Socket next = connect(addr);
        next.getOutputStream().write(MQTT5_CONNECT_KEEPALIVE_0);
        assertEquals(0x20, next.getInputStream().read() & 0xff, "CONNACK");
    }

    /**
     * The HTTP/2 goodbye (GOAWAY NO_ERROR, written by the connection handler from the channel's allocator) cannot be
     * allocated: the connection still closes within its bound, without a GOAWAY, nothing leaks, nothing reaches the
     * tail, and the event loop serves the next HTTP/2 client.
     */
    @ParameterizedTest
    @EnumSource(Transport.class)
    void goodbyeAllocationFails_http2GoAway_stillClosesInBound_loopServesTheNext(Transport t) throws Exception {
        FailingAllocator alloc = new FailingAllocator();
        Duration readIdle = Duration.ofMillis(600);
        IdleReaper reaper = IdleReaper.builder().readIdleTimeout(readIdle).tickResolution(RES)
                .goodbyeTimeout(Duration.ofSeconds(5))
                .heartbeat(Duration.ZERO, Duration.ZERO, 1, Http2Heartbeat.INSTANCE)
                .listener((c, e) -> listened.add(e)).build();
        InetSocketAddress addr = serve(t, reaper, alloc, p -> p.addLast(
                Http2FrameCodecBuilder.forServer().build(), armsOnReap(alloc),
                new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        if (msg instanceof Http2HeadersFrame) {
                            ctx.writeAndFlush(new DefaultHttp2HeadersFrame(
                                    new DefaultHttp2Headers().status("200"), true)
                                    .stream(((Http2HeadersFrame) msg).stream()));
                        }
                        ReferenceCountUtil.release(msg);
                    }
                }));
        long from = System.nanoTime();
        Socket silent = connect(addr);
        List<RawH2.Frame> frames = new ArrayList<>();
        try (RawH2 h2 = new RawH2(silent)) {
            for (RawH2.Frame f = h2.next(); f != null; f = h2.next()) {
                frames.add(f);
            }
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> closedAt.containsKey(silent.getLocalPort()));
        long afterMs = ms(closedAt.get(silent.getLocalPort()) - from);
        assertTrue(frames.stream().noneMatch(f -> f.type == RawH2.GOAWAY),
                "no GOAWAY: its bytes could not be allocated: " + frames);
        assertTrue(alloc.failures.get() >= 1, "the GOAWAY's allocation failed");
        assertTrue(afterMs >= readIdle.toMillis() && afterMs <= readIdle.toMillis() + RES.toMillis() + SLACK_MS,
                "closed " + afterMs + " ms after its connect");
        assertEquals(1, reaper.stats().reaped(ReapReason.READ_IDLE));
        assertEquals(List.of(), tail);
        try (RawH2 next = new RawH2(connect(addr))) {
            next.get(1, "/");
            assertTrue(next.until(RawH2.HEADERS).endStream(), "the next client is served");
        }
    }

    /** MQTT 5 CONNECT, client id "c1", clean start, keep-alive 0, no properties. */
    static final byte[] MQTT5_CONNECT_KEEPALIVE_0 = {
        0x10, 15, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x02, 0, 0, 0, 0, 2, 'c', '1'};

    /** Answers CONNECT with CONNACK and PINGREQ with PINGRESP; drops the rest. */
    @ChannelHandler.Sharable
    static final class Broker extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                MqttMessage m = (MqttMessage) msg;
                if (m.decoderResult().isFailure()) {
                    return;
                }
                if (m.fixedHeader().messageType() == MqttMessageType.CONNECT) {
                    ctx.writeAndFlush(MqttMessageBuilders.connAck()
                            .returnCode(MqttConnectReturnCode.CONNECTION_ACCEPTED).build());
                } else if (m.fixedHeader().messageType() == MqttMessageType.PINGREQ) {
                    ctx.writeAndFlush(new MqttMessage(new MqttFixedHeader(
                            MqttMessageType.PINGRESP, false, MqttQoS.AT_MOST_ONCE,
                            false, 0)));
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }
    }

    // ---------------------------------------------------------------- 4. the peer's RST during the goodbye

    /** Answers a ReapEvent with a goodbye of {@code size} bytes of its own, written before the protocol's. */
    private static ChannelInboundHandlerAdapter bigGoodbye(int size) {
        return new ChannelInboundHandlerAdapter() {
            @Override
            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                if (evt instanceof ReapEvent) {
                    ByteBuf bye = ctx.alloc().buffer(size);
                    bye.writerIndex(size);
                    ctx.write(bye);
                }
                ctx.fireUserEventTriggered(evt);
            }

            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ReferenceCountUtil.release(msg);
            }

            @Override
            public boolean isSharable() {
                return true;
            }
        };
    }

    /**
     * The peer resets (SO_LINGER 0) as soon as the first byte of a 4 MiB goodbye arrives: the connection closes at
     * the reset, long before the goodbye timeout, is counted once, nothing leaks and nothing reaches the tail.
     */
    @ParameterizedTest
    @EnumSource(Transport.class)
    void peerResetsAtTheGoodbyesFirstByte_closedAndCountedOnce_nothingReachesTheTail(Transport t)
            throws Exception {
        IdleReaper reaper = IdleReaper.builder().readIdleTimeout(Duration.ofMillis(600)).tickResolution(RES)
                .goodbyeTimeout(Duration.ofSeconds(10))
                .heartbeat(Duration.ZERO, Duration.ZERO, 1,
                        LineHeartbeat.ofBytes("PING\n".getBytes(StandardCharsets.US_ASCII)).withGoodbye("BYE\n"))
                .listener((c, e) -> listened.add(e)).build();
        InetSocketAddress addr = serve(t, reaper, null, p -> p.addLast(bigGoodbye(4 << 20)));
        Socket peer = new Socket();
        sockets.add(peer);
        peer.setReceiveBufferSize(16 * 1024);
        peer.setSoTimeout(15_000);
        peer.connect(addr, 5_000);
        Channel server = serverSide(peer);
        assertTrue(peer.getInputStream().read() != -1, "the goodbye's first byte");
        long resetAt = System.nanoTime();
        peer.setSoLinger(true, 0);
        peer.close();
        await().atMost(Duration.ofSeconds(8)).until(() -> !server.isOpen());
        long afterMs = ms(closedAt.get(peer.getLocalPort()) - resetAt);
        assertTrue(afterMs < 5_000, "closed at the reset, not at the goodbye timeout: " + afterMs + " ms");
        await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(2)).until(() -> listened.size() == 1);
        ReaperStats stats = reaper.stats();
        assertEquals(1, stats.reaped(ReapReason.READ_IDLE), stats.toString());
        assertEquals(1, stats.reapedTotal(), stats.toString());
        assertEquals(List.of(), tail);
    }

    /**
     * The HTTP layer's goodbye to a slowloris is a 408 and a lingering close (output shut, input read until the
     * peer's FIN); the peer resets as soon as the 408's first byte arrives. The connection closes at the reset, is
     * counted once, and nothing reaches the tail.
     */
    @ParameterizedTest
    @EnumSource(Transport.class)
    void peerResetsDuringThe408sLingeringClose_closedAndCountedOnce_nothingReachesTheTail(Transport t)
            throws Exception {
        IdleReaper reaper = IdleReaper.builder().tickResolution(RES).requestHeaderTimeout(Duration.ofMillis(600))
                .goodbyeTimeout(Duration.ofSeconds(10)).listener((c, e) -> listened.add(e)).build();
        InetSocketAddress addr = serve(t, reaper, null, p -> p.addLast(new HttpServerCodec(),
                new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        ReferenceCountUtil.release(msg);
                    }
                }));
        Socket peer = connect(addr);
        Channel server = serverSide(peer);
        peer.getOutputStream().write("GET / HTTP/1.1\r\nHost: test\r\n".getBytes(StandardCharsets.US_ASCII));
        assertEquals('H', peer.getInputStream().read(), "the 408's first byte");
        long resetAt = System.nanoTime();
        peer.setSoLinger(true, 0);
        peer.close();
        await().atMost(Duration.ofSeconds(8)).until(() -> !server.isOpen());
        long afterMs = ms(closedAt.get(peer.getLocalPort()) - resetAt);
        assertTrue(afterMs < 5_000, "closed at the reset, not at the goodbye timeout: " + afterMs + " ms");
        await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(2)).until(() -> listened.size() == 1);
        ReaperStats stats = reaper.stats();
        assertEquals(1, stats.reaped(ReapReason.REQUEST_HEADER_TIMEOUT), stats.toString());
        assertEquals(1, stats.reapedTotal(), stats.toString());
        assertEquals(List.of(), tail);
    }

    /**
     * A reader that stopped: its receive buffer and the server's send buffer are full, and its reap's goodbye waits
     * behind 8 MiB still in the outbound buffer; then it resets. The connection closes at the reset, long before the
     * goodbye timeout, is counted once (the reap's, not a second DEAD_PEER), the pending buffers are released, and
     * nothing reaches the tail.
     */
    @ParameterizedTest
    @EnumSource(Transport.class)
    void stoppedReader_goodbyePendingBehindAFullSendBuffer_thenReset_closedCountedOnce_noLeak(Transport t)
            throws Exception {
        IdleReaper reaper = IdleReaper.builder().readIdleTimeout(Duration.ofMillis(600)).tickResolution(RES)
                .goodbyeTimeout(Duration.ofSeconds(10))
                .heartbeat(Duration.ZERO, Duration.ZERO, 1,
                        LineHeartbeat.ofBytes("PING\n".getBytes(StandardCharsets.US_ASCII)).withGoodbye("BYE\n"))
                .listener((c, e) -> listened.add(e)).build();
        ChannelInboundHandlerAdapter floods = new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ReferenceCountUtil.release(msg);
                for (int i = 0; i < 128; i++) {
                    ByteBuf chunk = ctx.alloc().buffer(64 * 1024);
                    chunk.writerIndex(64 * 1024);
                    ctx.write(chunk);
                }
                ctx.flush();
            }

            @Override
            public boolean isSharable() {
                return true;
            }
        };
        InetSocketAddress addr = serve(t, reaper, null, p -> p.addLast(floods));
        Socket peer = new Socket();
        sockets.add(peer);
        peer.setReceiveBufferSize(16 * 1024);
        peer.connect(addr, 5_000);
        Channel server = serverSide(peer);
        peer.getOutputStream().write('G');
        await().atMost(Duration.ofSeconds(10)).until(() -> listened.size() == 1);
        assertEquals(ReapReason.READ_IDLE, listened.get(0).reason());
        long pending = server.eventLoop().submit(() -> server.unsafe().outboundBuffer() == null ? 0
                : server.unsafe().outboundBuffer().totalPendingWriteBytes()).get(5, TimeUnit.SECONDS);
        assertTrue(pending > 1 << 20, "the goodbye waits behind the flood: " + pending + " bytes pending");
        assertTrue(server.isOpen(), "still flushing");
        long resetAt = System.nanoTime();
        peer.setSoLinger(true, 0);
        peer.close();
        await().atMost(Duration.ofSeconds(8)).until(() -> !server.isOpen());
        long afterMs = ms(closedAt.get(peer.getLocalPort()) - resetAt);
        assertTrue(afterMs < 5_000, "closed at the reset, not at the goodbye timeout: " + afterMs + " ms");
        await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(2)).until(() -> listened.size() == 1);
        ReaperStats stats = reaper.stats();
        assertEquals(1, stats.reaped(ReapReason.READ_IDLE), stats.toString());
        assertEquals(1, stats.reapedTotal(), stats.toString());
        assertEquals(List.of(), tail);
    }
}
