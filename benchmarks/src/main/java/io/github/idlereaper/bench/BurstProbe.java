package io.github.idlereaper.bench;

import io.github.idlereaper.bench.BurstFigure.Burst;
import io.github.idlereaper.bench.BurstFigure.Cycles;
import io.github.idlereaper.bench.BurstFigure.Slices;
import io.github.idlereaper.bench.BurstFigure.Where;
import io.github.idlereaper.bench.Stack.Config;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A diagnostic for figure 5, not part of the suite: repeats one configuration's measured burst (after one warm-up
 * burst of a tenth of the size) and prints, per burst, where its time went: the worst ping and its two legs, the
 * loop's and the pinging thread's time waiting for a CPU, the machine's CPU pressure, the loop's cycles (one slice
 * of the wheel's drain, the closes' deferred work, the I/O) in wall and CPU time, and the bytes allocated per reap.
 * With {@code --safepoints=FILE}, the JVM's safepoint log ({@code -Xlog:safepoint=info:file=FILE:uptimenanos}) is
 * read back, and the safepoints that overlap each worst ping (within 1 ms) are named. The log's clock is mapped to
 * nanoTime with a thread dump made before the bursts: its "ThreadDump" safepoint ended just before the dump
 * returned (the uncertainty, the dump's own duration, is printed).
 *
 * <p>Run (see docs/performance.md for the switches {@code bench.burst.fifo} and {@code bench.burst.closeWorkMicros}):
 * {@code java -Xmx6g -Dio.netty.leakDetection.level=disabled -Dorg.slf4j.simpleLogger.log.io.github.idlereaper=info
 * -cp target/test-classes:target/classes:$(cat target/bench/classpath.txt) io.github.idlereaper.bench.BurstProbe
 * NIO 3 [REAPER|NETTY_R] [--safepoints=FILE]}
 */
public final class BurstProbe {

    /** One line of {@code -Xlog:safepoint} with the uptimenanos decoration. */
    private static final Pattern SAFEPOINT =
            Pattern.compile("\\[(\\d+)ns\\] Safepoint \"([^\"]*)\".*Reaching safepoint: (\\d+) ns.*Total: (\\d+) ns");

    private BurstProbe() {
    }

    public static void main(String[] args) throws Exception {
        BurstFigure.Transport transport = BurstFigure.Transport.valueOf(args[0]);
        int bursts = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        Config config = Config.REAPER;
        Path safepoints = null;
        for (int i = 2; i < args.length; i++) {
            if (args[i].startsWith("--safepoints=")) {
                safepoints = Path.of(args[i].substring("--safepoints=".length()));
            } else {
                config = Config.valueOf(args[i]);
            }
        }
        Duration timeout = Duration.ofSeconds(5);
        Duration tick = timeout.dividedBy(5);
        int n = 100_000;
        // Two thread dumps, each a "ThreadDump" safepoint: the first loads what a dump needs, the second is quick
        // and maps the safepoint log's clock to nanoTime.
        ManagementFactory.getThreadMXBean().dumpAllThreads(false, false);
        long dumpStart = System.nanoTime();
        ManagementFactory.getThreadMXBean().dumpAllThreads(false, false);
        long dumpEnd = System.nanoTime();
        BurstFigure.run(transport, config, n / 10, timeout, tick);
        List<long[]> worst = new ArrayList<>();
        for (int k = 0; k < bursts; k++) {
            Burst b = BurstFigure.run(transport, config, n, timeout, tick);
            Where w = b.where();
            Slices sl = w.slices();
            Cycles cy = sl.cycles();
            System.out.printf("%s %s burst %d: worst ping +%.2f ms (request leg %.0f µs, return leg %.0f µs), %d "
                    + "pings, p99 %.0f µs, %d more than 2 ms over; reaping %.0f ms%n", transport, config.label, k + 1,
                    b.extraMs(), w.worstRequestUs(), w.worstReturnUs(), b.pingsInBurst(), b.p99Us(), b.over2ms(),
                    b.reapSpanMs());
            System.out.printf("  waiting for a CPU: loop %.0f ms (on a CPU %.0f ms), pinger %.0f ms (on a CPU %.0f "
                    + "ms); CPU pressure %.0f %%; GC pauses %d, longest %.1f ms; allocated per reap %.0f B%n",
                    b.loopWaitMs(), b.loopCpuMs(), w.pingWaitMs(), w.pingCpuMs(), w.pressurePct(), b.gcPauses(),
                    b.gcMaxMs(), w.bytesPerReap());
            System.out.printf("  %d runs, reaps per run p50 %.0f; reap events p50 %.0f µs, deferred closes p50 %.0f "
                    + "µs; cycles (first left out): wall p50 %.0f / p99 %.0f / max %.0f µs, CPU p50 %.0f / p99 %.0f / max "
                    + "%.0f µs, CPU of the longest %.0f µs%n", sl.runs(), sl.reapsP50(), sl.drainP50Us(),
                    sl.closesP50Us(), cy.wallP50Us(), cy.wallP99Us(), cy.wallMaxUs(), cy.cpuP50Us(), cy.cpuP99Us(),
                    cy.cpuMaxUs(), cy.cpuOfLongestUs());
            worst.add(new long[] {w.worstSentNanos(), (long) (b.worstUs() * 1e3)});
        }
        if (safepoints != null) {
            List<String> log = Files.readAllLines(safepoints);
            long offset = Long.MIN_VALUE; // nanoTime - log time
            int dumps = 0;
            for (String line : log) {
                Matcher m = SAFEPOINT.matcher(line);
                if (m.find() && m.group(2).equals("ThreadDump") && ++dumps == 2) {
                    offset = dumpEnd - Long.parseLong(m.group(1));
                    break;
                }
            }
            if (offset == Long.MIN_VALUE) {
                System.out.println("no ThreadDump safepoint in " + safepoints + ": cannot map its clock");
                System.exit(0);
            }
            System.out.printf("log clock mapped to nanoTime within %.2f ms%n", (dumpEnd - dumpStart) / 1e6);
            for (int k = 0; k < worst.size(); k++) {
                long from = worst.get(k)[0] - offset - 1_000_000;
                long to = worst.get(k)[0] + worst.get(k)[1] - offset + 1_000_000;
                StringBuilder hit = new StringBuilder();
                for (String line : log) {
                    Matcher m = SAFEPOINT.matcher(line);
                    if (m.find()) {
                        long end = Long.parseLong(m.group(1));
                        long total = Long.parseLong(m.group(4));
                        if (end >= from && end - total <= to) {
                            hit.append(String.format(" %s from %.2f ms after the ping's send (reaching %.2f ms, "
                                    + "total %.2f ms)", m.group(2), (end - total - (worst.get(k)[0] - offset)) / 1e6,
                                    Long.parseLong(m.group(3)) / 1e6, total / 1e6));
                        }
                    }
                }
                System.out.printf("burst %d: safepoints overlapping the worst ping:%s%n", k + 1,
                        hit.length() == 0 ? " none" : hit);
            }
        }
        System.exit(0);
    }
}
