package io.github.idlereaper;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
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
import io.netty.channel.DefaultFileRegion;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.util.ReferenceCountUtil;
import java.io.File;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Layer 4: how a reap ends a real connection: RST with resetOnReap, FileRegion progress, no goodbye wait. */
class ReapPathTest {

    private final List<EventLoopGroup> groups = new CopyOnWriteArrayList<>();
    private final List<Channel> accepted = new CopyOnWriteArrayList<>();
    private final List<ReapEvent> reaps = new CopyOnWriteArrayList<>();
    private ScheduledExecutorService pacer;
    private File file;

    @AfterEach
    void tearDown() throws IOException {
        if (pacer != null) {
            pacer.shutdownNow();
        }
        for (EventLoopGroup g : groups) {
            g.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
        if (file != null) {
            Files.deleteIfExists(file.toPath());
        }
    }

    private InetSocketAddress serve(Transport t, IdleReaper reaper, ChannelInboundHandlerAdapter host) {
        EventLoopGroup g = t.group(1);
        groups.add(g);
        ServerBootstrap b = new ServerBootstrap().group(g).channel(t.serverChannel())
                .childOption(ChannelOption.SO_SNDBUF, 64 * 1024)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        accepted.add(ch);
                        ch.pipeline().addLast(host);
                    }
                });
        reaper.install(b);
        return (InetSocketAddress) b.bind("127.0.0.1", 0).syncUninterruptibly().channel().localAddress();
    }

    private Channel connect(Transport t, InetSocketAddress to, boolean autoRead, AtomicReference<Throwable> error) {
        EventLoopGroup g = t.group(1);
        groups.add(g);
        return new Bootstrap().group(g).channel(t.channel())
                .option(ChannelOption.AUTO_READ, autoRead)
                .option(ChannelOption.SO_RCVBUF, 32 * 1024)
                .option(ChannelOption.RCVBUF_ALLOCATOR, new FixedRecvByteBufAllocator(16 * 1024))
                .option(ChannelOption.MAX_MESSAGES_PER_READ, 1)
                .handler(new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        ReferenceCountUtil.release(msg);
                    }

                    @Override
                    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                        error.compareAndSet(null, cause);
                    }
                })
                .connect(to).syncUninterruptibly().channel();
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void resetOnReap_thePeerSeesAConnectionReset(Transport t) {
        IdleReaper reaper = IdleReaper.builder().readIdleTimeout(Duration.ofMillis(500)).resetOnReap(true)
                .listener((c, e) -> reaps.add(e)).build();
        InetSocketAddress addr = serve(t, reaper, new ChannelInboundHandlerAdapter());
        AtomicReference<Throwable> error = new AtomicReference<>();
        Channel client = connect(t, addr, true, error);
        await().atMost(Duration.ofSeconds(10)).until(() -> !client.isActive());
        assertEquals(ReapReason.READ_IDLE, reaps.get(0).reason());
        assertTrue(error.get() instanceof IOException, "an I/O error, not an orderly close: " + error.get());
        assertTrue(String.valueOf(error.get().getMessage()).toLowerCase().contains("reset"),
                "ECONNRESET: " + error.get());
    }

    @Test
    void gracefulReap_thePeerSeesAnOrderlyClose() {
        IdleReaper reaper = IdleReaper.builder().readIdleTimeout(Duration.ofMillis(500))
                .listener((c, e) -> reaps.add(e)).build();
        InetSocketAddress addr = serve(Transport.NIO, reaper, new ChannelInboundHandlerAdapter());
        AtomicReference<Throwable> error = new AtomicReference<>();
        Channel client = connect(Transport.NIO, addr, true, error);
        await().atMost(Duration.ofSeconds(10)).until(() -> !client.isActive());
        assertEquals(null, error.get(), "the control: no reset without resetOnReap");
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void fileRegion_progressOfASlowReader_isProgress_andItsStopIsAStall(Transport t) throws Exception {
        file = File.createTempFile("idle-reaper-region", ".bin");
        try (RandomAccessFile raf = new RandomAccessFile(file, "rw")) {
            raf.setLength(64L * 1024 * 1024);
        }
        IdleReaper reaper = IdleReaper.builder().tickResolution(Duration.ofMillis(100))
                .writeStallTimeout(Duration.ofSeconds(1)).writeIdleTimeout(Duration.ofSeconds(1))
                .listener((c, e) -> reaps.add(e)).build();
        InetSocketAddress addr = serve(t, reaper, new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ReferenceCountUtil.release(msg);
                ctx.writeAndFlush(new DefaultFileRegion(file, 0, file.length()));
            }
        });
        AtomicReference<Throwable> error = new AtomicReference<>();
        Channel client = connect(t, addr, false, error);
        client.writeAndFlush(Unpooled.copiedBuffer("GO", StandardCharsets.US_ASCII)).syncUninterruptibly();
        await().atMost(Duration.ofSeconds(10)).until(() -> accepted.size() == 1);
        Channel server = accepted.get(0);
        pacer = Executors.newSingleThreadScheduledExecutor();
        var reads = pacer.scheduleAtFixedRate(client::read, 0, 10, TimeUnit.MILLISECONDS);
        // About 1.6 MB/s: 64 MiB would take 40 s. Progress inside one FileRegion is progress.
        await().during(Duration.ofMillis(3000)).atMost(Duration.ofSeconds(5)).until(server::isActive);
        assertTrue(reaps.isEmpty(), "a reader that takes the file slowly is healthy: " + reaps);
        reads.cancel(false);
        await().atMost(Duration.ofSeconds(10)).until(() -> !server.isActive());
        assertEquals(ReapReason.WRITE_STALL, reaps.get(0).reason());
    }

    /** A handler that defers every close forever, as an HTTP/2 graceful shutdown waiting for streams may. */
    private static final class DefersClose extends io.netty.channel.ChannelOutboundHandlerAdapter {
        @Override
        public void close(ChannelHandlerContext ctx, io.netty.channel.ChannelPromise promise) {
            // never passed on
        }
    }

    @Test
    void aHandlerThatDefersCloses_cannotHoldAReapedConnectionOpen() {
        FakeTicker ticker = new FakeTicker();
        IdleReaper reaper = IdleReaper.builder().tickResolution(Duration.ofMillis(100)).ticker(ticker)
                .readIdleTimeout(Duration.ofSeconds(1)).goodbyeTimeout(Duration.ofMillis(500))
                .listener((c, e) -> reaps.add(e)).build();
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.pipeline().addLast(new DefersClose());
        ch.pipeline().addFirst(IdleReaper.HANDLER_NAME, reaper.newHandler());
        try {
            LoopWheel wheel = reaper.core().wheelFor(ch.eventLoop());
            long start = ticker.read();
            for (int i = 0; i < 60 && ch.isActive(); i++) {
                ticker.advance(Duration.ofMillis(50));
                wheel.advance(ticker.read());
                ch.runPendingTasks();
            }
            assertTrue(!ch.isActive(), "closed regardless, after the goodbye timeout");
            long after = Duration.ofNanos(ticker.read() - start).toMillis();
            assertTrue(after >= 1_500 && after <= 1_500 + 100, "closed " + after + " ms after the start");
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void aStallReap_closesAtOnce_evenBehindAHandlerThatDefersCloses() {
        try (StallRig rig = new StallRig(b -> b.writeStallTimeout(Duration.ofSeconds(1)), new DefersClose())) {
            rig.ch.writeAndFlush(Unpooled.wrappedBuffer(new byte[1024]));
            for (int i = 0; i < 30 && rig.reaps.isEmpty(); i++) {
                rig.tick();
            }
            assertEquals(ReapReason.WRITE_STALL, rig.reaps.get(0).reason());
            assertTrue(!rig.ch.isActive(), "closed at the reap itself, not deferred");
        }
    }

    @Test
    void goodbyeTimeoutZero_closesAtOnce_withoutTheGoodbye() {
        FakeTicker ticker = new FakeTicker();
        HeartbeatProtocol bye = new HeartbeatProtocol() {
            @Override
            public Object ping(Channel channel) {
                return null;
            }

            @Override
            public Object goodbye(Channel channel, ReapReason reason) {
                return Unpooled.copiedBuffer("BYE", StandardCharsets.US_ASCII);
            }
        };
        IdleReaper reaper = IdleReaper.builder().tickResolution(Duration.ofMillis(100)).ticker(ticker)
                .readIdleTimeout(Duration.ofSeconds(1)).goodbyeTimeout(Duration.ZERO)
                .heartbeat(Duration.ZERO, Duration.ZERO, 1, bye).build();
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.pipeline().addFirst(IdleReaper.HANDLER_NAME, reaper.newHandler());
        try {
            LoopWheel wheel = reaper.core().wheelFor(ch.eventLoop());
            for (int i = 0; i < 30 && ch.isActive(); i++) {
                ticker.advance(Duration.ofMillis(50));
                wheel.advance(ticker.read());
            }
            assertTrue(!ch.isActive(), "closed at the reap");
            Object out = ch.readOutbound();
            assertEquals(null, out, "no goodbye was written: " + (out instanceof ByteBuf
                    ? ((ByteBuf) out).toString(StandardCharsets.US_ASCII) : out));
        } finally {
            ch.finishAndReleaseAll();
        }
    }
}
