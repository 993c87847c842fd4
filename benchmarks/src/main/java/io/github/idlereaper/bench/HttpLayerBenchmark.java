package io.github.idlereaper.bench;

import io.github.idlereaper.bench.HttpBench.Conn;
import io.github.idlereaper.bench.HttpBench.Layer;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Issue #10: what the HTTP layer costs per request, in CPU and allocation. One keep-alive HTTP/1.1 connection
 * ({@link HttpBench.Conn}) with a server's pipeline: the reaper's handler, {@code HttpServerCodec}, the layer's
 * companion (with {@code http()}), an application that answers a {@code FullHttpResponse}. One op: a pre-encoded
 * GET (a retained duplicate of a static buffer) read in as a socket read delivers it, decoded, answered, encoded,
 * written and flushed through the channel's real outbound buffer to a sink. The configurations ({@link Layer}):
 * PLAIN (the reaper without {@code http()}), HTTP (with it, same other options), HOP (PLAIN plus a handler that
 * only forwards, where the companion sits, implementing the handler interfaces itself as the companion does) and
 * HOP_SKIP (the same hop through a {@code ChannelDuplexHandler}, which Netty skips for the events it does not
 * override): HTTP − PLAIN is the layer's whole cost per request, HTTP − HOP the companion's own work, HOP − PLAIN
 * what Netty charges for one more handler there, HOP − HOP_SKIP what implementing the interfaces directly adds. Each
 * configuration runs in its own fork(s). Run with {@code -prof gc} for B/op:
 *
 * <pre>
 * mvn -q -B -o -DskipTests test-compile
 * mvn -q -B -o dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/bench/classpath.txt
 * java -Dio.netty.leakDetection.level=disabled -cp "target/test-classes:target/classes:$(cat target/bench/classpath.txt)" \
 *     org.openjdk.jmh.Main 'bench.HttpLayerBenchmark' -f 2 -wi 5 -i 10 -w 1s -r 1s -prof gc -jvmArgsAppend -Xmx1g
 * </pre>
 *
 * ({@link HttpLayerFigure} runs the same with the configurations' forks interleaved.) The benchmark thread is the
 * channel's event loop ({@link CallerLoop}); JMH's thread is a plain {@code Thread}, on which Netty 4.2 does not
 * recycle the outbound buffer's entries: that allocation is the same in every configuration and cancels out (see
 * docs/performance.md, figure 2).
 *
 * <p>On a shared machine the wall-clock score also counts the time the benchmark thread waited for a CPU. So each
 * iteration also reports the thread's own CPU time and its op count ({@link Cpu}, two secondary results,
 * {@code request:cpuNanos} and {@code request:ops}); their ratio per iteration is CPU ns per request, which the
 * other sessions' load does not inflate as much.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class HttpLayerBenchmark {

    @Param({"PLAIN", "HTTP", "HOP", "HOP_SKIP"})
    public String layer;

    private Conn conn;

    /**
     * The benchmark thread's CPU time in the iteration and the ops it ran, as JMH auxiliary counters (totals per
     * iteration): cpuNanos / ops is the iteration's CPU ns per request. Counting ops costs one field increment per
     * request, the same in every configuration.
     */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class Cpu {
        public long cpuNanos;
        public long ops;
        private long start;

        @Setup(Level.Iteration)
        public void begin() {
            ops = 0;
            cpuNanos = 0;
            start = Measure.cpuNanos();
        }

        @TearDown(Level.Iteration)
        public void end() {
            cpuNanos = Measure.cpuNanos() - start;
        }
    }

    @Setup
    public void setUp() {
        conn = new Conn(Layer.valueOf(layer));
        long before = conn.request();
        if (conn.request() - before <= 0) {
            throw new IllegalStateException(layer + ": no response written");
        }
    }

    @TearDown
    public void tearDown() {
        conn.close();
    }

    /** One request in, its response out; returns the bytes written so far (consumed by JMH). */
    @Benchmark
    public long request(Cpu cpu) {
        cpu.ops++;
        return conn.request();
    }
}
