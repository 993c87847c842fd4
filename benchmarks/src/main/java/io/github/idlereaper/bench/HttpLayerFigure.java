package io.github.idlereaper.bench;

import io.github.idlereaper.bench.HttpBench.Layer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.openjdk.jmh.profile.GCProfiler;
import org.openjdk.jmh.results.BenchmarkResult;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.util.ListStatistics;

/**
 * Issue #10, per request: runs {@link HttpLayerBenchmark} for each {@link Layer} with JMH's GC profiler, one fork per
 * configuration per round, the configurations interleaved (round 1 in {@link Layer} order, round 2 the reverse, ...),
 * so that a slow minute of the shared machine falls on all of them rather than on one; then pools each
 * configuration's iterations over the rounds. Prints and writes a Markdown table: wall ns/op (the mean with JMH's
 * 99.9 % error, and the median iteration), the thread's CPU ns/op (median iteration), B/op, and the differences
 * HTTP − PLAIN (the layer), HOP − PLAIN (one more handler's hop), HTTP − HOP (the companion's own work) and
 * HOP − HOP_SKIP (a handler that Netty cannot skip for any event).
 *
 * <pre>
 * java -Dio.netty.leakDetection.level=disabled -cp "target/test-classes:target/classes:$(cat target/bench/classpath.txt)" \
 *     io.github.idlereaper.bench.HttpLayerFigure [--rounds=2] [--smoke] [--out=target/bench/http-jmh.md]
 * </pre>
 *
 * Each fork: 5 warm-up and 10 measured iterations of 1 s; 2 rounds give each configuration 2 forks and 20
 * iterations, as {@code -f 2 -wi 5 -i 10}, in about 130 s.
 */
public final class HttpLayerFigure {

    /** One configuration's pooled results: wall ns/op, CPU ns/op and B/op, one value per iteration. */
    record Scores(ListStatistics wall, ListStatistics cpu, ListStatistics bytes) {
        static Scores empty() {
            return new Scores(new ListStatistics(), new ListStatistics(), new ListStatistics());
        }
    }

    private HttpLayerFigure() {
    }

    public static void main(String[] args) throws Exception {
        int rounds = 2;
        boolean smoke = false;
        Path out = Path.of("target", "bench", "http-jmh.md");
        for (String a : args) {
            if (a.startsWith("--rounds=")) {
                rounds = Integer.parseInt(a.substring("--rounds=".length()));
            } else if (a.equals("--smoke")) {
                smoke = true;
            } else if (a.startsWith("--out=")) {
                out = Path.of(a.substring("--out=".length()));
            } else {
                System.err.println("usage: HttpLayerFigure [--rounds=N] [--smoke] [--out=FILE]");
                System.exit(2);
            }
        }
        Files.createDirectories(out.toAbsolutePath().getParent());
        Path log = out.resolveSibling("http-jmh.log");
        Map<Layer, Scores> s = smoke ? run(1, 0, 0, 1, TimeValue.milliseconds(100), log)
                : run(rounds, 1, 5, 10, TimeValue.seconds(1), log);
        String text = table(s, smoke ? "smoke (in this JVM, one iteration of 100 ms: not a measurement)"
                : String.format(Locale.ROOT, "%d rounds × 1 fork per configuration, interleaved; each fork 5 warm-up "
                        + "+ 10 measured iterations of 1 s", rounds));
        System.out.println(text);
        Files.writeString(out, text, StandardCharsets.UTF_8);
        System.out.println("Written to " + out);
        System.exit(0); // JMH leaves non-daemon threads behind
    }

    /**
     * Runs the rounds. {@code forks} 0 runs in this JVM (the smoke test). Each configuration's iterations are pooled
     * over the rounds; JMH's own output goes to {@code log} plus a suffix per run.
     */
    static Map<Layer, Scores> run(int rounds, int forks, int warmups, int iterations, TimeValue time, Path log)
            throws Exception {
        Files.createDirectories(log.toAbsolutePath().getParent());
        Map<Layer, Scores> out = new EnumMap<>(Layer.class);
        for (Layer l : Layer.values()) {
            out.put(l, Scores.empty());
        }
        for (int r = 0; r < rounds; r++) {
            List<Layer> order = new ArrayList<>(List.of(Layer.values()));
            if (r % 2 == 1) {
                Collections.reverse(order);
            }
            for (Layer l : order) {
                System.out.printf("== round %d: %s%n", r + 1, l);
                OptionsBuilder b = new OptionsBuilder();
                b.include(HttpLayerBenchmark.class.getName() + "\\.request$")
                        .param("layer", l.name())
                        .forks(forks)
                        .warmupIterations(warmups)
                        .warmupTime(time)
                        .measurementIterations(iterations)
                        .measurementTime(time)
                        .addProfiler(GCProfiler.class)
                        .shouldFailOnError(true)
                        .jvmArgsAppend("-Xmx1g", "-Dio.netty.leakDetection.level=disabled")
                        .output(log + "." + (r + 1) + "-" + l);
                for (RunResult rr : new Runner(b.build()).run()) {
                    collect(rr, out.get(l));
                }
            }
        }
        return out;
    }

    private static void collect(RunResult rr, Scores s) {
        for (BenchmarkResult br : rr.getBenchmarkResults()) {
            for (IterationResult ir : br.getIterationResults()) {
                s.wall().addValue(ir.getPrimaryResult().getScore());
                Map<String, Result> sec = ir.getSecondaryResults();
                Result cpu = sec.get("cpuNanos");
                Result ops = sec.get("ops");
                if (cpu != null && ops != null && ops.getScore() > 0) {
                    s.cpu().addValue(cpu.getScore() / ops.getScore());
                }
                Result norm = sec.get("gc.alloc.rate.norm");
                if (norm != null) {
                    s.bytes().addValue(norm.getScore());
                }
            }
        }
    }

    static double median(ListStatistics s) {
        return s.getN() == 0 ? Double.NaN : s.getPercentile(50);
    }

    static double error(ListStatistics s) {
        return s.getN() < 2 ? Double.NaN : s.getMeanErrorAt(0.999);
    }

    static String table(Map<Layer, Scores> m, String how) {
        StringBuilder sb = new StringBuilder();
        sb.append("Per request, JMH (HttpLayerBenchmark, -prof gc): ").append(how).append(".\n\n");
        sb.append("| configuration | wall ns/op, mean ± 99.9 % | wall ns/op, median iteration | CPU ns/op, median "
                + "iteration | gc.alloc.rate.norm B/op, mean ± 99.9 % | iterations |\n");
        sb.append("|---|---:|---:|---:|---:|---:|\n");
        for (Layer l : Layer.values()) {
            Scores s = m.get(l);
            sb.append(String.format(Locale.ROOT, "| %s | %.1f ± %.1f | %.1f | %.1f | %.3f ± %.3f | %d |%n", l.label,
                    s.wall().getMean(), error(s.wall()), median(s.wall()), median(s.cpu()), s.bytes().getMean(),
                    error(s.bytes()), s.wall().getN()));
        }
        sb.append("\n| difference | wall, means ± 99.9 % | wall, medians | CPU, medians | B/op, means |\n");
        sb.append("|---|---:|---:|---:|---:|\n");
        diff(sb, "the layer: HTTP − PLAIN", m.get(Layer.HTTP), m.get(Layer.PLAIN));
        diff(sb, "one more handler's hop: HOP − PLAIN", m.get(Layer.HOP), m.get(Layer.PLAIN));
        diff(sb, "the companion's own work: HTTP − HOP", m.get(Layer.HTTP), m.get(Layer.HOP));
        diff(sb, "no skip mask (interfaces implemented directly): HOP − HOP_SKIP", m.get(Layer.HOP),
                m.get(Layer.HOP_SKIP));
        return sb.toString();
    }

    private static void diff(StringBuilder sb, String what, Scores a, Scores b) {
        double err = Math.sqrt(sq(error(a.wall())) + sq(error(b.wall())));
        sb.append(String.format(Locale.ROOT, "| %s | %+.1f ± %.1f ns | %+.1f ns | %+.1f ns | %+.3f B |%n", what,
                a.wall().getMean() - b.wall().getMean(), err, median(a.wall()) - median(b.wall()),
                median(a.cpu()) - median(b.cpu()), a.bytes().getMean() - b.bytes().getMean()));
    }

    private static double sq(double x) {
        return x * x;
    }
}
