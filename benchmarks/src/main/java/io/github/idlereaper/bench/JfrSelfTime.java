package io.github.idlereaper.bench;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordedStackTrace;
import jdk.jfr.consumer.RecordingFile;

/**
 * Where a JMH benchmark's CPU goes, from a JFR recording of its fork: the execution samples whose stack holds the
 * benchmark's class, by top frame (self time: the method, with the JIT's inlining resolved, and the source line the
 * sample fell on), and the share of those in the classes whose names start with a given prefix. Used for the HTTP
 * layer's per-request cost (docs/performance.md, "The HTTP layer"): record one fork per configuration with
 *
 * <pre>
 * jfr configure --input profile "jdk.ExecutionSample#period=1 ms" --output target/bench/prof.jfc
 * java -cp "$CP" org.openjdk.jmh.Main 'bench.HttpLayerBenchmark.request' -p layer=HTTP -f 1 -wi 5 -i 10 \
 *     -jvmArgsAppend "-XX:StartFlightRecording=filename=target/bench/prof-HTTP.jfr,settings=target/bench/prof.jfc \
 *     -XX:+UnlockDiagnosticVMOptions -XX:+DebugNonSafepoints"
 * java -cp "$CP" io.github.idlereaper.bench.JfrSelfTime target/bench/prof-HTTP.jfr HttpLayerBenchmark \
 *     io.github.idlereaper. 25
 * </pre>
 *
 * Args: {@code FILE BENCHMARK_CLASS_SIMPLE_NAME PREFIX [TOP]}. Sampling attributes time to the frame a sample lands
 * in, so a share is an estimate with the sampling's error (one sample per millisecond of the benchmark thread).
 */
public final class JfrSelfTime {

    private JfrSelfTime() {
    }

    public static void main(String[] args) throws Exception {
        Path file = Path.of(args[0]);
        String bench = args[1];
        String prefix = args[2];
        int top = args.length > 3 ? Integer.parseInt(args[3]) : 25;
        Map<String, Integer> byLine = new HashMap<>();
        Map<String, Integer> byClass = new HashMap<>();
        int n = 0;
        int mine = 0;
        for (RecordedEvent e : RecordingFile.readAllEvents(file)) {
            if (!e.getEventType().getName().equals("jdk.ExecutionSample")) {
                continue;
            }
            RecordedStackTrace st = e.getStackTrace();
            if (st == null || st.getFrames().isEmpty()) {
                continue;
            }
            List<RecordedFrame> frames = st.getFrames();
            boolean inBench = false;
            for (RecordedFrame f : frames) {
                if (f.getMethod().getType().getName().endsWith(bench)) {
                    inBench = true;
                    break;
                }
            }
            if (!inBench) {
                continue;
            }
            n++;
            RecordedFrame f = frames.get(0);
            String type = f.getMethod().getType().getName();
            String key = type + "." + f.getMethod().getName() + ":" + f.getLineNumber();
            byLine.merge(key, 1, Integer::sum);
            if (type.startsWith(prefix)) {
                mine++;
                byClass.merge(type, 1, Integer::sum);
            }
        }
        final int total = n;
        System.out.printf(Locale.ROOT, "%s: %d samples in %s; self time in %s*: %.1f %%%n", file, n, bench, prefix,
                100.0 * mine / Math.max(1, n));
        byClass.entrySet().stream().sorted((a, b) -> b.getValue() - a.getValue())
                .forEach(x -> System.out.printf(Locale.ROOT, "  %5.2f %%  %s%n", 100.0 * x.getValue() / total,
                        x.getKey()));
        System.out.println("top frames (method:line):");
        byLine.entrySet().stream().sorted((a, b) -> b.getValue() - a.getValue()).limit(top)
                .forEach(x -> System.out.printf(Locale.ROOT, "  %5.2f %%  %s%n", 100.0 * x.getValue() / total,
                        x.getKey()));
        System.out.println("in " + prefix + "* (method:line):");
        byLine.entrySet().stream().filter(x -> x.getKey().startsWith(prefix))
                .sorted((a, b) -> b.getValue() - a.getValue()).limit(top)
                .forEach(x -> System.out.printf(Locale.ROOT, "  %5.2f %%  %s%n", 100.0 * x.getValue() / total,
                        x.getKey()));
    }
}
