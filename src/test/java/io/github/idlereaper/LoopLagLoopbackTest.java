package io.github.idlereaper;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Layer 4: a server event loop held up for 2 s (a handler that blocks it, as a GC pause or a starved CPU would) on
 * real loopback sockets. A peer that kept sending during the hold-up is not reaped; a silent one is reaped never
 * early and late by at most the hold-up plus a tick; the stats show the lag and count the late reap.
 */
class LoopLagLoopbackTest {

    private static final Duration READ_IDLE = Duration.ofSeconds(1);
    private static final Duration RES = Duration.ofMillis(100);
    private static final long HOLD_MS = 2_000;
    /** How late a close may be observed on a busy 2-core machine, beyond the documented bound. */
    private static final long SLACK_MS = 1_000;

    private final List<EventLoopGroup> groups = new CopyOnWriteArrayList<>();
    private final BlockingQueue<Channel> accepted = new LinkedBlockingQueue<>();
    private final List<ReapEvent> listened = new CopyOnWriteArrayList<>();

    @AfterEach
    void tearDown() {
        for (EventLoopGroup g : groups) {
            g.shutdownGracefully(0, 0, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
        }
    }

    @ChannelHandler.Sharable
    private static final class Discard extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ((ByteBuf) msg).release();
        }
    }

    /** Holds the calling event loop up for {@code ms}. */
    private static void hold(long ms) {
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
        while (System.nanoTime() < end) {
            LockSupport.parkNanos(end - System.nanoTime());
        }
    }

    @ParameterizedTest
    @EnumSource(value = TcpTransport.class, names = {"NIO", "EPOLL"})
    void loopHeldUp_talkerKept_silentReapedWithinHoldUpPlusTick_lagInStats(TcpTransport k) throws Exception {
        k.assumeAvailable();
        EventLoopGroup server = k.group(1);
        EventLoopGroup client = k.group(1);
        groups.add(server);
        groups.add(client);
        IdleReaper reaper = IdleReaper.builder().readIdleTimeout(READ_IDLE).tickResolution(RES)
                .listener((c, e) -> listened.add(e)).build();
        ServerBootstrap b = new ServerBootstrap().group(server).channel(k.serverChannel()).childHandler(new AcceptingHost(accepted));
        reaper.install(b);
        Channel listener = b.bind(InetAddress.getLoopbackAddress(), 0).syncUninterruptibly().channel();
        Bootstrap cb = new Bootstrap().group(client).channel(k.channel()).handler(new Discard());
        Channel talker = cb.connect(listener.localAddress()).syncUninterruptibly().channel();
        Channel talkerSeen = accepted.poll(10, TimeUnit.SECONDS);
        Channel silent = cb.connect(listener.localAddress()).syncUninterruptibly().channel();
        Channel silentSeen = accepted.poll(10, TimeUnit.SECONDS);
        assertNotNull(talkerSeen);
        assertNotNull(silentSeen);
        long silentSince = System.nanoTime();
        AtomicLong silentClosed = new AtomicLong();
        silentSeen.closeFuture().addListener(f -> silentClosed.set(System.nanoTime()));
        // The talker sends a byte every 800 ms (read idle is 1 s), from the client's loop, the whole time: healthy.
        io.netty.util.concurrent.ScheduledFuture<?> talking = client.next().scheduleAtFixedRate(
                () -> talker.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {1})), 0, 800, TimeUnit.MILLISECONDS);
        try {
            // Hold the server's only loop up for 2 s, from about 500 ms on: read idle (1 s) runs out during it,
            // while the talker's bytes of 800 ms, 1.6 s and 2.4 s wait unread in the kernel. The hold-up is arranged
            // so that the wheel's tick runs right after it in the same pass of tasks, before the loop reads them,
            // as after a GC pause or a starved CPU: a first task schedules the blocker now and spins past the
            // wheel's next tick, so that the next pass takes both, the blocker first.
            long heldFrom = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(200);
            io.netty.channel.EventLoop loop = silentSeen.eventLoop();
            loop.schedule(() -> {
                loop.schedule(() -> hold(HOLD_MS), 0, TimeUnit.NANOSECONDS);
                hold(3 * RES.toMillis());
            }, 200, TimeUnit.MILLISECONDS);
            await().atMost(Duration.ofSeconds(10)).until(() -> silentClosed.get() != 0);
            long afterMs = TimeUnit.NANOSECONDS.toMillis(silentClosed.get() - silentSince);
            long heldEndMs = TimeUnit.NANOSECONDS.toMillis(heldFrom - silentSince) + HOLD_MS + 3 * RES.toMillis();
            System.out.printf("%s: silent peer reaped %d ms after its connect; the hold-up ended at %d ms%n", k,
                    afterMs, heldEndMs);
            // Never early; late by at most the hold-up's end plus a tick (and the machine's slack).
            assertTrue(afterMs >= READ_IDLE.toMillis(), afterMs + " ms");
            assertTrue(afterMs <= heldEndMs + RES.toMillis() + SLACK_MS, afterMs + " ms");
            // The talker's bytes sent during the hold-up were read before any decision: it is kept.
            await().during(Duration.ofMillis(1500)).atMost(Duration.ofSeconds(3)).until(talkerSeen::isActive);
            assertEquals(1, listened.size(), listened.toString());
            assertEquals(ReapReason.READ_IDLE, listened.get(0).reason());
            ReaperStats stats = reaper.stats();
            System.out.println(k + ": " + stats);
            assertTrue(stats.maxLoopLag().toMillis() >= HOLD_MS - 2 * RES.toMillis(), stats.toString());
            assertEquals(1, stats.reapsAfterLoopLag(), stats.toString());
        } finally {
            talking.cancel(false);
            talker.close();
            silent.close();
            listener.close();
        }
    }
}
