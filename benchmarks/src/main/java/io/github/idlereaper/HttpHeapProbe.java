package io.github.idlereaper;

import io.netty.channel.embedded.EmbeddedChannel;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import org.openjdk.jol.info.ClassLayout;

/**
 * Issue #10: heap per connection with and without the HTTP layer. For each configuration, in turn (plain, http,
 * plain, http, ...): n child {@link EmbeddedChannel}s (one shared parent), each with the pipeline of
 * {@link HttpLayerBenchmark} (reaper handler, HttpServerCodec, host; plus the companion for {@code http}) and one
 * request served, held in an array; used heap after full GCs, minus the same before; over n. Plus the shallow sizes
 * (JOL) of the companion and of Netty's handler context that holds it in the pipeline. Run:
 *
 * <pre>
 * java -Xms1g -Xmx1g -Dio.netty.leakDetection.level=disabled \
 *     -cp "target/test-classes:target/classes:$(cat target/bench/classpath.txt)" io.github.idlereaper.HttpHeapProbe 5000 3
 * </pre>
 *
 * Each EmbeddedChannel has its own EmbeddedEventLoop, so each also has its own reaper wheel: the absolute figures
 * are an embedded channel's, larger than a socket's; the difference between the configurations is the layer's.
 */
public final class HttpHeapProbe {

    private HttpHeapProbe() {
    }

    private static final MemoryMXBean MEM = ManagementFactory.getMemoryMXBean();

    static long usedAfterGc() throws InterruptedException {
        long best = Long.MAX_VALUE;
        for (int i = 0; i < 6; i++) {
            System.gc();
            Thread.sleep(40);
            best = Math.min(best, MEM.getHeapMemoryUsage().getUsed());
        }
        return best;
    }

    static double perConnection(boolean http, int n) throws Exception {
        IdleReaper reaper = HttpLayerBenchmark.reaper(http);
        EmbeddedChannel parent = new EmbeddedChannel();
        EmbeddedChannel[] chs = new EmbeddedChannel[n];
        long before = usedAfterGc();
        for (int i = 0; i < n; i++) {
            chs[i] = HttpLayerBenchmark.connection(reaper, parent);
            HttpLayerBenchmark.serve(chs[i]);
        }
        long after = usedAfterGc();
        if (http != (chs[n - 1].pipeline().get(HttpCompanion.class) != null)) {
            throw new IllegalStateException("companion present: " + !http);
        }
        for (EmbeddedChannel ch : chs) {
            ch.finishAndReleaseAll();
        }
        parent.finishAndReleaseAll();
        return (after - before) / (double) n;
    }

    /**
     * What the difference is made of: JOL's graph of everything reachable from one served connection (its parent,
     * event loop and wheel included), per class, http minus plain. Fresh reapers, the same way each.
     */
    static void graphDiff() {
        java.util.Map<String, long[]> by = new java.util.TreeMap<>();
        for (int k = 0; k < 2; k++) {
            EmbeddedChannel parent = new EmbeddedChannel();
            EmbeddedChannel ch = HttpLayerBenchmark.connection(HttpLayerBenchmark.reaper(k == 1), parent);
            HttpLayerBenchmark.serve(ch);
            org.openjdk.jol.info.GraphLayout g = org.openjdk.jol.info.GraphLayout.parseInstance(ch);
            for (Class<?> c : g.getClasses()) {
                long[] v = by.computeIfAbsent(c.getName(), x -> new long[4]);
                v[k * 2] += g.getClassCounts().count(c);
                v[k * 2 + 1] += g.getClassSizes().count(c);
            }
            System.out.printf("graph of one connection (%s): %d B in %d objects%n", k == 1 ? "http" : "plain",
                    g.totalSize(), g.totalCount());
        }
        by.forEach((name, v) -> {
            if (v[1] != v[3]) {
                System.out.printf("  %+6d B %+4d objects  %s%n", v[3] - v[1], v[2] - v[0], name);
            }
        });
    }

    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 5000;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        System.out.println(ClassLayout.parseClass(HttpCompanion.class).toPrintable());
        Class<?> ctx = Class.forName("io.netty.channel.DefaultChannelHandlerContext");
        System.out.println(ClassLayout.parseClass(ctx).toPrintable());
        System.out.printf("shallow: HttpCompanion %d B, DefaultChannelHandlerContext %d B%n",
                ClassLayout.parseClass(HttpCompanion.class).instanceSize(), ClassLayout.parseClass(ctx).instanceSize());
        graphDiff();
        perConnection(false, n); // warm-up, discarded
        perConnection(true, n);
        double sumPlain = 0;
        double sumHttp = 0;
        for (int r = 1; r <= rounds; r++) {
            double p = perConnection(false, n);
            double h = perConnection(true, n);
            sumPlain += p;
            sumHttp += h;
            System.out.printf("round %d: plain %.1f B/conn, http %.1f B/conn, difference %.1f B%n", r, p, h, h - p);
        }
        System.out.printf("mean over %d rounds of %d connections: plain %.1f B, http %.1f B, difference %.1f B%n",
                rounds, n, sumPlain / rounds, sumHttp / rounds, (sumHttp - sumPlain) / rounds);
    }
}
