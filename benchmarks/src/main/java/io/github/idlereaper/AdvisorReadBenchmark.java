package io.github.idlereaper;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.embedded.EmbeddedChannel;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * Issue #12: what the timeout advisor ({@link IdleReaper.Builder#timeoutAdvisor}) adds to the read path, beside the
 * plain reaper in the same run: one inbound message through the reaper's handler to a sink, on an
 * {@link EmbeddedChannel} whose loop is the benchmark thread. {@code newTick=false} is the usual case, a message in
 * the same wheel tick as the last (the advisor checks and records nothing); {@code newTick=true} sets the handler's
 * last activity five ticks back before every message (in both configurations alike), so every message records a
 * gap: the worst case, which a real connection meets at most once per tick. Run (about 4 minutes):
 *
 * <pre>
 * mvn -q -B -DskipTests test-compile &amp;&amp; mvn -q -B dependency:build-classpath -Dmdep.includeScope=test \
 *     -Dmdep.outputFile=target/cp.txt
 * java -cp "target/test-classes:target/classes:$(cat target/cp.txt)" io.github.idlereaper.AdvisorReadBenchmark
 * </pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class AdvisorReadBenchmark {

    @Param({"false", "true"})
    public boolean advisor;

    @Param({"false", "true"})
    public boolean newTick;

    private EmbeddedChannel channel;
    private ChannelPipeline pipeline;
    private LoopWheel wheel;
    private ReaperHandler handler;
    private ByteBuf buf;

    @ChannelHandler.Sharable
    private static final class Sink extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            // dropped: the buffer is unreleasable
        }
    }

    @Setup
    public void setUp() {
        IdleReaper reaper = IdleReaper.builder().readIdleTimeout(Duration.ofSeconds(60))
                .writeIdleTimeout(Duration.ofSeconds(60)).allIdleTimeout(Duration.ofSeconds(60))
                .writeStallTimeout(Duration.ofSeconds(60)).timeoutAdvisor(advisor).build();
        channel = new EmbeddedChannel();
        pipeline = channel.pipeline();
        pipeline.addLast(new Sink());
        pipeline.addFirst(IdleReaper.HANDLER_NAME, reaper.newHandler());
        wheel = reaper.core().wheelFor(channel.eventLoop());
        handler = (ReaperHandler) pipeline.get(IdleReaper.HANDLER_NAME);
        buf = Unpooled.unreleasableBuffer(Unpooled.buffer(64).writeZero(64));
    }

    @TearDown
    public void tearDown() {
        channel.finishAndReleaseAll();
    }

    /** One inbound message, and the end of its read batch. */
    @Benchmark
    public void read() {
        if (newTick) {
            handler.readStamp = (wheel.stamp - 5) & Integer.MAX_VALUE;
        }
        pipeline.fireChannelRead(buf);
        pipeline.fireChannelReadComplete();
    }

    public static void main(String[] args) throws Exception {
        new Runner(new OptionsBuilder().include(AdvisorReadBenchmark.class.getSimpleName()).forks(3)
                .warmupIterations(5).warmupTime(TimeValue.seconds(1)).measurementIterations(8)
                .measurementTime(TimeValue.seconds(1)).addProfiler("gc").build()).run();
    }
}
