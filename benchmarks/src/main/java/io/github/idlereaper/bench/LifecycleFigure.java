package io.github.idlereaper.bench;

import io.github.idlereaper.IdleReaper;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.DefaultEventLoopGroup;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.local.LocalAddress;
import io.netty.channel.local.LocalChannel;
import io.netty.channel.local.LocalServerChannel;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Figure 7c: an age burst. n LocalChannel connections accepted together reach their age (or, for Netty's
 * IdleStateHandler with a closer, their read timeout) in the same moment, on one server loop; the figure records
 * each close and reports how the closes spread: over how long, and the most in any one second.
 */
final class LifecycleFigure {

    /** How the closes of one burst spread. */
    record Burst(int closed, double spanSeconds, int mostInASecond, long earlyNanos) {
    }

    @io.netty.channel.ChannelHandler.Sharable
    private static final class Quiet extends ChannelInboundHandlerAdapter {
    }

    /** Closes on IdleStateHandler's read-idle event. */
    @io.netty.channel.ChannelHandler.Sharable
    private static final class Closer extends ChannelInboundHandlerAdapter {
        @Override
        public void userEventTriggered(io.netty.channel.ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof IdleStateEvent) {
                ctx.close();
            } else {
                ctx.fireUserEventTriggered(evt);
            }
        }
    }

    private LifecycleFigure() {
    }

    /**
     * Opens n connections and waits for them all to close: with {@code rate} > 0 the reaper's age with that close
     * rate (burst 100), with 0 the reaper's age with no rate, with -1 Netty's IdleStateHandler at the same time.
     */
    static Burst run(int n, Duration age, int rate) throws Exception {
        long[] closedAt = new long[n];
        AtomicInteger closed = new AtomicInteger();
        long[] acceptedBy = {0};
        IdleReaper reaper = null;
        if (rate >= 0) {
            // A 20 ms tick: the bucket holds at least a tick's worth of closes (rate / 100 here), so the most in a
            // second is the rate plus the larger of the burst and that.
            IdleReaper.Builder b = IdleReaper.builder().maxConnectionAge(age).maxConnectionAgeJitter(0)
                    .tickResolution(Duration.ofMillis(20));
            if (rate > 0) {
                b.closeRate(rate, 100);
            }
            reaper = b.build();
        }
        EventLoopGroup server = new DefaultEventLoopGroup(1);
        EventLoopGroup clients = new DefaultEventLoopGroup(1);
        try {
            LocalAddress addr = new LocalAddress("age-burst-" + System.nanoTime());
            ServerBootstrap sb = new ServerBootstrap().group(server).channel(LocalServerChannel.class)
                    .childHandler(new ChannelInitializer<Channel>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            if (rate < 0) {
                                ch.pipeline().addLast(new IdleStateHandler(age.toNanos(), 0, 0, TimeUnit.NANOSECONDS),
                                        new Closer());
                            }
                            ch.closeFuture().addListener(f -> closedAt[closed.getAndIncrement()] = System.nanoTime());
                        }
                    });
            if (reaper != null) {
                reaper.install(sb);
            }
            sb.bind(addr).sync();
            Bootstrap cb = new Bootstrap().group(clients).channel(LocalChannel.class).handler(new Quiet());
            List<io.netty.channel.ChannelFuture> fs = new ArrayList<>(n);
            String prefix = "age-burst-client-" + System.nanoTime() + "-";
            for (int i = 0; i < n; i++) {
                // Named, not ephemeral: LocalChannel's random ephemeral names collide among 100,000.
                fs.add(cb.connect(addr, new LocalAddress(prefix + i)));
            }
            for (io.netty.channel.ChannelFuture f : fs) {
                f.sync();
            }
            acceptedBy[0] = System.nanoTime();
            long deadline = System.nanoTime() + age.toNanos() + TimeUnit.SECONDS.toNanos(60 + n / 1000);
            while (closed.get() < n && System.nanoTime() < deadline) {
                server.submit(() -> { }).sync(); // wait on the loop, not with a sleep
                clients.next().schedule(() -> { }, 20, TimeUnit.MILLISECONDS).sync();
            }
        } finally {
            clients.shutdownGracefully(0, 0, TimeUnit.SECONDS).sync();
            server.shutdownGracefully(0, 0, TimeUnit.SECONDS).sync();
        }
        int c = closed.get();
        long[] t = Arrays.copyOf(closedAt, c);
        Arrays.sort(t);
        int most = 0;
        for (int i = 0, j = 0; i < c; i++) {
            while (t[i] - t[j] >= 1_000_000_000L) {
                j++;
            }
            most = Math.max(most, i - j + 1);
        }
        // Every connection was accepted before acceptedBy; the first close before acceptedBy + age - (time to
        // accept them all) could be early. Reported as how far the first close came before the last accept + age.
        long early = c == 0 ? 0 : Math.max(0, acceptedBy[0] + age.toNanos() - t[0]);
        return new Burst(c, c < 2 ? 0 : (t[c - 1] - t[0]) / 1e9, most, early);
    }
}
