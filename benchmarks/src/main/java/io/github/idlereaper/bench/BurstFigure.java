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
            double p99Us, double worstAtMs, int over2ms, double loopCpuMs, double loopWaitMs, long involuntary,
            double gapMs, double gapCpuMs, double cpuGapMs) {
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
        /** The loop thread's scheduler counters at the first and the last close (Linux), or null. */
        volatile long[] schedFirst;
        volatile long[] schedLast;
        private final int expected;

        CloseClock(int expected) {
            this.expected = expected;
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            long now = System.nanoTime();
            if (count == 0) {
                first = now;
                schedFirst = sched();
            }
            last = now;
            count++;
            if (count == expected) {
                schedLast = sched();
            }
            ctx.fireChannelInactive();
        }

        /**
         * The calling thread's time on a CPU and waiting for one (runnable, but the OS ran something else), in
         * nanoseconds, and its involuntary context switches: /proc/thread-self/schedstat and status. Null
         * where they cannot be read.
         */
        static long[] sched() {
            try {
                String[] stat = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/thread-self/schedstat"))
                        .trim().split(" ");
                long involuntary = -1;
                for (String line : java.nio.file.Files.readAllLines(
                        java.nio.file.Path.of("/proc/thread-self/status"))) {
                    if (line.startsWith("nonvoluntary_ctxt_switches:")) {
                        involuntary = Long.parseLong(line.substring(line.indexOf(':') + 1).trim());
                    }
                }
                return new long[] {Long.parseLong(stat[0]), Long.parseLong(stat[1]), involuntary};
            } catch (Exception | Error e) {
                return null;
            }
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

    /**
     * A task on the loop every millisecond that notes the wall clock and the loop thread's CPU time. Between two
     * runs the loop was busy with other work or not on a CPU at all; the CPU time tells which.
     */
    static final class LoopProbe implements Runnable {
        private static final java.lang.management.ThreadMXBean THREADS =
                java.lang.management.ManagementFactory.getThreadMXBean();
        final long[] wall = new long[60_000];
        final long[] cpu = new long[60_000];
        int count;

        @Override
        public void run() {
            if (count < wall.length) {
                wall[count] = System.nanoTime();
                cpu[count] = THREADS.getCurrentThreadCpuTime();
                count++;
            }
        }

        /**
         * Over the gaps that overlap [from, to]: the longest gap, the loop's CPU time within it, and the most CPU
         * time within any gap (the longest the loop itself kept busy between two runs), in ms.
         */
        double[] gaps(long from, long to) {
            double gap = 0;
            double gapCpu = 0;
            double cpuGap = 0;
            for (int i = 1; i < count; i++) {
                if (wall[i] < from || wall[i - 1] > to) {
                    continue;
                }
                double g = (wall[i] - wall[i - 1]) / 1e6;
                double c = (cpu[i] - cpu[i - 1]) / 1e6;
                if (g > gap) {
                    gap = g;
                    gapCpu = c;
                }
                cpuGap = Math.max(cpuGap, c);
            }
            return new double[] {gap, gapCpu, cpuGap};
        }
    }

    /** Counter {@code i} of the loop thread over the reaping (ms for times), or -1 where unknown. */
    private static double sched(CloseClock clock, int i) {
        long[] a = clock.schedFirst;
        long[] b = clock.schedLast;
        if (a == null || b == null || a[i] < 0) {
            return -1;
        }
        return i == 2 ? b[i] - a[i] : (b[i] - a[i]) / 1e6;
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
        CloseClock clock = new CloseClock(n);
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
            // Read the scheduler counters once before the burst: the first read loads classes and would otherwise
            // charge milliseconds to the loop at the burst's first close.
            serverLoop.submit(CloseClock::sched).get();
            long[] armSpan = serverLoop.submit(() -> {
                long a = System.nanoTime();
                for (Channel ch : children) {
                    stack.addFirst(ch.pipeline());
                }
                return new long[] {a, System.nanoTime()};
            }).get();
            // The handlers were just made, and so young; in a server, a connection that expires after a long
            // idle timeout has old ones. Promote them too, or the first young collection of the burst copies
            // 100,000 handlers and charges that pause to the burst (as it did: 13 to 55 ms). A ping in flight
            // meanwhile counts toward "worst between arming and reaping", not toward the figure.
            System.gc();
            LoopProbe probe = new LoopProbe();
            io.netty.util.concurrent.ScheduledFuture<?> probing =
                    serverLoop.scheduleAtFixedRate(probe, 1, 1, TimeUnit.MILLISECONDS);
            Measure.await("the burst of reaps", timeout.toMillis() * 2 + 30_000, () -> clock.count == n);
            probing.cancel(false);
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
            long worstAt = 0;
            int inBurst = 0;
            for (int i = 0; i < pings; i++) {
                long s = pinger.sentAt[i];
                long e = s + pinger.rtt[i];
                if (s >= first - TimeUnit.SECONDS.toNanos(1) && e < first && s > armSpan[1]) {
                    before.add(pinger.rtt[i]);
                }
                if (e >= first && s <= last) {
                    if (pinger.rtt[i] > worst) {
                        worst = pinger.rtt[i];
                        worstAt = s - first;
                    }
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
            double[] loopGaps = serverLoop.submit(() -> probe.gaps(first, last)).get();
            long[] d = during.stream().mapToLong(Long::longValue).toArray();
            Arrays.sort(d);
            long slow = (long) (baseline * 1e3) + TimeUnit.MILLISECONDS.toNanos(2);
            int over2ms = (int) Arrays.stream(d).filter(x -> x > slow).count();
            return new Burst(baseline, worst / 1e3, (worst / 1e3 - baseline) / 1e3, clock.count,
                    (last - first) / 1e6, (armSpan[1] - armSpan[0]) / 1e6, inBurst, worstArmed / 1e3, pauses.size(),
                    gcMax, worstNoGc / 1e3, Measure.quantile(d, 0.5) / 1e3, Measure.quantile(d, 0.99) / 1e3,
                    worstAt / 1e6, over2ms, sched(clock, 0), sched(clock, 1), (long) sched(clock, 2),
                    loopGaps[0], loopGaps[1], loopGaps[2]);
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
