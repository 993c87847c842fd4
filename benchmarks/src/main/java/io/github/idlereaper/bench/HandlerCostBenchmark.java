package io.github.idlereaper.bench;

import io.github.idlereaper.bench.Stack.Config;
import io.github.idlereaper.bench.Stack.Timeouts;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelPromise;
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
 * Figure 2, JMH variant: the cost of one read batch and of one write through each configuration's handlers, on a
 * {@link SimChannel} whose loop is the benchmark thread itself ({@link CallerLoop}), with the same pipeline as
 * {@link LoopCostFigure}: reads end in a sink at the tail, writes go through the channel's real outbound buffer and
 * its real flush, which completes their promises. Run with {@code -prof gc} for B/op. Each configuration runs in
 * its own fork, so the pipeline's call sites see one handler type (the best case for every configuration alike;
 * the real-loop variant has them all on one loop).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class HandlerCostBenchmark {

    @Param({"BARE", "PASS", "NETTY", "REAPER"})
    public String config;

    private CallerLoop loop;
    private SimChannel channel;
    private ChannelPipeline pipeline;
    private ChannelPromise voidPromise;
    private ByteBuf buf;

    @Setup
    public void setUp() {
        Stack stack = Stack.of(Config.valueOf(config), Timeouts.all(Duration.ofSeconds(60)));
        loop = new CallerLoop();
        channel = new SimChannel();
        loop.register(channel);
        pipeline = channel.pipeline();
        stack.addFirst(pipeline);
        pipeline.addLast(Handlers.InSink.INSTANCE);
        loop.runTasks();
        voidPromise = channel.voidPromise();
        buf = Unpooled.unreleasableBuffer(Unpooled.buffer(64).writeZero(64));
    }

    @TearDown
    public void tearDown() {
        channel.close();
        loop.shutdown();
    }

    /** What one socket read delivers: a message, then the end of the batch. */
    @Benchmark
    public void readBatch() {
        pipeline.fireChannelRead(buf);
        pipeline.fireChannelReadComplete();
    }

    /** One response: a write and its flush, with the void promise. */
    @Benchmark
    public void write() {
        pipeline.writeAndFlush(buf, voidPromise);
    }

    /** The common form of a response: {@code writeAndFlush(msg)}, which makes a promise for each write. */
    @Benchmark
    public void writePromise() {
        pipeline.writeAndFlush(buf);
    }
}
