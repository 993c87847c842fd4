package io.github.idlereaper.bench;

import io.github.idlereaper.bench.HttpBench.Conn;
import io.github.idlereaper.bench.HttpBench.Layer;

/**
 * Bytes allocated per request by one {@link HttpBench.Conn}, counted by the JVM for the calling thread (no sampling,
 * no JIT-dependent profile): a precise check of what the JMH figure's {@code gc.alloc.rate.norm} says, for each
 * configuration in a JVM of its own. Under {@code -Xint} every object a request creates is counted, whatever the JIT
 * would have eliminated; with {@code -XX:-DoEscapeAnalysis} the compiled code's allocations are all real too. Args:
 * {@code LAYER [requests] [warm-up requests]}.
 *
 * <pre>
 * for l in PLAIN HTTP; do java -Xint -Dio.netty.leakDetection.level=disabled \
 *     -cp "target/test-classes:target/classes:$(cat target/bench/classpath.txt)" \
 *     io.github.idlereaper.bench.HttpAllocProbe $l 20000 2000; done
 * </pre>
 */
public final class HttpAllocProbe {

    private HttpAllocProbe() {
    }

    /** Bytes per request over {@code n} requests on {@code conn}, after {@code warmup} unmeasured ones. */
    static double bytesPerRequest(Conn conn, int n, int warmup) {
        for (int i = 0; i < warmup; i++) {
            conn.request();
        }
        long before = Measure.allocatedBytes();
        for (int i = 0; i < n; i++) {
            conn.request();
        }
        return (double) (Measure.allocatedBytes() - before) / n;
    }

    public static void main(String[] args) {
        Layer layer = Layer.valueOf(args[0]);
        int n = args.length > 1 ? Integer.parseInt(args[1]) : 100_000;
        int warmup = args.length > 2 ? Integer.parseInt(args[2]) : 100_000;
        try (Conn conn = new Conn(layer)) {
            double b = bytesPerRequest(conn, n, warmup);
            System.out.printf("%-8s %,d requests after %,d warm-up: %.2f B/request%n", layer, n, warmup, b);
        }
    }
}
