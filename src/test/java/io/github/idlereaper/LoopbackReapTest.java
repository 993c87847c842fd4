package io.github.idlereaper;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.socket.SocketChannel;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Layer 4: the reaper installed on real loopback servers, NIO and epoll. Timing checks are one-sided where it
 * matters (never early) and loose on the other side, so that a busy 2-core machine does not make them flake.
 */
class LoopbackReapTest {

    private static final Duration RES = Duration.ofMillis(100);
    /** How late a close may be observed on a busy machine, beyond the reaper's own one-tick bound. */
    private static final long SLACK_MS = 1_500;

    private EventLoopGroup boss;
    private EventLoopGroup workers;
    private EventLoopGroup clients;
    private ScheduledExecutorService pacer;
    private final BlockingQueue<Channel> accepted = new LinkedBlockingQueue<>();
    private final List<String> hostSaw = new CopyOnWriteArrayList<>();
    private final List<ReapEvent> listened = new CopyOnWriteArrayList<>();
    private final AtomicLong reapedAt = new AtomicLong();
    private volatile boolean sayGoodbye;

    @AfterEach
    void tearDown() {
        if (pacer != null) {
            pacer.shutdownNow();
        }
        for (EventLoopGroup g : new EventLoopGroup[] {clients, workers, boss}) {
            if (g != null) {
                g.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
            }
        }
        // JUnit keeps parameterized test instances until the class is done: let their channels go now.
        clients = null;
        workers = null;
        boss = null;
        pacer = null;
        accepted.clear();
    }

    /** The host's own server handler: echoes, and understands BUSY / DONE / GO lines. */
    @io.netty.channel.ChannelHandler.Sharable
    private final class EchoHost extends ChannelInboundHandlerAdapter {
        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            accepted.add(ctx.channel());
            ctx.fireChannelActive();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf in = (ByteBuf) msg;
            String text = in.toString(StandardCharsets.US_ASCII);
            if (text.contains("BUSY")) {
                IdleReaper.markBusy(ctx.channel());
            }
            if (text.contains("DONE")) {
                IdleReaper.markIdle(ctx.channel());
            }
            if (text.contains("GO")) {
                in.release();
                // A large response: 16 MiB in 64 KiB chunks, all queued at once.
                for (int i = 0; i < 256; i++) {
                    ctx.write(Unpooled.wrappedBuffer(new byte[64 * 1024]));
                }
                ctx.flush();
                return;
            }
            ctx.writeAndFlush(in);
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof ReapEvent) {
                reapedAt.set(System.nanoTime());
                hostSaw.add(((ReapEvent) evt).reason() + " active=" + ctx.channel().isActive());
                if (sayGoodbye) {
                    ctx.writeAndFlush(Unpooled.copiedBuffer("bye\n", StandardCharsets.US_ASCII));
                }
            }
            ctx.fireUserEventTriggered(evt);
        }
    }

    private IdleReaper.Builder reaper() {
        return IdleReaper.builder().tickResolution(RES).listener((ch, e) -> listened.add(e));
    }

    private InetSocketAddress startServer(Transport t, IdleReaper reaper) {
        boss = t.group(1);
        workers = t.group(2);
        ServerBootstrap b = new ServerBootstrap().group(boss, workers).channel(t.serverChannel())
                // A send buffer sized as docs/configuration.md advises for write-stall timeouts this short:
                // loopback's default lets the kernel hold megabytes, which it hands out in bursts.
                .childOption(ChannelOption.SO_SNDBUF, 64 * 1024)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new EchoHost());
                    }
                });
        reaper.install(b);
        Channel server = b.bind("127.0.0.1", 0).syncUninterruptibly().channel();
        return (InetSocketAddress) server.localAddress();
    }

    /** A raw client: reads and drops whatever comes, unless told to read slowly. */
    private Channel connect(Transport t, InetSocketAddress to, boolean autoRead) {
        if (clients == null) {
            clients = t.group(1);
        }
        Bootstrap b = new Bootstrap().group(clients).channel(t.channel())
                .option(ChannelOption.AUTO_READ, autoRead)
                .option(ChannelOption.SO_RCVBUF, 32 * 1024)
                .option(ChannelOption.RCVBUF_ALLOCATOR, new FixedRecvByteBufAllocator(16 * 1024))
                .option(ChannelOption.MAX_MESSAGES_PER_READ, 1)
                .handler(new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        ((ByteBuf) msg).release();
                    }
                });
        return b.connect(to).syncUninterruptibly().channel();
    }

    private static void send(Channel ch, String text) {
        ch.writeAndFlush(Unpooled.copiedBuffer(text, StandardCharsets.US_ASCII)).syncUninterruptibly();
    }

    private Channel serverSide() throws InterruptedException {
        Channel ch = accepted.poll(5, TimeUnit.SECONDS);
        assertTrue(ch != null, "the server accepted the connection");
        return ch;
    }

    private static long closedAtNanos(Channel ch) {
        AtomicLong at = new AtomicLong();
        ch.closeFuture().addListener(f -> at.set(System.nanoTime()));
        await().atMost(Duration.ofSeconds(30)).until(() -> at.get() != 0);
        return at.get();
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void idleClient_isClosedAfterItsTimeoutAndNotBefore(Transport t) throws Exception {
        IdleReaper reaper = reaper().readIdleTimeout(Duration.ofSeconds(1)).build();
        InetSocketAddress addr = startServer(t, reaper);
        long before = System.nanoTime();
        connect(t, addr, true);
        Channel server = serverSide();
        long closedAfter = TimeUnit.NANOSECONDS.toMillis(closedAtNanos(server) - before);
        assertTrue(closedAfter >= 1000, "closed early, after " + closedAfter + "ms");
        assertTrue(closedAfter <= 1000 + RES.toMillis() + SLACK_MS, "closed late, after " + closedAfter + "ms");
        assertEquals(1, reaper.stats().reaped(ReapReason.READ_IDLE));
        await().until(() -> reaper.stats().open() == 0);
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void chattyClient_sendingEveryThirdOfTheTimeout_isNeverClosed(Transport t) throws Exception {
        IdleReaper reaper = reaper().readIdleTimeout(Duration.ofSeconds(1)).build();
        InetSocketAddress addr = startServer(t, reaper);
        Channel client = connect(t, addr, true);
        Channel server = serverSide();
        pacer = Executors.newSingleThreadScheduledExecutor();
        ScheduledFuture<?> pings =
                pacer.scheduleAtFixedRate(() -> send(client, "x"), 0, 333, TimeUnit.MILLISECONDS);
        await().during(Duration.ofSeconds(5)).atMost(Duration.ofSeconds(7)).until(server::isActive);
        pings.cancel(false);
        assertEquals(0, reaper.stats().reapedTotal());
        assertEquals(1, reaper.stats().open());
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void slowReader_isNotClosedWhileBytesFlow_andTheStallClosesItWhenItStops(Transport t) throws Exception {
        IdleReaper reaper = reaper().writeIdleTimeout(Duration.ofSeconds(1))
                .writeStallTimeout(Duration.ofSeconds(1)).readIdleTimeout(Duration.ofSeconds(30)).build();
        InetSocketAddress addr = startServer(t, reaper);
        Channel client = connect(t, addr, false);
        Channel server = serverSide();
        send(client, "GO");
        // Read 16 KiB every 10 ms (about 1.6 MB/s): the 16 MiB response would take about ten seconds.
        pacer = Executors.newSingleThreadScheduledExecutor();
        ScheduledFuture<?> reads = pacer.scheduleAtFixedRate(client::read, 0, 10, TimeUnit.MILLISECONDS);
        await().during(Duration.ofMillis(2500)).atMost(Duration.ofSeconds(4)).until(server::isActive);
        assertTrue(server.unsafe().outboundBuffer().totalPendingWriteBytes() > 0, "still sending");
        reads.cancel(false);
        long stoppedReading = System.nanoTime();
        long closedAfter = TimeUnit.NANOSECONDS.toMillis(closedAtNanos(server) - stoppedReading);
        assertTrue(closedAfter >= 1000, "closed " + closedAfter + "ms after the reader stopped: early");
        assertTrue(closedAfter <= 1000 + 125 + RES.toMillis() + SLACK_MS, "closed late: " + closedAfter + "ms");
        assertEquals(List.of(ReapReason.WRITE_STALL), listened.stream().map(ReapEvent::reason).toList());
    }

    @Test
    void goodbye_thatCannotFlush_isCutOffAfterTheGoodbyeTimeout() throws Exception {
        IdleReaper reaper = reaper().readIdleTimeout(Duration.ofSeconds(1))
                .goodbyeTimeout(Duration.ofMillis(500)).build();
        InetSocketAddress addr = startServer(Transport.NIO, reaper);
        Channel client = connect(Transport.NIO, addr, false); // never reads
        Channel server = serverSide();
        sayGoodbye = true;
        send(client, "GO"); // 16 MiB the client will never read: the goodbye queues behind it
        long closed = closedAtNanos(server);
        long afterReap = TimeUnit.NANOSECONDS.toMillis(closed - reapedAt.get());
        assertTrue(afterReap >= 500, "closed " + afterReap + "ms after the reap: the goodbye got no chance");
        assertTrue(afterReap <= 500 + RES.toMillis() + SLACK_MS, "closed " + afterReap + "ms after the reap");
        assertEquals(List.of("READ_IDLE active=true"), hostSaw);
    }

    @Test
    void goodbye_isReceivedByThePeerBeforeTheClose() throws Exception {
        IdleReaper reaper = reaper().readIdleTimeout(Duration.ofMillis(500)).build();
        InetSocketAddress addr = startServer(Transport.NIO, reaper);
        sayGoodbye = true;
        clients = Transport.NIO.group(1);
        BlockingQueue<String> got = new LinkedBlockingQueue<>();
        Channel client = new Bootstrap().group(clients).channel(Transport.NIO.channel())
                .handler(new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        got.add(((ByteBuf) msg).toString(StandardCharsets.US_ASCII));
                        ((ByteBuf) msg).release();
                    }

                    @Override
                    public void channelInactive(ChannelHandlerContext ctx) {
                        got.add("<closed>");
                    }
                }).connect(addr).syncUninterruptibly().channel();
        assertEquals("bye\n", got.poll(10, TimeUnit.SECONDS));
        assertEquals("<closed>", got.poll(10, TimeUnit.SECONDS));
        assertTrue(!client.isActive());
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void busyConnection_isNotReapedByTheIdleTimer(Transport t) throws Exception {
        IdleReaper reaper = reaper().readIdleTimeout(Duration.ofSeconds(1)).build();
        InetSocketAddress addr = startServer(t, reaper);
        Channel client = connect(t, addr, true);
        Channel server = serverSide();
        send(client, "BUSY");
        await().during(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(4)).until(server::isActive);
        long done = System.nanoTime();
        send(client, "DONE");
        long closedAfter = TimeUnit.NANOSECONDS.toMillis(closedAtNanos(server) - done);
        assertTrue(closedAfter >= 1000, "reaped " + closedAfter + "ms after the work finished: early");
        assertEquals(1, reaper.stats().reaped(ReapReason.READ_IDLE));
    }

    @Test
    void reapEvent_reachesTheHostBeforeTheClose_andTheListenerAndStatsCountIt() throws Exception {
        IdleReaper reaper = reaper().readIdleTimeout(Duration.ofMillis(500)).build();
        InetSocketAddress addr = startServer(Transport.NIO, reaper);
        connect(Transport.NIO, addr, true);
        closedAtNanos(serverSide());
        assertEquals(List.of("READ_IDLE active=true"), hostSaw);
        assertEquals(1, listened.size());
        assertEquals(ReapReason.READ_IDLE, listened.get(0).reason());
        ReaperStats stats = reaper.stats();
        assertEquals(1, stats.reaped(ReapReason.READ_IDLE));
        assertEquals(0, stats.reaped(ReapReason.WRITE_STALL));
        assertEquals(1, stats.opened());
        await().until(() -> reaper.stats().open() == 0);
    }

    @Test
    void clientInstall_reapsTheClientsIdleConnection() throws Exception {
        IdleReaper serverReaper = reaper().build(); // server side does nothing
        InetSocketAddress addr = startServer(Transport.NIO, serverReaper);
        IdleReaper clientReaper = IdleReaper.builder().tickResolution(RES)
                .allIdleTimeout(Duration.ofMillis(500)).build();
        clients = Transport.NIO.group(1);
        Bootstrap b = new Bootstrap().group(clients).channel(Transport.NIO.channel())
                .handler(new ChannelInboundHandlerAdapter());
        clientReaper.install(b);
        Channel client = b.connect(addr).syncUninterruptibly().channel();
        assertEquals(IdleReaper.HANDLER_NAME, client.pipeline().names().get(0));
        closedAtNanos(client);
        assertEquals(1, clientReaper.stats().reaped(ReapReason.ALL_IDLE));
    }

    @Test
    void install_putsTheReaperFirst_evenWhenTheHostAddsFirst() throws Exception {
        IdleReaper reaper = reaper().build();
        boss = Transport.NIO.group(1);
        workers = Transport.NIO.group(1);
        ServerBootstrap b = new ServerBootstrap().group(boss, workers).channel(Transport.NIO.serverChannel())
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addFirst("hostFirst", new ChannelInboundHandlerAdapter());
                        ch.pipeline().addLast(new EchoHost());
                    }
                });
        reaper.install(b);
        InetSocketAddress addr =
                (InetSocketAddress) b.bind("127.0.0.1", 0).syncUninterruptibly().channel().localAddress();
        connect(Transport.NIO, addr, true);
        Channel server = serverSide();
        assertEquals(IdleReaper.HANDLER_NAME, server.pipeline().names().get(0));
    }

    @Test
    void install_withoutAChildHandler_twice_orOnAClientWithoutHandler_failsClearly() {
        IdleReaper reaper = reaper().build();
        ServerBootstrap empty = new ServerBootstrap();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> reaper.install(empty));
        assertEquals("install(ServerBootstrap) needs a child handler: call childHandler(...) before install(...)",
                e.getMessage());

        ServerBootstrap b = new ServerBootstrap().childHandler(new ChannelInboundHandlerAdapter());
        reaper.install(b);
        e = assertThrows(IllegalStateException.class, () -> reaper.install(b));
        assertEquals("an IdleReaper is already installed on this ServerBootstrap", e.getMessage());
        IdleReaper other = reaper().build();
        e = assertThrows(IllegalStateException.class, () -> other.install(b));
        assertEquals("an IdleReaper is already installed on this ServerBootstrap", e.getMessage());

        e = assertThrows(IllegalStateException.class, () -> reaper.install(new Bootstrap()));
        assertEquals("install(Bootstrap) needs a handler: call handler(...) before install(...)", e.getMessage());
        Bootstrap c = new Bootstrap().handler(new ChannelInboundHandlerAdapter());
        reaper.install(c);
        e = assertThrows(IllegalStateException.class, () -> reaper.install(c));
        assertEquals("an IdleReaper is already installed on this Bootstrap", e.getMessage());

        NullPointerException npe =
                assertThrows(NullPointerException.class, () -> reaper.install((ServerBootstrap) null));
        assertEquals("bootstrap", npe.getMessage());
    }

    @Test
    void oneReaper_servesManyBootstrapsAndLoops() throws Exception {
        IdleReaper reaper = reaper().readIdleTimeout(Duration.ofMillis(500)).build();
        InetSocketAddress addr = startServer(Transport.NIO, reaper);
        EventLoopGroup boss2 = Transport.NIO.group(1);
        EventLoopGroup workers2 = Transport.NIO.group(2);
        try {
            ServerBootstrap b2 = new ServerBootstrap().group(boss2, workers2)
                    .channel(Transport.NIO.serverChannel()).childHandler(new EchoHost());
            reaper.install(b2);
            InetSocketAddress addr2 =
                    (InetSocketAddress) b2.bind("127.0.0.1", 0).syncUninterruptibly().channel().localAddress();
            for (int i = 0; i < 6; i++) {
                connect(Transport.NIO, i % 2 == 0 ? addr : addr2, true);
            }
            await().atMost(Duration.ofSeconds(10)).until(() -> reaper.stats().reaped(ReapReason.READ_IDLE) == 6);
            assertTrue(reaper.core().wheelCount() >= 2, "one wheel per event loop in use");
        } finally {
            boss2.shutdownGracefully(0, 0, TimeUnit.SECONDS);
            workers2.shutdownGracefully(0, 0, TimeUnit.SECONDS);
        }
    }
}
