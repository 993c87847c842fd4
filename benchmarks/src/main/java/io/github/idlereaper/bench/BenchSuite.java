package io.github.idlereaper.bench;

import static io.github.idlereaper.bench.Report.fmt;
import static io.github.idlereaper.bench.Report.ratio;

import io.github.idlereaper.bench.BurstFigure.Burst;
import io.github.idlereaper.bench.EchoFigure.Echo;
import io.github.idlereaper.bench.HeapFigure.PerConn;
import io.github.idlereaper.bench.JmhFigure.Scores;
import io.github.idlereaper.bench.LoopCostFigure.Cost;
import io.github.idlereaper.bench.LoopCostFigure.Op;
import io.github.idlereaper.bench.PrecisionFigure.Precision;
import io.github.idlereaper.bench.Stack.Config;
import io.github.idlereaper.bench.Stack.Timeouts;
import io.github.idlereaper.bench.UpkeepFigure.Upkeep;
import io.netty.util.Version;
import java.io.IOException;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * The benchmark suite of issue #5: seven figures, four configurations (bare, pass-through, Netty's IdleStateHandler
 * with a closer, the reaper) side by side in one run, one table. Run it with {@code bash benchmarks/run.sh}; see
 * docs/performance.md for what each figure does and why.
 *
 * <p>Arguments: {@code --smoke} (tiny sizes, for the test), {@code --figures=1,2,...} (a subset), {@code
 * --out=FILE} (where the Markdown report goes; default {@code target/bench/results-jdkN.md}).
 */
public final class BenchSuite {

    /** How big each figure runs. */
    record Sizes(
            int heapLocal,
            int heapNio,
            int loopOps,
            int loopWarmupRounds,
            int loopRounds,
            int jmhForks,
            int jmhWarmups,
            int jmhIterations,
            TimeValue jmhTime,
            int upkeepConnections,
            int precisionConnections,
            Duration precisionTimeout,
            int burstConnections,
            Duration burstTimeout,
            int echoConnections,
            int echoRounds,
            Duration echoRoundTime) {

        /** The sizes the issue asks for, within about ten minutes on two cores. */
        static Sizes full() {
            return new Sizes(50_000, 19_000, 200_000, 10, 31, 2, 3, 4, TimeValue.seconds(1), 1_000_000, 20_000,
                    Duration.ofSeconds(4), 100_000, Duration.ofSeconds(5), 1_000, 24, Duration.ofSeconds(1));
        }

        /** Tiny sizes that exercise every code path in seconds. */
        static Sizes smoke() {
            return new Sizes(300, 200, 20_000, 1, 3, 0, 0, 1, TimeValue.milliseconds(100), 2_000, 200,
                    Duration.ofSeconds(2), 500, Duration.ofSeconds(1), 20, 1, Duration.ofMillis(200));
        }
    }

    /** The timeouts every configuration gets in figures 2, 3 and 6: all four timers at 60 s. */
    static final Timeouts SIXTY = Timeouts.all(Duration.ofSeconds(60));
    /**
     * Figure 1's: all four at 2 minutes, so that no heartbeat ping (after 30 s) is sent while connections are
     * counted; a ping would allocate buffers and blur the histogram.
     */
    static final Timeouts HEAP = Timeouts.all(Duration.ofMinutes(2));
    /** Half a byte per operation or per second is "zero": JMH's normalised rate carries its own tiny noise. */
    static final double ZERO_BYTES = 0.5;

    private BenchSuite() {
    }

    public static void main(String[] args) throws Exception {
        boolean smoke = false;
        boolean fork = true;
        Set<Integer> figures = new TreeSet<>(Set.of(1, 2, 3, 4, 5, 6, 7));
        Path out = null;
        Path emit = null;
        for (String a : args) {
            if (a.equals("--smoke")) {
                smoke = true;
            } else if (a.equals("--no-fork")) {
                fork = false;
            } else if (a.startsWith("--figures=")) {
                figures = new TreeSet<>();
                for (String f : a.substring("--figures=".length()).split(",")) {
                    figures.add(Integer.parseInt(f.trim()));
                }
            } else if (a.startsWith("--out=")) {
                out = Path.of(a.substring("--out=".length()));
            } else if (a.startsWith("--emit=")) {
                emit = Path.of(a.substring("--emit=".length()));
            } else {
                System.err.println("usage: BenchSuite [--smoke] [--figures=1,2,3,4,5,6] [--out=FILE] [--no-fork]");
                System.exit(2);
            }
        }
        if (out == null) {
            out = Path.of("target", "bench", "results-jdk" + Runtime.version().feature() + ".md");
        }
        Path workDir = out.toAbsolutePath().getParent();
        Files.createDirectories(workDir);
        Sizes sizes = smoke ? Sizes.smoke() : Sizes.full();
        if (emit != null) {
            // A child of a forked run: one figure, its report to a file for the parent.
            Report r = run(sizes, figures, workDir);
            Files.write(emit, r.serialize(), StandardCharsets.UTF_8);
            System.exit(0);
        }
        String env = environment();
        System.out.println(env);
        long start = System.nanoTime();
        Report report;
        if (fork) {
            report = new Report();
            for (int f : figures) {
                report.merge(runForked(f, smoke, workDir, false));
            }
            derived(report);
        } else {
            report = run(sizes, figures, workDir);
        }
        String text = env + "- Finished in " + Math.round((System.nanoTime() - start) / 1e9) + " s; load average "
                + "at the end: " + loadAverage() + (fork ? "; each figure ran in a fresh JVM" : "") + "\n\n"
                + report.table() + "\nDetails:\n\n"
                + report.details().stream().map(d -> "- " + d).collect(Collectors.joining("\n")) + "\n";
        System.out.println();
        System.out.println(report.table());
        Files.writeString(out, text, StandardCharsets.UTF_8);
        System.out.println("Report written to " + out);
        System.exit(0); // the JMH runner and Netty leave non-daemon threads behind
    }

    /**
     * Runs figure {@code f} in a fresh JVM with this JVM's options and class path, and reads its report back. A
     * figure then finds neither the previous figure's garbage (a million channels of figure 3 would be collected
     * during figure 4's measurements) nor its compiled code (call sites that saw three channel types), only its
     * own. The smoke test runs figure 1 this way: its heap histogram counts every channel of the JVM, and in the
     * test JVM one that an earlier test class left to its loop was counted against it. With {@code toLog} the
     * child's output goes to {@code figure<f>.log} in {@code workDir} instead of this JVM's.
     */
    static Report runForked(int f, boolean smoke, Path workDir, boolean toLog) throws IOException, InterruptedException {
        Path emit = Files.createTempFile(workDir, "figure" + f + "-", ".tsv");
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(BenchSuite.class.getName());
        cmd.add("--figures=" + f);
        cmd.add("--emit=" + emit);
        cmd.add("--out=" + workDir.resolve("figure" + f + ".md"));
        if (smoke) {
            cmd.add("--smoke");
        }
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        Path log = workDir.resolve("figure" + f + ".log");
        if (toLog) {
            pb.redirectOutput(log.toFile()); // a test JVM's stdout is its channel to surefire, not the child's
        } else {
            pb.inheritIO();
        }
        int rc = pb.start().waitFor();
        if (rc != 0) {
            throw new IllegalStateException("figure " + f + " failed in its JVM, exit code " + rc
                    + (toLog ? "; its output is in " + log : ""));
        }
        Report r = Report.deserialize(Files.readAllLines(emit, StandardCharsets.UTF_8));
        Files.delete(emit);
        return r;
    }

    /** Runs the figures in {@code figures} at {@code sizes}, in this JVM. {@code workDir} gets JMH's log. */
    static Report run(Sizes sizes, Set<Integer> figures, Path workDir) throws Exception {
        Report r = new Report();
        if (figures.contains(1)) {
            figure1(sizes, r);
        }
        if (figures.contains(2)) {
            figure2(sizes, r, workDir);
        }
        if (figures.contains(3)) {
            figure3(sizes, r);
        }
        if (figures.contains(4)) {
            figure4(sizes, r);
        }
        if (figures.contains(5)) {
            figure5(sizes, r);
        }
        if (figures.contains(6)) {
            figure6(sizes, r);
        }
        if (figures.contains(7)) {
            figure7(sizes, r);
        }
        derived(r);
        return r;
    }

    /**
     * What one figure predicts of another: figure 2's extra nanoseconds per read batch and write against figure
     * 6's server CPU per echoed message.
     */
    private static void derived(Report r) {
        Double extraNs = r.metrics().get("2.reaperOverBareNs");
        Double cpu = r.metrics().get("6.bareCpuNsPerMsg");
        if (extraNs == null || cpu == null) {
            return;
        }
        double predicted = extraNs / cpu * 100;
        r.metric("6.predicted", predicted);
        r.detail("6: figure 2 predicts %.2f %%: the reaper adds %.1f ns per read batch + write (real loop, over "
                + "bare) to the server loop's %.0f ns of CPU per echoed message.", predicted, extraNs, cpu);
    }

    // --------------------------------------------------------------------------------------------- figure 1

    private static void figure1(Sizes s, Report r) throws Exception {
        section("1. Retained heap per connection, all timers on, without and with a heartbeat (" + HEAP + ")");
        r.detail("With the heartbeat on (rows 1c and 1d): the reaper pings with LineHeartbeat after %d s without "
                + "inbound bytes (timeout %d s, %d misses); the Netty composition adds a ping-sending handler with "
                + "its own periodic timer at the same interval.", HEAP.pingInterval().toSeconds(),
                HEAP.pingTimeout().toSeconds(), Timeouts.PING_MISSES);
        Map<Config, PerConn> nio;
        try (HeapFigure.Nio h = new HeapFigure.Nio()) {
            nio = HeapFigure.run(h, s.heapNio(), HEAP, r, "1a NIO");
        }
        Map<Config, PerConn> local;
        try (HeapFigure.Local h = new HeapFigure.Local()) {
            local = HeapFigure.run(h, s.heapLocal(), HEAP, r, "1b LocalChannel");
        }
        String nioWhat = fmt("loopback NIO, n=%,d, client in another JVM", s.heapNio());
        String localWhat = fmt("in-VM LocalChannel pairs, n=%,d", s.heapLocal());
        // The headline compares like with like: timers only on both sides. The heartbeat rows come after, each side
        // with its own heartbeat (the reaper's LineHeartbeat; a ping-sending handler on a timer of its own for Netty).
        heapRow(r, "1a", "Heap per connection over bare, no heartbeat on either side (like for like): " + nioWhat,
                nio, false);
        heapRow(r, "1b", "Heap per connection over bare, no heartbeat on either side (like for like): " + localWhat,
                local, false);
        heapRow(r, "1c", "Heap per connection over bare, a heartbeat on each side: " + nioWhat, nio, true);
        heapRow(r, "1d", "Heap per connection over bare, a heartbeat on each side: " + localWhat, local, true);
        double bare = nio.get(Config.BARE).total();
        double all = nio.get(Config.REAPER_ALL).total() - bare;
        double plain = nio.get(Config.REAPER).total() - bare;
        r.metric("1e.reaperAll", all);
        r.row("1e", "Heap per connection over bare, every lifecycle feature on (half-close, age, cap, pressure, close "
                + "rate) [the reaper without them]: " + nioWhat, fmt("+%.1f B [+%.1f B]", all, plain),
                fmt("IdleStateHandler(r,w,a)+closer +%.0f B", nio.get(Config.NETTY).total() - bare),
                ratio(all, nio.get(Config.NETTY).total() - bare), "≤ 128 B", all <= 128);
    }

    /**
     * One row of figure 1: the reaper against IdleStateHandler(r,w,a) with its closer, both without a heartbeat
     * ({@code heartbeat} false: the like-for-like row, with ReadTimeoutHandler and the pass-through beside them) or
     * both with one.
     */
    private static void heapRow(Report r, String id, String figure, Map<Config, PerConn> m, boolean heartbeat) {
        double bare = m.get(Config.BARE).total();
        double reaper = m.get(heartbeat ? Config.REAPER_HB : Config.REAPER).total() - bare;
        double netty = m.get(heartbeat ? Config.NETTY_HB : Config.NETTY).total() - bare;
        r.metric(id + ".reaper", reaper);
        r.metric(id + ".netty", netty);
        String nettyCell;
        if (heartbeat) {
            nettyCell = fmt("IdleStateHandler(r,w,a)+closer+pinger +%.0f B", netty);
        } else {
            double rth = m.get(Config.READ_TIMEOUT).total() - bare;
            double pass = m.get(Config.PASS).total() - bare;
            r.metric(id + ".readTimeout", rth);
            r.metric(id + ".pass", pass);
            nettyCell = fmt("IdleStateHandler(r,w,a)+closer +%.0f B; ReadTimeoutHandler +%.0f B; pass-through +%.0f B",
                    netty, rth, pass);
        }
        r.row(id, figure, fmt("+%.1f B", reaper) + (heartbeat ? " (LineHeartbeat)" : ""), nettyCell,
                ratio(reaper, netty), "≤ 128 B", reaper <= 128);
    }

    // --------------------------------------------------------------------------------------------- figure 2

    private static void figure2(Sizes s, Report r, Path workDir) throws Exception {
        section("2. CPU and allocation per read batch and per write, writes through a real outbound buffer");
        Map<Config, Cost> loop = LoopCostFigure.run(s.loopOps(), s.loopWarmupRounds(), s.loopRounds(), SIXTY);
        for (Config c : LoopCostFigure.CONFIGS) {
            Cost k = loop.get(c);
            StringBuilder line = new StringBuilder();
            for (Op op : Op.values()) {
                line.append(fmt("   %s %6.1f ns %5.1f B", op.label, k.ns(op), k.bytes(op)));
            }
            r.detail("2 real loop: %-32s%s", c.label, line);
        }
        String how = fmt("median of %d rounds × %,d ops", s.loopRounds(), s.loopOps());
        double[] nettyBytes = figure2Rows(r, new String[] {"2a", "2b", "2c", "2d"}, "real NIO loop", how, "",
                c -> loop.get(c).ns(), c -> loop.get(c).bytes());
        Cost bare = loop.get(Config.BARE);
        Cost reaper = loop.get(Config.REAPER);
        r.metric("2.reaperOverBareNs", reaper.ns(Op.READ) - bare.ns(Op.READ) + reaper.ns(Op.WRITE)
                - bare.ns(Op.WRITE));

        Path log = workDir.resolve("jmh.log");
        Files.createDirectories(workDir);
        Map<Config, Scores> jmh = JmhFigure.run(s.jmhForks(), s.jmhWarmups(), s.jmhIterations(), s.jmhTime(),
                log.toString());
        for (Config c : LoopCostFigure.CONFIGS) {
            Scores k = jmh.get(c);
            StringBuilder line = new StringBuilder();
            for (Op op : Op.values()) {
                line.append(fmt("   %s median %6.1f ns (mean %6.1f ± %.1f) %5.2f B/op", op.label, k.ns(op),
                        k.mean(op), k.err(op), k.bytes(op)));
            }
            r.detail("2 JMH: %-32s%s", c.label, line);
        }
        r.detail("2 JMH: forks=%d, warm-up %d × %s, measurement %d × %s, -prof gc; the table takes the median "
                + "iteration; log in %s", s.jmhForks(),
                s.jmhWarmups(), s.jmhTime(), s.jmhIterations(), s.jmhTime(), log);
        figure2Rows(r, new String[] {"2e", "2f", "2g", "2h"}, "JMH", "median iteration", " -prof gc",
                c -> jmh.get(c).ns(), c -> jmh.get(c).bytes());
        r.detail("2: a write goes through the channel's real ChannelOutboundBuffer and its flush completes the "
                + "promise after the handlers have seen it; over bare, IdleStateHandler(r,w,a) allocates %.0f B per "
                + "void-promise write (its unvoided promise and two listeners, one of them its own) and %.0f B per "
                + "writeAndFlush(msg), whose promise (%.0f B) every configuration pays.", nettyBytes[0], nettyBytes[1],
                loop.get(Config.BARE).bytes(Op.WRITE_PROMISE));
    }

    /**
     * The four rows of one harness of figure 2: read batch, void write and promise write over pass-through, then
     * the bytes each allocates over bare (the promise of {@code writeAndFlush(msg)} is the caller's, not the
     * handlers'). Returns IdleStateHandler's bytes over bare for the void and the promise write.
     */
    private static double[] figure2Rows(Report r, String[] ids, String harness, String how, String allocHow,
            Function<Config, double[]> ns, Function<Config, double[]> bytes) {
        String[] what = {"Read batch", "Write + flush, void promise", "writeAndFlush(msg), a promise per write"};
        Op[] ops = Op.values();
        for (Op op : ops) {
            int i = op.ordinal();
            double pass = ns.apply(Config.PASS)[i];
            double rr = ns.apply(Config.REAPER)[i] - pass;
            double nn = ns.apply(Config.NETTY)[i] - pass;
            r.metric(ids[i] + ".reaper", rr);
            r.metric(ids[i] + ".netty", nn);
            r.row(ids[i], fmt("%s over pass-through, %s (%s)", what[i], harness, how), fmt("%+.1f ns", rr),
                    fmt("%+.1f ns", nn), ratio(rr, nn), "≤ +10 ns", rr <= 10);
        }
        double[] bare = bytes.apply(Config.BARE);
        double[] reaper = bytes.apply(Config.REAPER);
        double[] netty = bytes.apply(Config.NETTY);
        String[] names = {"Read", "Write", "Promise"};
        for (Op op : ops) {
            int i = op.ordinal();
            r.metric(ids[3] + ".reaper" + names[i] + "Bytes", reaper[i] - bare[i]);
            r.metric(ids[3] + ".netty" + names[i] + "Bytes", netty[i] - bare[i]);
            r.metric(ids[3] + ".bare" + names[i] + "Bytes", bare[i]);
        }
        boolean zero = true;
        for (Op op : ops) {
            zero &= reaper[op.ordinal()] - bare[op.ordinal()] < ZERO_BYTES;
        }
        r.row(ids[3], fmt("Allocated per read batch / void write / writeAndFlush(msg) over bare [bare itself], %s%s",
                harness, allocHow),
                fmt("%.1f / %.1f / %.1f B", reaper[0] - bare[0], reaper[1] - bare[1], reaper[2] - bare[2]),
                fmt("%.1f / %.1f / %.1f B [bare %.0f / %.0f / %.0f B]", netty[0] - bare[0], netty[1] - bare[1],
                        netty[2] - bare[2], bare[0], bare[1], bare[2]),
                "—", "0 B/op", zero);
        return new double[] {netty[1] - bare[1], netty[2] - bare[2]};
    }

    // --------------------------------------------------------------------------------------------- figure 3

    /** Figure 3's activity: every 30 s, which divides the 60 s timeouts, and every 35 s, which does not. */
    static final Duration TOUCH_DIVIDES = Duration.ofSeconds(30);
    static final Duration TOUCH_OTHER = Duration.ofSeconds(35);

    private static void figure3(Sizes s, Report r) throws Exception {
        section(fmt("3. Timer upkeep: %,d active connections, 60 s timeouts, simulated clock", s.upkeepConnections()));
        UpkeepFigure f = new UpkeepFigure(s.upkeepConnections(), Duration.ofSeconds(60), Duration.ofMillis(500));
        Map<Config, Upkeep> m;
        Map<Config, Upkeep> o;
        try {
            m = f.runAll(UpkeepFigure.CONFIGS, TOUCH_DIVIDES);
            o = f.runAll(List.of(Config.BARE, Config.NETTY, Config.REAPER), TOUCH_OTHER);
        } finally {
            f.close();
        }
        long closed = 0;
        for (Object[] run : new Object[][] {{TOUCH_DIVIDES, m}, {TOUCH_OTHER, o}}) {
            @SuppressWarnings("unchecked")
            Map<Config, Upkeep> u = (Map<Config, Upkeep>) run[1];
            double bare = u.get(Config.BARE).cpuMsPerSec();
            for (Config c : UpkeepFigure.CONFIGS) {
                Upkeep k = u.get(c);
                if (k == null) {
                    continue;
                }
                closed += k.closed();
                r.detail("3 touched every %2d s: %-32s %8.3f CPU ms/s raw, %8.3f net of the bare loop   %,12.0f B/s   "
                        + "closed during the run: %d   (%.1f s real)", ((Duration) run[0]).toSeconds(), c.label,
                        k.cpuMsPerSec(), k.cpuMsPerSec() - bare, k.bytesPerSec(), k.closed(), k.realSeconds());
            }
        }
        r.detail("3: raw = the loop thread's CPU time in the windows where due timers run; the bare loop (no "
                + "handler) measures what the loop itself costs in them, and net = raw − bare.");
        Upkeep bare = m.get(Config.BARE);
        Upkeep reaper = m.get(Config.REAPER);
        Upkeep netty = m.get(Config.NETTY);
        Upkeep nettyR = m.get(Config.NETTY_R);
        double b = bare.cpuMsPerSec();
        r.metric("3a.bare", b);
        r.metric("3a.reaperRaw", reaper.cpuMsPerSec());
        r.metric("3a.reaper", reaper.cpuMsPerSec() - b);
        r.metric("3a.netty", netty.cpuMsPerSec() - b);
        r.metric("3a.nettyReader", nettyR.cpuMsPerSec() - b);
        r.metric("3b.reaper", reaper.bytesPerSec());
        r.metric("3b.netty", netty.bytesPerSec());
        double ob = o.get(Config.BARE).cpuMsPerSec();
        Upkeep oReaper = o.get(Config.REAPER);
        Upkeep oNetty = o.get(Config.NETTY);
        r.metric("3c.bare", ob);
        r.metric("3c.reaperRaw", oReaper.cpuMsPerSec());
        r.metric("3c.reaper", oReaper.cpuMsPerSec() - ob);
        r.metric("3c.netty", oNetty.cpuMsPerSec() - ob);
        r.metric("3c.reaperBytes", oReaper.bytesPerSec());
        r.metric("3.closed", closed);
        String n = fmt("%,d", s.upkeepConnections());
        r.row("3a", "Timer upkeep, " + n + " active connections, 60 s timeouts, each touched every 30 s (divides the "
                + "timeouts): loop CPU per second, net of the bare loop [raw; bare loop]",
                fmt("%.2f ms/s [raw %.2f; bare %.2f]", reaper.cpuMsPerSec() - b, reaper.cpuMsPerSec(), b),
                fmt("r,w,a %.1f ms/s [raw %.1f]; reader-only %.1f ms/s", netty.cpuMsPerSec() - b, netty.cpuMsPerSec(),
                        nettyR.cpuMsPerSec() - b),
                ratio(reaper.cpuMsPerSec() - b, netty.cpuMsPerSec() - b), "≤ 2 ms/s (raw)",
                reaper.cpuMsPerSec() <= 2 && reaper.closed() == 0);
        r.row("3b", "Timer upkeep: steady garbage (touched every 30 s; every 35 s)",
                fmt("%,.0f B/s; %,.0f B/s", reaper.bytesPerSec(), oReaper.bytesPerSec()),
                fmt("r,w,a %,.0f B/s; %,.0f B/s; reader-only %,.0f B/s", netty.bytesPerSec(), oNetty.bytesPerSec(),
                        nettyR.bytesPerSec()),
                ratio(reaper.bytesPerSec(), netty.bytesPerSec()), "0 B/s",
                reaper.bytesPerSec() < ZERO_BYTES && oReaper.bytesPerSec() < ZERO_BYTES);
        r.row("3c", "Timer upkeep as 3a, each touched every 35 s (does not divide the timeouts): loop CPU per second, "
                + "net of the bare loop [raw; bare loop]",
                fmt("%.2f ms/s [raw %.2f; bare %.2f]", oReaper.cpuMsPerSec() - ob, oReaper.cpuMsPerSec(), ob),
                fmt("r,w,a %.1f ms/s [raw %.1f]", oNetty.cpuMsPerSec() - ob, oNetty.cpuMsPerSec()),
                ratio(oReaper.cpuMsPerSec() - ob, oNetty.cpuMsPerSec() - ob), "≤ 2 ms/s (raw)",
                oReaper.cpuMsPerSec() <= 2 && oReaper.closed() == 0);
    }

    // --------------------------------------------------------------------------------------------- figure 7

    /**
     * The lifecycle features' costs (issue #11): upkeep with every one of them on, the choice of a connection to
     * evict at the cap, and a burst of connections that reach their age together under a close rate.
     */
    private static void figure7(Sizes s, Report r) throws Exception {
        int n = s.upkeepConnections();
        section(fmt("7. Lifecycle: upkeep with every feature on (%,d connections), eviction at the cap, an age burst",
                n));
        // One round of the bare loop and of IdleStateHandler; the two reaper configurations then alternate for
        // several rounds and the figure is the median of each: a single 60 s measurement of ~2 ms/s moves by a
        // millisecond from run to run on this kind of machine (the same configuration measured 1.2 to 3.6).
        int rounds = n >= 1_000_000 ? 7 : 1;
        UpkeepFigure f = new UpkeepFigure(n, Duration.ofSeconds(60), Duration.ofMillis(500));
        Map<Config, Upkeep> m;
        List<Double> plainRounds = new ArrayList<>();
        List<Double> allRounds = new ArrayList<>();
        long closed = 0;
        try {
            m = f.runAll(List.of(Config.BARE, Config.NETTY), TOUCH_DIVIDES);
            for (int i = 0; i < rounds; i++) {
                Map<Config, Upkeep> one = f.runAll(List.of(Config.REAPER, Config.REAPER_ALL), TOUCH_DIVIDES);
                plainRounds.add(one.get(Config.REAPER).cpuMsPerSec());
                allRounds.add(one.get(Config.REAPER_ALL).cpuMsPerSec());
                closed += one.get(Config.REAPER).closed() + one.get(Config.REAPER_ALL).closed();
                r.detail("7a: round %d: %s %.3f CPU ms/s raw; %s %.3f", i + 1, Config.REAPER.label,
                        plainRounds.get(i), Config.REAPER_ALL.label, allRounds.get(i));
            }
        } finally {
            f.close();
        }
        double b = m.get(Config.BARE).cpuMsPerSec();
        Upkeep netty = m.get(Config.NETTY);
        double plain = Measure.median(plainRounds.stream().mapToDouble(Double::doubleValue).toArray());
        double all = Measure.median(allRounds.stream().mapToDouble(Double::doubleValue).toArray());
        r.detail("7a: %-70s %8.3f CPU ms/s raw", Config.BARE.label, b);
        r.detail("7a: %-70s %8.3f CPU ms/s raw, %8.3f net   %,12.0f B/s   closed: %d", Config.NETTY.label,
                netty.cpuMsPerSec(), netty.cpuMsPerSec() - b, netty.bytesPerSec(), netty.closed());
        r.detail("7a: median of %d rounds, raw: %s %.3f (%.2f to %.2f); %s %.3f (%.2f to %.2f); closed: %d", rounds,
                Config.REAPER.label, plain, Collections.min(plainRounds), Collections.max(plainRounds),
                Config.REAPER_ALL.label, all, Collections.min(allRounds), Collections.max(allRounds), closed);
        r.metric("7a.reaperAll", all - b);
        r.metric("7a.reaper", plain - b);
        r.metric("7a.netty", netty.cpuMsPerSec() - b);
        r.metric("7a.closed", closed);
        r.row("7a", fmt("Timer upkeep with every lifecycle feature on (half-close, age, cap, pressure, close rate), "
                + "%,d active connections, 60 s timeouts, touched every 30 s: loop CPU per second, net of the bare "
                + "loop, the median of %d rounds [the reaper without them, the same rounds]", n, rounds),
                fmt("%.2f ms/s [%.2f ms/s]", all - b, plain - b),
                fmt("r,w,a %.1f ms/s", netty.cpuMsPerSec() - b), ratio(all - b, netty.cpuMsPerSec() - b),
                "≤ 2 ms/s (raw)", all <= 2 && closed == 0);

        int[] sizes = s.upkeepConnections() >= 1_000_000 ? new int[] {10_000, 1_000_000} : new int[] {1_000, 10_000};
        StringBuilder cell = new StringBuilder();
        StringBuilder scan = new StringBuilder();
        for (int size : sizes) {
            double[] e = io.github.idlereaper.EvictionProbe.nanosPerChoice(size, 31, 7);
            r.detail("7b: %,d connections in the wheel: the wheel's choice %.0f ns (%.0f %% as idle as the idlest), a "
                    + "scan of all %.0f ns (seed 7)", size, e[0], e[2] * 100, e[1]);
            r.metric("7b.reaper" + size, e[0]);
            r.metric("7b.scan" + size, e[1]);
            cell.append(cell.length() == 0 ? "" : "; ").append(fmt("%,d: %.1f µs", size, e[0] / 1000));
            scan.append(scan.length() == 0 ? "" : "; ").append(fmt("%,d: %.1f µs", size, e[1] / 1000));
        }
        double small = r.metrics().get("7b.reaper" + sizes[0]);
        double large = r.metrics().get("7b.reaper" + sizes[1]);
        r.row("7b", "Choosing the connection to evict at the cap, per accept: the wheel's 64 next entries [a scan of "
                + "every connection, what a host without the wheel would do]", cell.toString(),
                "no eviction; a scan: " + scan, ratio(large, r.metrics().get("7b.scan" + sizes[1])),
                "O(1): the same at both sizes (within 3×)", large <= 3 * small + 1_000);

        int burst = s.burstConnections();
        int rate = Math.max(100, burst / 5);
        Duration age = Duration.ofSeconds(3);
        LifecycleFigure.Burst limited = LifecycleFigure.run(burst, age, rate);
        LifecycleFigure.Burst unlimited = LifecycleFigure.run(burst, age, 0);
        LifecycleFigure.Burst nettyBurst = LifecycleFigure.run(burst, age, -1);
        for (Object[] x : new Object[][] {{"idle-reaper, closeRate(" + rate + ", 100)", limited},
                {"idle-reaper, no close rate", unlimited}, {"IdleStateHandler(r)+closer at the same moment", nettyBurst}}) {
            LifecycleFigure.Burst k = (LifecycleFigure.Burst) x[1];
            r.detail("7c: %,d LocalChannel connections at their age (%d s): %-50s closed %,d over %.2f s, most in a "
                    + "second %,d", burst, age.toSeconds(), x[0], k.closed(), k.spanSeconds(), k.mostInASecond());
        }
        r.metric("7c.most", limited.mostInASecond());
        r.metric("7c.closed", limited.closed());
        r.row("7c", fmt("An age burst: %,d LocalChannel connections reach their age together; closes spread by "
                + "closeRate(%,d/s, burst 100): span, most in any second [no close rate]", burst, rate),
                fmt("%.2f s, %,d/s [%.2f s, %,d/s]", limited.spanSeconds(), limited.mostInASecond(),
                        unlimited.spanSeconds(), unlimited.mostInASecond()),
                fmt("one burst: %.2f s, %,d/s", nettyBurst.spanSeconds(), nettyBurst.mostInASecond()), "—",
                fmt("≤ %,d/s (the rate + the bucket: the larger of the burst and a 10 ms tick's worth)",
                        rate + Math.max(100, rate / 100 + 1)),
                limited.closed() == burst && limited.mostInASecond() <= rate + Math.max(100, rate / 100 + 1));
    }

    // --------------------------------------------------------------------------------------------- figure 4

    private static void figure4(Sizes s, Report r) throws Exception {
        Duration timeout = s.precisionTimeout();
        Duration tick = Duration.ofMillis(100);
        Duration window = Duration.ofSeconds(1);
        int n = s.precisionConnections();
        section(fmt("4. Reaping precision: %,d idle connections, read idle %d ms, tick resolution %d ms", n,
                timeout.toMillis(), tick.toMillis()));
        Precision reaper = PrecisionFigure.run(Config.REAPER, n, timeout, tick, window, true);
        Precision netty = PrecisionFigure.run(Config.NETTY_R, n, timeout, tick, window, true);
        // The same during a connection storm, with the reaper's default tick for a 1 s timeout (100 ms).
        Duration stormTimeout = Duration.ofSeconds(1);
        Precision reaperStorm = PrecisionFigure.run(Config.REAPER, n, stormTimeout, null, window.dividedBy(2), false);
        Precision nettyStorm = PrecisionFigure.run(Config.NETTY_R, n, stormTimeout, null, window.dividedBy(2), false);
        Object[][] all = {
            {"settled", "idle-reaper", reaper}, {"settled", "IdleStateHandler(r)+closer", netty},
            {"storm", "idle-reaper", reaperStorm}, {"storm", "IdleStateHandler(r)+closer", nettyStorm}};
        for (Object[] p : all) {
            Precision q = (Precision) p[2];
            r.detail("4 %-7s: %-28s lateness at the reap's event min %.2f p50 %.2f p99 %.2f max %.2f ms; early %d%s; "
                    + "not reaped %d; close path (event to inactive) p50 %.3f max %.3f ms", p[0], p[1], q.min() / 1e6,
                    q.quantile(0.5) / 1e6, q.quantile(0.99) / 1e6, q.max() / 1e6, q.early(), worstEarly(q),
                    q.notReaped(), Measure.quantile(q.closePathNanos(), 0.5) / 1e6,
                    Measure.quantile(q.closePathNanos(), 1.0) / 1e6);
        }
        r.detail("4: settled = every client sends one byte at a random moment in the %d ms after all %,d are "
                + "connected (timeout %d ms, tick %d ms); storm = each client sends within %d ms of its own connect "
                + "while the others are still connecting (timeout %d ms, default tick). Lateness = the reap's event "
                + "(ReapEvent; IdleStateEvent) behind the timer handler − (last activity + timeout).",
                window.toMillis(), n, timeout.toMillis(), tick.toMillis(), window.dividedBy(2).toMillis(),
                stormTimeout.toMillis());
        double bound = tick.toNanos() / 1e6 + 5;
        int early = reaper.early() + reaperStorm.early();
        int notReaped = reaper.notReaped() + reaperStorm.notReaped();
        r.metric("4.reaperMinMs", Math.min(reaper.min(), reaperStorm.min()) / 1e6);
        r.metric("4.reaperP99Ms", reaper.quantile(0.99) / 1e6);
        r.metric("4.reaperStormP99Ms", reaperStorm.quantile(0.99) / 1e6);
        r.metric("4.reaperNotReaped", notReaped);
        r.metric("4.reaperEarly", early);
        r.metric("4.reaperWorstEarlyMs", Math.min(reaper.worstEarly(), reaperStorm.worstEarly()) / 1e6);
        r.metric("4.nettyEarly", netty.early() + nettyStorm.early());
        r.metric("4.nettyP99Ms", netty.quantile(0.99) / 1e6);
        r.row("4a", fmt("Reaping precision, %,d idle connections, timed at the reap's event: earliest reap vs "
                + "timeout (settled; storm), early reaps", n),
                fmt("%+.2f ms; %+.2f ms (%d early%s; %d not reaped)", reaper.min() / 1e6, reaperStorm.min() / 1e6,
                        early, early == 0 ? "" : fmt(", worst %.2f ms",
                                Math.min(reaper.worstEarly(), reaperStorm.worstEarly()) / 1e6), notReaped),
                fmt("%+.2f ms; %+.2f ms (%d early)", netty.min() / 1e6, nettyStorm.min() / 1e6,
                        netty.early() + nettyStorm.early()), "—", "never early",
                early == 0 && notReaped == 0);
        r.row("4b", fmt("Reaping lateness p50 / p99 / max, settled (tick %d ms)", tick.toMillis()),
                fmt("%.1f / %.1f / %.1f ms", reaper.quantile(0.5) / 1e6, reaper.quantile(0.99) / 1e6,
                        reaper.max() / 1e6),
                fmt("%.1f / %.1f / %.1f ms", netty.quantile(0.5) / 1e6, netty.quantile(0.99) / 1e6,
                        netty.max() / 1e6),
                ratio(reaper.quantile(0.99), netty.quantile(0.99)), fmt("p99 ≤ tick + 5 = %.0f ms", bound),
                reaper.quantile(0.99) / 1e6 <= bound);
        r.row("4c", "Reaping lateness p50 / p99 / max during a connection storm (default tick 100 ms)",
                fmt("%.1f / %.1f / %.1f ms", reaperStorm.quantile(0.5) / 1e6, reaperStorm.quantile(0.99) / 1e6,
                        reaperStorm.max() / 1e6),
                fmt("%.1f / %.1f / %.1f ms", nettyStorm.quantile(0.5) / 1e6, nettyStorm.quantile(0.99) / 1e6,
                        nettyStorm.max() / 1e6),
                ratio(reaperStorm.quantile(0.99), nettyStorm.quantile(0.99)), fmt("p99 ≤ tick + 5 = %.0f ms", bound),
                reaperStorm.quantile(0.99) / 1e6 <= bound);
    }

    // --------------------------------------------------------------------------------------------- figure 5

    private static void figure5(Sizes s, Report r) throws Exception {
        Duration timeout = s.burstTimeout();
        Duration tick = timeout.dividedBy(5);
        section(fmt("5. Burst: %,d connections expiring together on one loop (read idle %d ms, tick %d ms)",
                s.burstConnections(), timeout.toMillis(), tick.toMillis()));
        String[] ids = {"5a", "5b"};
        String[] what = {"NIO loop, echo over loopback TCP, idle channels without sockets",
            "LocalChannel pairs, both ends on the loop"};
        BurstFigure.Transport[] transports = BurstFigure.Transport.values();
        for (int i = 0; i < transports.length; i++) {
            // A server's close path is warm: it closes connections all day. Here the burst would be the JVM's first
            // reaps, run by the interpreter and the first compiler tier while the JIT catches up. One burst of a
            // tenth of the size per configuration first, and then the measured one.
            BurstFigure.run(transports[i], Config.REAPER, s.burstConnections() / 10, timeout, tick);
            BurstFigure.run(transports[i], Config.NETTY_R, s.burstConnections() / 10, timeout, tick);
            Burst reaper = BurstFigure.run(transports[i], Config.REAPER, s.burstConnections(), timeout, tick);
            Burst netty = BurstFigure.run(transports[i], Config.NETTY_R, s.burstConnections(), timeout, tick);
            for (Object[] p : new Object[][] {{"idle-reaper", reaper}, {"IdleStateHandler(r)+closer", netty}}) {
                Burst b = (Burst) p[1];
                r.detail("%s %s: %-28s reaped %,d in %.1f ms (timers armed in one %.1f ms task); echo RTT before "
                        + "%.1f µs; during the reaping %d pings, RTT p50 %.1f µs, p99 %.1f µs, worst %.1f µs "
                        + "(+%.2f ms, sent %.1f ms into the reaping; %d pings more than 2 ms over); "
                        + "GC pauses during the reaping: %d, longest %.1f ms; worst ping no pause "
                        + "touched: %s; worst between arming and reaping %.1f µs; the loop thread over the reaping: "
                        + "%.1f ms on a CPU, %.1f ms runnable but waiting for one, %d involuntary context switches; "
                        + "a 1 ms probe task on the loop: longest gap %.2f ms (%.2f ms of it on a CPU), most CPU "
                        + "in one gap %.2f ms",
                        ids[i], transports[i], p[0],
                        b.reaped(), b.reapSpanMs(), b.armSpanMs(), b.baselineUs(), b.pingsInBurst(), b.p50Us(),
                        b.p99Us(), b.worstUs(), b.extraMs(), b.worstAtMs(), b.over2ms(),
                        b.gcPauses(), b.gcMaxMs(), noGc(b), b.worstArmedUs(),
                        b.loopCpuMs(), b.loopWaitMs(), b.involuntary(), b.gapMs(), b.gapCpuMs(), b.cpuGapMs());
                BurstFigure.Where w = b.where();
                BurstFigure.Slices sl = w.slices();
                r.detail("%s %s: %-28s where the time went: worst ping's request leg (client's send, kernel, "
                        + "server loop's read) %.0f µs, return leg (server's echo, kernel, client's wake-up and read) "
                        + "%.0f µs (before the burst: medians %.0f and %.0f µs); longest request leg during the "
                        + "reaping %.0f µs, longest return leg %.0f µs; the pinging thread over the reaping: %.1f ms on "
                        + "a CPU, %.1f ms runnable but waiting for one; some task on the machine waited for a CPU "
                        + "during %.0f %% of the reaping; the loop allocated %.0f B per reap; the loop's reaping in %d "
                        + "runs of reap events with no close between them: reaps per run p50 %.0f, max %d; reap "
                        + "events span p50 %.0f µs, max %.0f µs; the closes that follow (deferred close work) span p50 "
                        + "%.0f µs, max %.0f µs; first event to last close p50 %.0f µs, max %.0f µs; per close: %.1f µs "
                        + "between reap events, %.1f µs between closes; from one run's start to the next (%d cycles, "
                        + "the first left out): wall p50 %.0f, p99 %.0f, max %.0f µs, the loop's CPU p50 %.0f, p99 "
                        + "%.0f, max %.0f µs (%.0f µs in the longest cycle)",
                        ids[i], transports[i], p[0], w.worstRequestUs(), w.worstReturnUs(), w.baseRequestUs(),
                        w.baseReturnUs(), w.maxRequestUs(), w.maxReturnUs(), w.pingCpuMs(), w.pingWaitMs(),
                        w.pressurePct(), w.bytesPerReap(), sl.runs(), sl.reapsP50(), sl.reapsMax(), sl.drainP50Us(),
                        sl.drainMaxUs(), sl.closesP50Us(), sl.closesMaxUs(), sl.holdP50Us(), sl.holdMaxUs(),
                        sl.perReapUs(), sl.perCloseUs(), sl.cycles().count(), sl.cycles().wallP50Us(),
                        sl.cycles().wallP99Us(), sl.cycles().wallMaxUs(), sl.cycles().cpuP50Us(),
                        sl.cycles().cpuP99Us(), sl.cycles().cpuMaxUs(),
                        sl.cycles().cpuOfLongestUs());
            }
            String k = ids[i];
            r.metric(k + ".reaper", reaper.extraMs());
            r.metric(k + ".reaperNoGc", reaper.extraNoGcMs());
            r.metric(k + ".netty", netty.extraMs());
            r.metric(k + ".reaperReaped", reaper.reaped());
            r.metric(k + ".reaperPings", reaper.pingsInBurst());
            r.metric(k + ".reaperRuns", reaper.where().slices().runs());
            r.row(k, fmt("Burst: %,d expiring at once, extra echo latency on the same loop (%s)",
                    s.burstConnections(), what[i]),
                    fmt("+%.2f ms (pings no GC pause touched: %s; %d pings, p99 %.2f ms)", reaper.extraMs(),
                            noGc(reaper), reaper.pingsInBurst(), reaper.p99Us() / 1e3),
                    fmt("+%.2f ms (no GC: %s; %d pings)", netty.extraMs(), noGc(netty), netty.pingsInBurst()),
                    ratio(reaper.extraMs(), netty.extraMs()), "≤ 2 ms",
                    reaper.extraMs() <= 2 && reaper.pingsInBurst() > 0);
        }
    }

    private static String worstEarly(Precision q) {
        return q.early() == 0 ? "" : fmt(" (worst %.3f ms)", q.worstEarly() / 1e6);
    }

    private static String noGc(Burst b) {
        return b.worstNoGcUs() == 0 ? "none" : fmt("+%.2f ms", b.extraNoGcMs());
    }

    // --------------------------------------------------------------------------------------------- figure 6

    private static void figure6(Sizes s, Report r) throws Exception {
        section(fmt("6. Echo throughput: %,d loopback connections per configuration, %d rounds × %d ms",
                s.echoConnections(), s.echoRounds(), s.echoRoundTime().toMillis()));
        Map<Config, Echo> m = EchoFigure.run(s.echoConnections(), s.echoRoundTime(), s.echoRounds(), SIXTY);
        for (Config c : EchoFigure.CONFIGS) {
            Echo e = m.get(c);
            StringBuilder rounds = new StringBuilder();
            for (double v : e.perRound()) {
                rounds.append(rounds.length() == 0 ? "" : ", ").append(fmt("%,.0f", v));
            }
            r.detail("6: %-32s %,10.0f msg/s (rounds: %s)   server loop %.0f ns CPU/msg", c.label, e.msgsPerSec(),
                    rounds, e.serverCpuNsPerMsg());
        }
        double[] reaper = lossVsBare(m.get(Config.REAPER).perRound(), m.get(Config.BARE).perRound(), true);
        double[] netty = lossVsBare(m.get(Config.NETTY).perRound(), m.get(Config.BARE).perRound(), true);
        double[] pass = lossVsBare(m.get(Config.PASS).perRound(), m.get(Config.BARE).perRound(), true);
        double[] reaperCpu = lossVsBare(m.get(Config.REAPER).cpuPerRound(), m.get(Config.BARE).cpuPerRound(), false);
        double[] nettyCpu = lossVsBare(m.get(Config.NETTY).cpuPerRound(), m.get(Config.BARE).cpuPerRound(), false);
        r.detail("6: throughput loss vs bare in the same round, median [quartiles]: idle-reaper %.1f %% [%.1f, %.1f], "
                + "IdleStateHandler(r,w,a)+closer %.1f %% [%.1f, %.1f], pass-through %.1f %% [%.1f, %.1f]; server "
                + "CPU per message vs bare: idle-reaper %+.1f %% [%+.1f, %+.1f], IdleStateHandler %+.1f %% [%+.1f, "
                + "%+.1f]", reaper[0], reaper[1], reaper[2], netty[0], netty[1], netty[2], pass[0], pass[1], pass[2],
                reaperCpu[0], reaperCpu[1], reaperCpu[2], nettyCpu[0], nettyCpu[1], nettyCpu[2]);
        r.metric("6.reaper", reaper[0]);
        r.metric("6.netty", netty[0]);
        r.metric("6.reaperCpu", reaperCpu[0]);
        r.metric("6.bareCpuNsPerMsg", m.get(Config.BARE).serverCpuNsPerMsg());
        // Other processes on a shared machine move single rounds by tens of percent; when half the rounds
        // disagree by more than the goal itself, the run cannot tell whether the goal holds.
        double spread = reaper[2] - reaper[1];
        String holds = spread > 2 ? fmt("unresolved: quartiles %.0f points apart", spread)
                : reaper[0] <= 1 ? "yes" : "**NO**";
        r.row("6", fmt("Echo throughput, %,d connections: loss vs bare, median [quartiles] of %d rounds (server "
                + "CPU/msg vs bare)", s.echoConnections(), s.echoRounds()),
                fmt("%.1f %% [%.1f, %.1f] (%+.1f %%)", reaper[0], reaper[1], reaper[2], reaperCpu[0]),
                fmt("%.1f %% [%.1f, %.1f] (%+.1f %%)", netty[0], netty[1], netty[2], nettyCpu[0]),
                ratio(reaper[0], netty[0]), "≤ 1 %", holds);
    }

    /**
     * Per round, how much worse {@code config} did than bare in the same round, in percent (throughput: loss;
     * cost: increase); returns the median and the quartiles.
     */
    private static double[] lossVsBare(double[] config, double[] bare, boolean throughput) {
        double[] d = new double[config.length];
        for (int i = 0; i < d.length; i++) {
            d[i] = throughput ? (1 - config[i] / bare[i]) * 100 : (config[i] / bare[i] - 1) * 100;
        }
        double[] sorted = d.clone();
        java.util.Arrays.sort(sorted);
        return new double[] {Measure.median(d), sorted[(sorted.length - 1) / 4], sorted[(3 * (sorted.length - 1)) / 4]};
    }

    // --------------------------------------------------------------------------------------------- environment

    private static void section(String title) {
        System.out.println();
        System.out.println("== " + title);
    }

    static String environment() {
        StringBuilder sb = new StringBuilder();
        sb.append("- Date: ").append(ZonedDateTime.now().format(DateTimeFormatter.ISO_OFFSET_DATE_TIME)).append('\n');
        sb.append("- Machine: ").append(Runtime.getRuntime().availableProcessors()).append(" CPUs (nproc), ")
                .append(cpuModel()).append(", load average at the start: ").append(loadAverage()).append('\n');
        sb.append("- JDK: ").append(System.getProperty("java.vm.name")).append(' ')
                .append(System.getProperty("java.runtime.version")).append(" (")
                .append(System.getProperty("java.vendor")).append("), GC: ")
                .append(ManagementFactory.getGarbageCollectorMXBeans().stream().map(GarbageCollectorMXBean::getName)
                        .collect(Collectors.joining(", ")))
                .append(", max heap ").append(Runtime.getRuntime().maxMemory() >> 20).append(" MB\n");
        Version v = Version.identify().get("netty-transport");
        sb.append("- Netty: ").append(v == null ? "?" : v.artifactVersion()).append('\n');
        return sb.toString();
    }

    private static String cpuModel() {
        try {
            return Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
                    .findFirst().map(l -> l.substring(l.indexOf(':') + 1).trim()).orElse("?");
        } catch (IOException e) {
            return "?";
        }
    }

    static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split(" ");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException e) {
            return "?";
        }
    }
}
