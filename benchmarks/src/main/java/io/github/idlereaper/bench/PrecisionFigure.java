package io.github.idlereaper.bench;

import io.github.idlereaper.ReapEvent;
import io.github.idlereaper.bench.Stack.Config;
import io.github.idlereaper.bench.Stack.Timeouts;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.local.LocalAddress;
import io.netty.channel.local.LocalChannel;
import io.netty.channel.local.LocalIoHandler;
import io.netty.channel.local.LocalServerChannel;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * Figure 4: how late idle connections are reaped. n LocalChannel pairs on a two-thread server group; each client
 * sends one byte at a random moment within {@code sendWindow}, then goes quiet. Settled: the window opens once all n
 * are connected and their objects promoted to the old generation, as in a server that has been up for a while.
 * Storm: each client's window opens as it connects, so the reaps overlap the connection storm that opens the rest
 * (the loops run late, and so do their ticks).
 *
 * <p>A recorder sits right behind the handler that times the connection (the reaper; IdleStateHandler, ahead of its
 * closer) and notes, on the loop, the last time it saw the connection active or reading, and the moment the reap's
 * event passed it: the reaper's {@link ReapEvent} or IdleStateHandler's {@link IdleStateEvent}, each fired just
 * before the close. Lateness = event − (last activity + timeout). Timing the event rather than the channel going
 * inactive leaves the close path out, so an early reap cannot hide behind it. The activity the recorder notes is at
 * or after the handler's own (reads pass the handler first), so a measured lateness can only come out earlier than
 * the real one, never later, which makes "never early" a strict check. The close path (inactive − event) is kept
 * beside it.
 */
final class PrecisionFigure {

    /**
     * Sorted lateness at the reap's event in nanoseconds, how many connections were not reaped within the bound, and
     * the sorted close path (from the event to the channel going inactive).
     */
    record Precision(long[] latenessNanos, int notReaped, long[] closePathNanos) {
        long min() {
            return latenessNanos.length == 0 ? 0 : latenessNanos[0];
        }

        long quantile(double q) {
            return Measure.quantile(latenessNanos, q);
        }

        long max() {
            return latenessNanos.length == 0 ? 0 : latenessNanos[latenessNanos.length - 1];
        }

        int early() {
            int e = 0;
            for (long l : latenessNanos) {
                if (l < 0) {
                    e++;
                }
            }
            return e;
        }

        /** The earliest reap's lateness if it came early (negative), else 0. */
        long worstEarly() {
            return Math.min(0, min());
        }
    }

    /**
     * Notes the last activity, the reap's event and the end of one server-side connection; sits right behind the
     * handler that fires the event. One per channel.
     */
    static class Recorder extends ChannelInboundHandlerAdapter {
        volatile long lastActivity;
        volatile long eventAt;
        volatile long inactiveAt;

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            lastActivity = System.nanoTime();
            ctx.fireChannelActive();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            lastActivity = System.nanoTime();
            ReferenceCountUtil.release(msg);
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (eventAt == 0 && (evt instanceof ReapEvent || evt instanceof IdleStateEvent)) {
                eventAt = System.nanoTime();
            }
            ctx.fireUserEventTriggered(evt);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            inactiveAt = System.nanoTime();
            ctx.fireChannelInactive();
        }
    }

    private PrecisionFigure() {
    }

    /** Sends one byte from {@code ch} at a random moment within {@code window} from now. */
    static void sendOnce(Channel ch, Duration window) {
        long delay = ThreadLocalRandom.current().nextLong(window.toNanos());
        ch.eventLoop().schedule(() -> {
            ch.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {1}));
        }, delay, TimeUnit.NANOSECONDS);
    }

    static Precision run(Config config, int n, Duration timeout, Duration tick, Duration sendWindow, boolean settled)
            throws Exception {
        Stack stack = Stack.of(config, Timeouts.readOnly(timeout, tick));
        EventLoopGroup serverGroup = new MultiThreadIoEventLoopGroup(2, LocalIoHandler.newFactory());
        EventLoopGroup clientGroup = new MultiThreadIoEventLoopGroup(1, LocalIoHandler.newFactory());
        ConcurrentLinkedQueue<Recorder> recorders = new ConcurrentLinkedQueue<>();
        Channel server = null;
        List<Channel> clients = new ArrayList<>(n);
        try {
            LocalAddress addr = new LocalAddress("precision-" + config + "-" + System.nanoTime());
            server = new ServerBootstrap().group(serverGroup).channel(LocalServerChannel.class)
                    .childHandler(new ChannelInitializer<>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            Recorder r = new Recorder();
                            recorders.add(r);
                            // The timer handler, the recorder right behind it (so it sees the event before a
                            // closer acts on it), then the rest of the configuration.
                            ChannelHandler[] hs = stack.newHandlers();
                            ch.pipeline().addLast(hs[0], r);
                            for (int i = 1; i < hs.length; i++) {
                                ch.pipeline().addLast(hs[i]);
                            }
                        }
                    }).bind(addr).sync().channel();
            Bootstrap cb = new Bootstrap().group(clientGroup).channel(LocalChannel.class)
                    .handler(Handlers.InSink.INSTANCE);
            List<ChannelFuture> batch = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                batch.add(cb.connect(addr, Locals.next()));
                if (batch.size() == 2000 || i == n - 1) {
                    for (ChannelFuture f : batch) {
                        Channel ch = f.sync().channel();
                        clients.add(ch);
                        if (!settled) {
                            sendOnce(ch, sendWindow);
                        }
                    }
                    batch.clear();
                }
            }
            if (settled) {
                Measure.await(n + " connections", 60_000, () -> recorders.size() == n);
                System.gc();
                for (Channel ch : clients) {
                    sendOnce(ch, sendWindow);
                }
            }
            long bound = sendWindow.plus(timeout).multipliedBy(2).plusSeconds(20).toMillis();
            try {
                Measure.await(n + " idle connections to be reaped", bound,
                        () -> recorders.size() == n && recorders.stream().allMatch(r -> r.inactiveAt != 0));
            } catch (IllegalStateException timedOut) {
                // counted below as not reaped
            }
            long t = timeout.toNanos();
            long[] lateness = recorders.stream().filter(r -> r.eventAt != 0 && r.inactiveAt != 0)
                    .mapToLong(r -> r.eventAt - (r.lastActivity + t)).sorted().toArray();
            long[] closePath = recorders.stream().filter(r -> r.eventAt != 0 && r.inactiveAt != 0)
                    .mapToLong(r -> r.inactiveAt - r.eventAt).sorted().toArray();
            return new Precision(lateness, n - lateness.length, closePath);
        } finally {
            for (Channel c : clients) {
                c.close();
            }
            for (Channel c : clients) {
                c.closeFuture().awaitUninterruptibly(10, TimeUnit.SECONDS);
            }
            if (server != null) {
                server.close().sync();
            }
            serverGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
            clientGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }
}
