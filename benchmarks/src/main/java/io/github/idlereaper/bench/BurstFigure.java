package io.github.idlereaper.bench;

import io.github.idlereaper.ReapEvent;
import io.github.idlereaper.bench.Stack.Config;
import io.github.idlereaper.bench.Stack.Timeouts;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
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
import io.netty.handler.timeout.IdleStateEvent;
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
            double gapMs, double gapCpuMs, double cpuGapMs, Where where) {
        double extraNoGcMs() {
            return (worstNoGcUs - baselineUs) / 1e3;
        }
    }

    /**
     * Where the burst's time went. The worst ping's two legs: from the client's timestamp before its send to the
     * server loop reading it (the client's send, the kernel, and the wait for the server loop), and from there back
     * to the client reading the echo (the echo's write, the kernel, the client's loop getting a CPU); the same legs'
     * medians before the burst; the longest of each leg among the pings of the
     * reaping. The pinging thread's time runnable but off a CPU over the reaping; the share of the reaping during which
     * some task on the machine (of any process) waited for a CPU (Linux CPU pressure); the bytes the loop allocated
     * per reap (the reaper's event, Netty's close path, the echo's share). And the loop's own work, from the
     * time each reap's event passed and each closed channel went inactive: see {@link Slices}.
     */
    record Where(double worstRequestUs, double worstReturnUs, double baseRequestUs, double baseReturnUs,
            double maxRequestUs, double maxReturnUs, double pingCpuMs, double pingWaitMs, double pressurePct,
            Slices slices, long worstSentNanos, double bytesPerReap) {
    }

    /**
     * From the start of one run of reap events to the start of the next (a whole cycle of the loop: the slice, the
     * closes' deferred work, the I/O and whatever tasks came due), the wall time and the loop thread's CPU time:
     * p50, p99 and max of each, the CPU time of the cycle with the longest wall time, and which cycle used the most
     * CPU and when it began (nanoTime). A cycle's CPU time bounds how long the loop itself kept its I/O waiting; the
     * rest of its wall time the thread was off a CPU (runnable and waiting for one, or stopped at a safepoint).
     */
    record Cycles(int count, double wallP50Us, double wallP99Us, double wallMaxUs, double cpuP50Us, double cpuP99Us,
            double cpuMaxUs, double cpuOfLongestUs, int busiest, long busiestAtNanos) {
        static Cycles of(long[] wall, long[] cpu, int runs) {
            // The first cycle is left out: the first close reads the scheduler counters from /proc, five file
            // reads that cost the loop over a millisecond in that cycle and are the measurement's, not the loop's.
            int n = Math.max(0, runs - 2);
            if (n == 0) {
                return new Cycles(0, 0, 0, 0, 0, 0, 0, 0, -1, 0);
            }
            long[] w = new long[n];
            long[] c = new long[n];
            int longest = 0;
            int busiest = 0;
            for (int k = 0; k < n; k++) {
                w[k] = wall[k + 2] - wall[k + 1];
                c[k] = cpu[k + 2] - cpu[k + 1];
                if (w[k] > w[longest]) {
                    longest = k;
                }
                if (c[k] > c[busiest]) {
                    busiest = k;
                }
            }
            double cpuOfLongest = c[longest] / 1e3;
            long busiestAt = wall[busiest + 1];
            Arrays.sort(w);
            Arrays.sort(c);
            return new Cycles(n, Measure.quantile(w, 0.5) / 1e3, Measure.quantile(w, 0.99) / 1e3, w[n - 1] / 1e3,
                    Measure.quantile(c, 0.5) / 1e3, Measure.quantile(c, 0.99) / 1e3, c[n - 1] / 1e3, cpuOfLongest,
                    busiest, busiestAt);
        }
    }

    /**
     * The loop's reaping cut into runs: a run is the reap events that came one after another with no close
     * finishing between them (for the reaper, one slice of the wheel's drain), then the closes that finished
     * before the next reap event (Netty's deferred part of each close: deregistration, channelInactive,
     * channelUnregistered, the pipeline's teardown, which run as tasks after the slice). Per run: how many reaps,
     * the span of its reap events, the span of its closes, and the hold from its first reap event to its last close
     * (the loop is away from I/O at least that long). Per close, the median spacing of reap events within a run and
     * of closes within a run.
     */
    record Slices(int runs, double reapsP50, int reapsMax, double drainP50Us, double drainMaxUs,
            double closesP50Us, double closesMaxUs, double holdP50Us, double holdMaxUs, double perReapUs,
            double perCloseUs, Cycles cycles) {
        static Slices of(long[] reaps, int reapCount, long[] closes, int closeCount, Cycles cycles) {
            List<double[]> runs = new ArrayList<>();
            List<Double> reapSteps = new ArrayList<>();
            List<Double> closeSteps = new ArrayList<>();
            int i = 0;
            int j = 0;
            while (i < reapCount) {
                int r0 = i;
                while (j < closeCount && closes[j] < reaps[i]) {
                    j++; // closes of an earlier run that finished after this run's first event (should not happen)
                }
                while (i + 1 < reapCount && (j >= closeCount || reaps[i + 1] < closes[j])) {
                    reapSteps.add((reaps[i + 1] - reaps[i]) / 1e3);
                    i++;
                }
                long nextReap = i + 1 < reapCount ? reaps[i + 1] : Long.MAX_VALUE;
                int c0 = j;
                while (j + 1 < closeCount && closes[j + 1] < nextReap) {
                    closeSteps.add((closes[j + 1] - closes[j]) / 1e3);
                    j++;
                }
                long lastClose = j < closeCount && closes[j] < nextReap ? closes[j] : reaps[i];
                runs.add(new double[] {i - r0 + 1, (reaps[i] - reaps[r0]) / 1e3,
                    j < closeCount ? (closes[j] - closes[Math.min(c0, j)]) / 1e3 : 0, (lastClose - reaps[r0]) / 1e3});
                i++;
                j++;
            }
            if (runs.isEmpty()) {
                return new Slices(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, cycles);
            }
            double[][] cols = new double[4][runs.size()];
            for (int k = 0; k < runs.size(); k++) {
                for (int c = 0; c < 4; c++) {
                    cols[c][k] = runs.get(k)[c];
                }
            }
            return new Slices(runs.size(), Measure.median(cols[0]), (int) max(cols[0]), Measure.median(cols[1]),
                    max(cols[1]), Measure.median(cols[2]), max(cols[2]), Measure.median(cols[3]), max(cols[3]),
                    reapSteps.isEmpty() ? 0 : Measure.median(reapSteps.stream().mapToDouble(d -> d).toArray()),
                    closeSteps.isEmpty() ? 0 : Measure.median(closeSteps.stream().mapToDouble(d -> d).toArray()),
                    cycles);
        }

        private static double max(double[] a) {
            return Arrays.stream(a).max().orElse(0);
        }
    }

    /**
     * A diagnostic, 0 by default: with {@code -Dbench.burst.closeWorkMicros=N}, every reaped connection spends N µs
     * of CPU in channelInactive, as a pipeline with a heavier close path would (a TLS or HTTP/2 handler's clean-up,
     * an application's own bookkeeping). That work runs in the task after the wheel's slice, outside its budget.
     */
    static final long CLOSE_WORK_NANOS = TimeUnit.MICROSECONDS.toNanos(Long.getLong("bench.burst.closeWorkMicros", 0));

    /**
     * Notes when the bare connections close: each close's time, and the scheduler counters of the loop thread and
     * of the pinging thread at the first and the last. One shared instance; runs on the single server loop.
     */
    @ChannelHandler.Sharable
    static final class CloseClock extends ChannelInboundHandlerAdapter {
        volatile long first;
        volatile long last;
        volatile int count;
        /** When each close reached this handler (channelInactive), in order. */
        final long[] at;
        /** The loop thread's scheduler counters at the first and the last close (Linux), or null. */
        volatile long[] schedFirst;
        volatile long[] schedLast;
        /** The same for the pinging thread, read from its /proc/self/task entry. */
        volatile long[] pingSchedFirst;
        volatile long[] pingSchedLast;
        volatile String pingTask;
        /** The bytes the loop thread had allocated at the first and the last close. */
        volatile long allocatedFirst;
        volatile long allocatedLast;
        /** The machine's CPU pressure stall counter at the first and the last close (µs), or -1. */
        volatile long pressureFirst = -1;
        volatile long pressureLast = -1;
        /** Told of every close, to cut the reap events into runs; set before the burst. */
        volatile ReapClock reapClock;
        private final int expected;

        CloseClock(int expected) {
            this.expected = expected;
            this.at = new long[expected];
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            long now = System.nanoTime();
            if (CLOSE_WORK_NANOS > 0) {
                // A heavier close path (see CLOSE_WORK_NANOS): spin, as a handler doing real work would.
                while (System.nanoTime() - now < CLOSE_WORK_NANOS) {
                    Thread.onSpinWait();
                }
            }
            if (count == 0) {
                first = now;
                schedFirst = sched("thread-self");
                pingSchedFirst = pingTask == null ? null : sched(pingTask);
                pressureFirst = cpuPressure();
                allocatedFirst = Measure.allocatedBytes();
            }
            last = now;
            if (count < at.length) {
                at[count] = now;
            }
            ReapClock rc = reapClock;
            if (rc != null) {
                rc.closedSince = true;
            }
            count++;
            if (count == expected) {
                schedLast = sched("thread-self");
                pingSchedLast = pingTask == null ? null : sched(pingTask);
                pressureLast = cpuPressure();
                allocatedLast = Measure.allocatedBytes();
            }
            ctx.fireChannelInactive();
        }

        /**
         * A thread's time on a CPU and waiting for one (runnable, but the OS ran something else), in nanoseconds,
         * and its involuntary context switches: /proc/{@code task}/schedstat and status, where {@code task} is
         * "thread-self" or "self/task/TID". Null where they cannot be read.
         */
        static long[] sched(String task) {
            try {
                String[] stat = java.nio.file.Files.readString(java.nio.file.Path.of("/proc", task, "schedstat"))
                        .trim().split(" ");
                long involuntary = -1;
                for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc", task, "status"))) {
                    if (line.startsWith("nonvoluntary_ctxt_switches:")) {
                        involuntary = Long.parseLong(line.substring(line.indexOf(':') + 1).trim());
                    }
                }
                return new long[] {Long.parseLong(stat[0]), Long.parseLong(stat[1]), involuntary};
            } catch (Exception | Error e) {
                return null;
            }
        }

        /**
         * The machine's "some" CPU pressure stall total (/proc/pressure/cpu): microseconds during which at least one
         * runnable task, of any process, waited for a CPU. -1 where it cannot be read.
         */
        static long cpuPressure() {
            try {
                String some = java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/pressure/cpu")).get(0);
                return Long.parseLong(some.substring(some.indexOf("total=") + "total=".length()).trim());
            } catch (Exception | Error e) {
                return -1;
            }
        }

        /** The calling thread's entry under /proc ("self/task/TID"), or null off Linux. */
        static String selfTask() {
            try {
                String link = java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/thread-self"))
                        .toString();
                return "self/task/" + link.substring(link.lastIndexOf('/') + 1);
            } catch (Exception | Error e) {
                return null;
            }
        }
    }

    /**
     * Notes when each reap's event (ReapEvent, IdleStateEvent) passes, right behind the timer handler: just before
     * the close, inside the wheel's slice for the reaper. One shared instance; runs on the single server loop.
     */
    @ChannelHandler.Sharable
    static final class ReapClock extends ChannelInboundHandlerAdapter {
        private static final java.lang.management.ThreadMXBean THREADS =
                java.lang.management.ManagementFactory.getThreadMXBean();
        final long[] at;
        int count;
        /** The wall clock and the loop thread's CPU time at the first reap event after a close (a run's start). */
        final long[] runWall;
        final long[] runCpu;
        int runs;
        /** Set by the close clock: a close came since the last reap event. */
        boolean closedSince = true;

        ReapClock(int expected) {
            this.at = new long[expected];
            this.runWall = new long[expected];
            this.runCpu = new long[expected];
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if ((evt instanceof ReapEvent || evt instanceof IdleStateEvent) && count < at.length) {
                long now = System.nanoTime();
                at[count++] = now;
                if (closedSince) {
                    closedSince = false;
                    runWall[runs] = now;
                    runCpu[runs++] = THREADS.getCurrentThreadCpuTime();
                }
            }
            ctx.fireUserEventTriggered(evt);
        }
    }

    /** Writes every message back, noting when each ping (its sequence number in its first 8 bytes) arrived. */
    @ChannelHandler.Sharable
    static final class Echo extends ChannelInboundHandlerAdapter {
        final long[] arrivedAt;

        Echo(int capacity) {
            arrivedAt = new long[capacity];
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            long now = System.nanoTime();
            ByteBuf b = (ByteBuf) msg;
            if (b.readableBytes() >= 8) {
                long seq = b.getLong(b.readerIndex());
                if (seq >= 0 && seq < arrivedAt.length) {
                    arrivedAt[(int) seq] = now;
                }
            }
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

        /** Sends ping number {@code count}: its round trip will be recorded at that index. */
        void ping(Channel ch) {
            pendingSince = System.nanoTime();
            ch.writeAndFlush(Unpooled.buffer(8).writeLong(count));
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
                // The gap holding the first close is left out: that close reads the scheduler counters from /proc.
                if (wall[i] < from || wall[i - 1] > to || wall[i - 1] <= from) {
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

    /** Counter {@code i} of the pinging thread over the reaping (ms for times), or -1 where unknown. */
    private static double pingSched(CloseClock clock, int i) {
        long[] a = clock.pingSchedFirst;
        long[] b = clock.pingSchedLast;
        if (a == null || b == null || a[i] < 0) {
            return -1;
        }
        return i == 2 ? b[i] - a[i] : (b[i] - a[i]) / 1e6;
    }

    /**
     * A diagnostic, off by default: with {@code -Dbench.burst.fifo=P} (root only), the server loop's and the pinging
     * loop's threads run under SCHED_FIFO at priority P, so that no other thread on the machine, of this process or
     * another, takes a CPU from them while they are runnable. Both wait in their selectors except during the burst,
     * so they hold a CPU only while they work. What remains of the burst's extra latency is then the loops' own.
     * (A nice value would not do: with the kernel's autogroups, each session shares the CPUs with the others as one
     * group, whatever its threads' nice values.)
     */
    private static void realtime(String... tasks) throws Exception {
        String priority = System.getProperty("bench.burst.fifo");
        if (priority == null) {
            return;
        }
        for (String task : tasks) {
            if (task == null) {
                continue;
            }
            String tid = task.substring(task.lastIndexOf('/') + 1);
            Process p = new ProcessBuilder("chrt", "-f", "-p", priority, tid).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            if (p.waitFor() != 0) {
                throw new IllegalStateException("chrt -f -p " + priority + " " + tid + " failed: " + out.trim());
            }
        }
    }

    private static double medianUs(List<Long> nanos) {
        return nanos.isEmpty() ? Double.NaN
                : Measure.median(nanos.stream().mapToDouble(x -> x / 1e3).toArray());
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
        ReapClock reapClock = new ReapClock(n);
        clock.reapClock = reapClock;
        Channel[] children = new Channel[n];
        int[] accepted = {0};
        List<Channel> toClose = new ArrayList<>();
        EventLoop serverLoop = serverGroup.next();
        int capacity = (int) Math.min(4_000_000, 200_000L * (timeout.toSeconds() + 10));
        Pinger pinger = new Pinger(capacity);
        Echo echo = new Echo(capacity);
        try {
            ChannelInitializer<Channel> echoInit = new ChannelInitializer<>() {
                @Override
                protected void initChannel(Channel ch) {
                    ch.pipeline().addLast(echo);
                    stack.addFirst(ch.pipeline());
                }
            };
            Channel pingChannel;
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
            clock.pingTask = pingChannel.eventLoop().submit(CloseClock::selfTask).get();
            realtime(serverLoop.submit(CloseClock::selfTask).get(), clock.pingTask);
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
            serverLoop.submit(() -> CloseClock.sched("thread-self")).get();
            long[] armSpan = serverLoop.submit(() -> {
                long a = System.nanoTime();
                for (Channel ch : children) {
                    // The timer handler, the reap clock right behind it (ahead of a closer), then the rest.
                    ChannelHandler[] hs = stack.newHandlers();
                    for (int k = hs.length - 1; k >= 1; k--) {
                        ch.pipeline().addFirst(hs[k]);
                    }
                    ch.pipeline().addFirst(reapClock);
                    ch.pipeline().addFirst(hs[0]);
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
            int worstIndex = -1;
            int inBurst = 0;
            List<Long> beforeRequest = new ArrayList<>();
            List<Long> beforeReturn = new ArrayList<>();
            long maxRequest = 0;
            long maxReturn = 0;
            for (int i = 0; i < pings; i++) {
                long s = pinger.sentAt[i];
                long e = s + pinger.rtt[i];
                long arrived = echo.arrivedAt[i];
                if (s >= first - TimeUnit.SECONDS.toNanos(1) && e < first && s > armSpan[1]) {
                    before.add(pinger.rtt[i]);
                    if (arrived != 0) {
                        beforeRequest.add(arrived - s);
                        beforeReturn.add(e - arrived);
                    }
                }
                if (e >= first && s <= last) {
                    if (pinger.rtt[i] > worst) {
                        worst = pinger.rtt[i];
                        worstAt = s - first;
                        worstIndex = i;
                    }
                    if (arrived != 0) {
                        maxRequest = Math.max(maxRequest, arrived - s);
                        maxReturn = Math.max(maxReturn, e - arrived);
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
            long worstArrived = worstIndex < 0 ? 0 : echo.arrivedAt[worstIndex];
            double worstRequest = worstArrived == 0 ? Double.NaN : (worstArrived - pinger.sentAt[worstIndex]) / 1e3;
            double worstReturn = worstArrived == 0 ? Double.NaN
                    : (pinger.sentAt[worstIndex] + pinger.rtt[worstIndex] - worstArrived) / 1e3;
            int reaps = serverLoop.submit(() -> reapClock.count).get();
            int runs = serverLoop.submit(() -> reapClock.runs).get();
            Slices slices = Slices.of(reapClock.at, reaps, clock.at, Math.min(clock.count, n),
                    Cycles.of(reapClock.runWall, reapClock.runCpu, runs));
            Where where = new Where(worstRequest, worstReturn, medianUs(beforeRequest), medianUs(beforeReturn),
                    maxRequest / 1e3, maxReturn / 1e3, pingSched(clock, 0), pingSched(clock, 1),
                    clock.pressureFirst < 0 || clock.pressureLast < 0 || last == first ? -1
                            : (clock.pressureLast - clock.pressureFirst) * 1e3 / (last - first) * 100, slices,
                    worstIndex < 0 ? 0 : pinger.sentAt[worstIndex],
                    n < 2 ? Double.NaN : (double) (clock.allocatedLast - clock.allocatedFirst) / (n - 1));
            return new Burst(baseline, worst / 1e3, (worst / 1e3 - baseline) / 1e3, clock.count,
                    (last - first) / 1e6, (armSpan[1] - armSpan[0]) / 1e6, inBurst, worstArmed / 1e3, pauses.size(),
                    gcMax, worstNoGc / 1e3, Measure.quantile(d, 0.5) / 1e3, Measure.quantile(d, 0.99) / 1e3,
                    worstAt / 1e6, over2ms, sched(clock, 0), sched(clock, 1), (long) sched(clock, 2),
                    loopGaps[0], loopGaps[1], loopGaps[2], where);
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
