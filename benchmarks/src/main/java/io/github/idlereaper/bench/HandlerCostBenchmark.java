package io.github.idlereaper.bench;

import io.github.idlereaper.bench.Stack.Config;
import io.github.idlereaper.bench.Stack.Timeouts;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelPromise;
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

/**
 * Figure 2, JMH variant: the cost of one read batch and of one write through each configuration's handlers, on an
 * {@link EmbeddedChannel} with the same sinks as {@link LoopCostFigure}. Run with {@code -prof gc} for B/op. Each
 * configuration runs in its own fork, so the pipeline's call sites see one handler type (the best case for every
 * configuration alike; the real-loop variant has them all on one loop).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class HandlerCostBenchmark {

    @Param({"BARE", "PASS", "NETTY", "REAPER"})
    public String config;

    private EmbeddedChannel channel;
    private ChannelPipeline pipeline;
    private ChannelPromise voidPromise;
    private ByteBuf buf;

    @Setup
    public void setUp() {
        Stack stack = Stack.of(Config.valueOf(config), Timeouts.all(Duration.ofSeconds(60)));
        channel = new EmbeddedChannel();
        // Without this, each read batch ends in EmbeddedChannel.read(), which runs the embedded loop's scheduled
        // tasks and so reads the clock whenever a timer is armed: a cost of the test channel, not of the handler.
        channel.config().setAutoRead(false);
        pipeline = channel.pipeline();
        stack.addFirst(pipeline);
        pipeline.addFirst(Handlers.OutSink.NAME, Handlers.OutSink.INSTANCE);
        pipeline.addLast(Handlers.InSink.INSTANCE);
        voidPromise = channel.voidPromise();
        buf = Unpooled.unreleasableBuffer(Unpooled.buffer(64).writeZero(64));
    }

    @TearDown
    public void tearDown() {
        channel.finishAndReleaseAll();
    }

    /** What one socket read delivers: a message, then the end of the batch. */
    @Benchmark
    public void readBatch() {
        pipeline.fireChannelRead(buf);
        pipeline.fireChannelReadComplete();
    }

    /**
     * One response: a write and its flush, with the void promise. Through the pipeline, because
     * EmbeddedChannel's own writeAndFlush runs the embedded loop's pending tasks afterwards.
     */
    @Benchmark
    public void write() {
        pipeline.writeAndFlush(buf, voidPromise);
    }
}
