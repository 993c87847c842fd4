package io.github.idlereaper.bench;

import io.github.idlereaper.bench.LoopCostFigure.Op;
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
     * One configuration's JMH scores per {@link Op} (indexed by its ordinal): the median of the measurement
     * iterations (all forks) in ns/op, JMH's own mean with its 99.9% error, and B/op from the GC profiler. The table
     * uses the median: the forks of different configurations run one after another, and on a shared two-core machine
     * another process can slow one whole iteration down; the median shrugs that off, the mean does not.
     */
    record Scores(double[] ns, double[] mean, double[] err, double[] bytes) {
        double ns(Op op) {
            return ns[op.ordinal()];
        }

        double mean(Op op) {
            return mean[op.ordinal()];
        }

        double err(Op op) {
            return err[op.ordinal()];
        }

        double bytes(Op op) {
            return bytes[op.ordinal()];
        }
    }

    private JmhFigure() {
    }

    /** The operation a method of {@link HandlerCostBenchmark} measures. */
    private static Op op(String benchmark) {
        String method = benchmark.substring(benchmark.lastIndexOf('.') + 1);
        switch (method) {
            case "readBatch":
                return Op.READ;
            case "write":
                return Op.WRITE;
            case "writePromise":
                return Op.WRITE_PROMISE;
            default:
                throw new IllegalArgumentException("not a figure 2 benchmark: " + benchmark);
        }
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
        int ops = Op.values().length;
        Map<Config, Scores> out = new EnumMap<>(Config.class);
        for (RunResult rr : results) {
            Config c = Config.valueOf(rr.getParams().getParam("config"));
            int o = op(rr.getParams().getBenchmark()).ordinal();
            Scores s = out.computeIfAbsent(c, k -> {
                Scores n = new Scores(new double[ops], new double[ops], new double[ops], new double[ops]);
                for (double[] a : List.of(n.ns(), n.mean(), n.err(), n.bytes())) {
                    Arrays.fill(a, Double.NaN);
                }
                return n;
            });
            Result<?> primary = rr.getPrimaryResult();
            Result<?> alloc = rr.getSecondaryResults().get("gc.alloc.rate.norm");
            List<Double> scores = new ArrayList<>();
            for (BenchmarkResult br : rr.getBenchmarkResults()) {
                for (IterationResult ir : br.getIterationResults()) {
                    scores.add(ir.getPrimaryResult().getScore());
                }
            }
            s.ns()[o] = Measure.median(scores.stream().mapToDouble(Double::doubleValue).toArray());
            s.mean()[o] = primary.getScore();
            s.err()[o] = primary.getScoreError();
            s.bytes()[o] = alloc == null ? Double.NaN : alloc.getScore();
        }
        return out;
    }
}
