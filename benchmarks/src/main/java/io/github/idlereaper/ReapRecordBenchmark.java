package io.github.idlereaper;

import io.netty.channel.embedded.EmbeddedChannel;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import jdk.jfr.Recording;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.OptionsBuilder;

/**
 * Issue #12: what the JFR event ({@link ReapRecord}) adds to the report of one reap ({@link ReaperCore#reaped}),
 * in three states of the JVM, each in its own forks: {@code NONE}, no recording ever started (the event's class
 * is not instrumented); {@code DISABLED}, a recording runs with the event disabled (the class is instrumented and
 * the check reads the event type's state); {@code ENABLED}, a recording with the event on (in memory, not to disk).
 *
 * <ul>
 *   <li>{@code baseline}: an empty method, the floor of the measurement;
 *   <li>{@code jfrCheck}: exactly what {@code reaped()} adds, {@code if (JFR_EVENT) ReapRecord.emit(ch, event)};
 *   <li>{@code newThenIsEnabled}: the usual pattern, {@code new ReapRecord()} then {@code isEnabled()}, which is
 *       free when off only if escape analysis removes the allocation (not done: the event uses a shared probe);
 *   <li>{@code reportPath}: the whole report of one reap: the counter, the DEBUG check (off), the JFR event, no
 *       listener.
 * </ul>
 *
 * Run with {@code -prof gc} (main does) for B/op:
 *
 * <pre>
 * mvn -q -B -DskipTests test-compile &amp;&amp; mvn -q -B dependency:build-classpath -Dmdep.includeScope=test \
 *     -Dmdep.outputFile=target/cp.txt
 * java -cp "target/test-classes:target/classes:$(cat target/cp.txt)" io.github.idlereaper.ReapRecordBenchmark
 * </pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
// The tests' simplelogger.properties logs the reaper at DEBUG: one line per report would be the figure.
@Fork(value = 2, jvmArgsAppend = {"-Dorg.slf4j.simpleLogger.log.io.github.idlereaper=info",
        "-Dio.netty.leakDetection.level=disabled"})
public class ReapRecordBenchmark {

    @Param({"NONE", "DISABLED", "ENABLED"})
    public String recording;

    private Recording rec;
    private ReaperCore core;
    private EmbeddedChannel ch;
    private ReapEvent event;

    @Setup
    public void setUp() {
        if (!recording.equals("NONE")) {
            rec = new Recording();
            rec.setToDisk(false);
            if (recording.equals("ENABLED")) {
                rec.enable(ReapRecord.NAME);
            } else {
                rec.disable(ReapRecord.NAME);
            }
            rec.start();
        }
        core = IdleReaper.builder().readIdleTimeout(Duration.ofSeconds(30)).build().core();
        ch = new EmbeddedChannel();
        event = new ReapEvent(ReapReason.READ_IDLE, 30_012_000_000L, 30_000_000_000L);
        if (!ReaperCore.JFR_EVENT) {
            throw new IllegalStateException("the JFR event did not load");
        }
    }

    @TearDown
    public void tearDown() {
        ch.finishAndReleaseAll();
        if (rec != null) {
            rec.close();
        }
    }

    @Benchmark
    public void baseline() {
        // the floor: nothing
    }

    @Benchmark
    public void jfrCheck() {
        if (ReaperCore.JFR_EVENT) {
            ReapRecord.emit(ch, event);
        }
    }

    @Benchmark
    public void newThenIsEnabled() {
        ReapRecord r = new ReapRecord();
        if (r.isEnabled()) {
            r.reason = event.reason().name();
            r.idleFor = event.idleNanos();
            r.limit = event.limitNanos();
            r.count = event.count();
            r.of = event.of();
            r.remoteAddress = String.valueOf(ch.remoteAddress());
            r.channelId = ch.id().asShortText();
            r.dryRun = event.dryRun();
            r.message = event.message();
            r.commit();
        }
    }

    @Benchmark
    public void reportPath() {
        core.reaped(ch, event);
    }

    public static void main(String[] args) throws Exception {
        new Runner(new OptionsBuilder().include(ReapRecordBenchmark.class.getName() + "\\.").addProfiler("gc")
                .build()).run();
    }
}
