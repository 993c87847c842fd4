package io.github.idlereaper.bench;

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
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.local.LocalAddress;
import io.netty.channel.local.LocalChannel;
import io.netty.channel.local.LocalIoHandler;
import io.netty.channel.local.LocalServerChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.ReferenceCountUtil;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Figure 5: n connections expire together on one event loop, and an echo connection on the same loop keeps asking.
 *
 * <p>n idle connections are opened bare on one single-thread loop (see {@link Transport} for the two kinds). One
 * more connection to the same loop carries the configuration's handlers and an echo handler; its client, on a loop
 * of its own, pings without pause (the next ping leaves when the echo of the last arrives) and records each round
 * trip. Then one task on the server loop adds the configuration's handlers to all n idle connections at once, so
 * all their timers start within that task: with the reaper, inside one wheel tick. {@code timeout} later they are
 * all reaped. The figure is the worst round trip of the pings in flight while the reaped connections closed, minus
 * the median round trip of the second before; garbage-collection pauses in that window are reported beside it.
 */
final class BurstFigure {

    /**
     * Round trips in microseconds, the span of the reaping and of the task that armed the timers, and the
     * collector's part: the pauses during the reaping, and the worst round trip of the pings that no pause touched.
     */
    record Burst(double baselineUs, double worstUs, double extraMs, int reaped, double reapSpanMs, double armSpanMs,
            int pingsInBurst, double worstArmedUs, int gcPauses, double gcMaxMs, double worstNoGcUs, double p50Us,
            double p99Us) {
        double extraNoGcMs() {
            return (worstNoGcUs - baselineUs) / 1e3;
        }
    }

    /** Notes when the bare connections close. One shared instance; runs on the single server loop. */
    @ChannelHandler.Sharable
    static final class CloseClock extends ChannelInboundHandlerAdapter {
        volatile long first;
        volatile long last;
        volatile int count;

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            long now = System.nanoTime();
            if (count == 0) {
                first = now;
            }
            last = now;
            count++;
            ctx.fireChannelInactive();
        }
    }

    /** Writes every message back. */
    @ChannelHandler.Sharable
    static final class Echo extends ChannelInboundHandlerAdapter {
        static final Echo INSTANCE = new Echo();

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ctx.writeAndFlush(msg);
        }
    }

    /** Pings without pause and records send time and round trip of each, up to its capacity. */
    static final class Pinger extends ChannelInboundHandlerAdapter {
        final long[] sentAt;
        final long[] rtt;
        volatile int count;
        volatile boolean stop;
        private long pendingSince;

        Pinger(int capacity) {
            sentAt = new long[capacity];
            rtt = new long[capacity];
        }

        void ping(Channel ch) {
            pendingSince = System.nanoTime();
            ch.writeAndFlush(Unpooled.wrappedBuffer(new byte[8]));
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            long now = System.nanoTime();
            ReferenceCountUtil.release(msg);
            int c = count;
            if (c < sentAt.length) {
                sentAt[c] = pendingSince;
                rtt[c] = now - pendingSince;
                count = c + 1;
            }
            if (!stop && c + 1 < sentAt.length) {
                ping(ctx.channel());
            }
        }
    }

    private BurstFigure() {
    }

    /** Where the idle connections and the echo connection live. */
    enum Transport {
        /**
         * A real NIO loop: the idle connections are {@link SimChannel}s registered on it (no socket, so 100,000
         * fit under the file-descriptor limit; their close runs Netty's whole close path except the syscall), the
         * echo connection is a real loopback TCP connection on the same loop, so its request is real socket I/O.
         */
        NIO,
        /**
         * LocalChannel pairs, both ends of the idle ones on one loop (each reap also closes the peer there, inside
         * the slice: the heavier case); the echo connection is a LocalChannel too, so its request is a task.
         */
        LOCAL
    }

    static Burst run(Transport transport, Config config, int n, Duration timeout, Duration tick) throws Exception {
        Stack stack = Stack.of(config, Timeouts.readOnly(timeout, tick));
        boolean nio = transport == Transport.NIO;
        EventLoopGroup serverGroup = new MultiThreadIoEventLoopGroup(1,
                nio ? NioIoHandler.newFactory() : LocalIoHandler.newFactory());
        EventLoopGroup bossGroup = new MultiThreadIoEventLoopGroup(1,
                nio ? NioIoHandler.newFactory() : LocalIoHandler.newFactory());
        EventLoopGroup pingGroup = new MultiThreadIoEventLoopGroup(1,
                nio ? NioIoHandler.newFactory() : LocalIoHandler.newFactory());
        CloseClock clock = new CloseClock();
        Channel[] children = new Channel[n];
        int[] accepted = {0};
        List<Channel> toClose = new ArrayList<>();
        EventLoop serverLoop = serverGroup.next();
        try {
            ChannelInitializer<Channel> echoInit = new ChannelInitializer<>() {
                @Override
                protected void initChannel(Channel ch) {
                    ch.pipeline().addLast(Echo.INSTANCE);
                    stack.addFirst(ch.pipeline());
                }
            };
            Channel pingChannel;
            Pinger pinger = new Pinger((int) Math.min(4_000_000, 200_000L * (timeout.toSeconds() + 10)));
            if (nio) {
                for (int from = 0; from < n; from += 10_000) {
                    int begin = from;
                    serverLoop.submit(() -> {
                        for (int i = begin; i < Math.min(n, begin + 10_000); i++) {
                            SimChannel ch = new SimChannel();
                            ch.pipeline().addLast(clock);
                            serverLoop.register(ch);
                            children[i] = ch;
                        }
                        accepted[0] = Math.min(n, begin + 10_000);
                    }).sync();
                }
                Channel server = new ServerBootstrap().group(bossGroup, serverGroup)
                        .channel(NioServerSocketChannel.class).childOption(ChannelOption.TCP_NODELAY, true)
                        .childHandler(echoInit).bind("127.0.0.1", 0).sync().channel();
                toClose.add(server);
                pingChannel = new Bootstrap().group(pingGroup).channel(NioSocketChannel.class)
                        .option(ChannelOption.TCP_NODELAY, true).handler(pinger)
                        .connect(server.localAddress()).sync().channel();
            } else {
                String id = config + "-" + System.nanoTime();
                LocalAddress idleAddr = new LocalAddress("burst-idle-" + id);
                LocalAddress echoAddr = new LocalAddress("burst-echo-" + id);
                toClose.add(new ServerBootstrap().group(serverGroup).channel(LocalServerChannel.class)
                        .childHandler(new ChannelInitializer<>() {
                            @Override
                            protected void initChannel(Channel ch) {
                                children[accepted[0]++] = ch; // the one server loop
                                ch.pipeline().addLast(clock);
                            }
                        }).bind(idleAddr).sync().channel());
                toClose.add(new ServerBootstrap().group(serverGroup).channel(LocalServerChannel.class)
                        .childHandler(echoInit).bind(echoAddr).sync().channel());
                // The idle connections' client ends live on the server loop too: their side of each close then
                // runs inside the reaper's slices (a cost a real server does not have, so this is the harder
                // case), and no third busy thread competes with the loop under test for the two cores.
                Bootstrap cb = new Bootstrap().group(serverGroup).channel(LocalChannel.class)
                        .handler(Handlers.InSink.INSTANCE);
                List<ChannelFuture> batch = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    batch.add(cb.connect(idleAddr, Locals.next()));
                    if (batch.size() == 2000 || i == n - 1) {
                        for (ChannelFuture f : batch) {
                            toClose.add(f.sync().channel());
                        }
                        batch.clear();
                    }
                }
                pingChannel = new Bootstrap().group(pingGroup).channel(LocalChannel.class).handler(pinger)
                        .connect(echoAddr).sync().channel();
            }
            toClose.add(pingChannel);
            Measure.await("all idle connections open", 60_000,
                    () -> Measure.call(() -> serverLoop.submit(() -> accepted[0]).get()) == n);

            // In a server that has run for a while, its connections live in the old generation; here they were
            // just made. Promote them now, or the first young collections during the burst would copy them all
            // and the pause would be the benchmark's doing, not the reaper's.
            System.gc();
            pingChannel.eventLoop().execute(() -> pinger.ping(pingChannel));
            Thread.sleep(1500); // a baseline second, and time to warm up

            GcPauses gc = new GcPauses();
            long[] armSpan = serverLoop.submit(() -> {
                long a = System.nanoTime();
                for (Channel ch : children) {
                    stack.addFirst(ch.pipeline());
                }
                return new long[] {a, System.nanoTime()};
            }).get();
            Measure.await("the burst of reaps", timeout.toMillis() * 2 + 30_000, () -> clock.count == n);
            Thread.sleep(200);
            pinger.stop = true;
            Thread.sleep(50);
            gc.close();

            int pings = pinger.count;
            long first = clock.first;
            long last = clock.last;
            List<Long> before = new ArrayList<>();
            List<Long> during = new ArrayList<>();
            long worst = 0;
            long worstNoGc = 0;
            long worstArmed = 0;
            int inBurst = 0;
            for (int i = 0; i < pings; i++) {
                long s = pinger.sentAt[i];
                long e = s + pinger.rtt[i];
                if (s >= first - TimeUnit.SECONDS.toNanos(1) && e < first && s > armSpan[1]) {
                    before.add(pinger.rtt[i]);
                }
                if (e >= first && s <= last) {
                    worst = Math.max(worst, pinger.rtt[i]);
                    during.add(pinger.rtt[i]);
                    if (gc.during(s, e).isEmpty()) {
                        worstNoGc = Math.max(worstNoGc, pinger.rtt[i]);
                    }
                    inBurst++;
                }
                if (s > armSpan[1] && e < first) {
                    worstArmed = Math.max(worstArmed, pinger.rtt[i]);
                }
            }
            long[] b = before.stream().mapToLong(Long::longValue).toArray();
            Arrays.sort(b);
            double baseline = b.length == 0 ? Double.NaN : Measure.quantile(b, 0.5) / 1e3;
            List<GcPauses.Pause> pauses = gc.during(first, last);
            double gcMax = pauses.stream().mapToDouble(GcPauses.Pause::millis).max().orElse(0);
            long[] d = during.stream().mapToLong(Long::longValue).toArray();
            Arrays.sort(d);
            return new Burst(baseline, worst / 1e3, (worst / 1e3 - baseline) / 1e3, clock.count,
                    (last - first) / 1e6, (armSpan[1] - armSpan[0]) / 1e6, inBurst, worstArmed / 1e3, pauses.size(),
                    gcMax, worstNoGc / 1e3, Measure.quantile(d, 0.5) / 1e3, Measure.quantile(d, 0.99) / 1e3);
        } finally {
            for (Channel c : toClose) {
                c.close();
            }
            for (Channel c : toClose) {
                c.closeFuture().awaitUninterruptibly(10, TimeUnit.SECONDS);
            }
            if (nio) {
                serverLoop.submit(() -> {
                    for (Channel ch : children) {
                        if (ch != null) {
                            ch.close();
                        }
                    }
                }).awaitUninterruptibly(30, TimeUnit.SECONDS);
            }
            serverGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
            bossGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
            pingGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }
}
