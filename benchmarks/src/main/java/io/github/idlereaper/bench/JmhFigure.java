package io.github.idlereaper.bench;

import io.github.idlereaper.bench.Stack.Config;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.EnumMap;
import java.util.Map;
import org.openjdk.jmh.profile.GCProfiler;
import org.openjdk.jmh.results.BenchmarkResult;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/** Runs {@link HandlerCostBenchmark} through JMH's API with the GC profiler, and collects its scores. */
final class JmhFigure {

    /**
     * One configuration's JMH scores: the median of the measurement iterations (all forks) in ns/op, JMH's own mean
     * with its 99.9% error, and B/op from the GC profiler. The table uses the median: the forks of different
     * configurations run one after another, and on a shared two-core machine another process can slow one whole
     * iteration down; the median shrugs that off, the mean does not.
     */
    record Scores(double readNs, double readMean, double readErr, double writeNs, double writeMean, double writeErr,
            double readBytes, double writeBytes) {
    }

    private JmhFigure() {
    }

    /**
     * @param forks 0 runs in this JVM (the smoke test); 1 or more forks a fresh JVM per configuration
     * @param logFile where JMH's own output goes
     */
    static Map<Config, Scores> run(int forks, int warmupIterations, int iterations, TimeValue iterationTime,
            String logFile, String... configs) throws Exception {
        ChainedOptionsBuilder b = new OptionsBuilder()
                .include(HandlerCostBenchmark.class.getName() + "\\.")
                .forks(forks)
                .warmupIterations(warmupIterations)
                .warmupTime(iterationTime)
                .measurementIterations(iterations)
                .measurementTime(iterationTime)
                .addProfiler(GCProfiler.class)
                .shouldFailOnError(true)
                .jvmArgsAppend("-Xmx1g")
                .output(logFile);
        if (configs.length > 0) {
            b.param("config", configs);
        }
        Collection<RunResult> results = new Runner(b.build()).run();
        Map<Config, double[]> acc = new EnumMap<>(Config.class);
        for (RunResult rr : results) {
            Config c = Config.valueOf(rr.getParams().getParam("config"));
            String bench = rr.getParams().getBenchmark();
            boolean read = bench.endsWith(".readBatch");
            double[] a = acc.computeIfAbsent(c, k -> {
                double[] d = new double[8];
                Arrays.fill(d, Double.NaN);
                return d;
            });
            Result<?> primary = rr.getPrimaryResult();
            Result<?> alloc = rr.getSecondaryResults().get("gc.alloc.rate.norm");
            List<Double> scores = new ArrayList<>();
            for (BenchmarkResult br : rr.getBenchmarkResults()) {
                for (IterationResult ir : br.getIterationResults()) {
                    scores.add(ir.getPrimaryResult().getScore());
                }
            }
            int o = read ? 0 : 3;
            a[o] = Measure.median(scores.stream().mapToDouble(Double::doubleValue).toArray());
            a[o + 1] = primary.getScore();
            a[o + 2] = primary.getScoreError();
            a[read ? 6 : 7] = alloc == null ? Double.NaN : alloc.getScore();
        }
        Map<Config, Scores> out = new EnumMap<>(Config.class);
        acc.forEach((c, a) -> out.put(c, new Scores(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7])));
        return out;
    }
}
