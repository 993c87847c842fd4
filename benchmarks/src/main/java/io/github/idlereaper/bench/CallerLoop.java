package io.github.idlereaper.bench;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelPromise;
import io.netty.channel.DefaultChannelPromise;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.AbstractScheduledEventExecutor;
import io.netty.util.concurrent.DefaultPromise;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;

/**
 * An event loop whose thread is whoever calls it: {@link #inEventLoop(Thread)} is always true, tasks wait in a queue
 * until {@link #runTasks()}, and scheduled tasks never run. For JMH, whose benchmark thread must itself be the
 * channel's loop, so that a {@link SimChannel} on it runs Netty's whole write path (outbound buffer, flush, promise
 * completion) inline. {@code EmbeddedChannel} cannot serve there: its unsafe runs the embedded loop's pending and
 * scheduled tasks after every write and flush, and so reads the clock whenever a timer is armed. Not thread-safe:
 * one benchmark thread only.
 */
final class CallerLoop extends AbstractScheduledEventExecutor implements EventLoop {

    private final ArrayDeque<Runnable> tasks = new ArrayDeque<>();
    private final DefaultPromise<Void> termination = new DefaultPromise<>(ImmediateEventExecutor.INSTANCE);
    private boolean shutdown;

    /** Runs the queued tasks (registration, handler callbacks that were handed over), including those they queue. */
    void runTasks() {
        Runnable r;
        while ((r = tasks.poll()) != null) {
            r.run();
        }
    }

    @Override
    public EventLoopGroup parent() {
        return null;
    }

    @Override
    public EventLoop next() {
        return this;
    }

    @Override
    public ChannelFuture register(Channel channel) {
        return register(new DefaultChannelPromise(channel, this));
    }

    @Override
    public ChannelFuture register(ChannelPromise promise) {
        promise.channel().unsafe().register(this, promise);
        runTasks();
        return promise;
    }

    @Override
    @Deprecated
    public ChannelFuture register(Channel channel, ChannelPromise promise) {
        channel.unsafe().register(this, promise);
        runTasks();
        return promise;
    }

    @Override
    public boolean inEventLoop(Thread thread) {
        return true;
    }

    @Override
    public void execute(Runnable task) {
        tasks.add(task);
    }

    @Override
    public boolean isShuttingDown() {
        return shutdown;
    }

    @Override
    public Future<?> shutdownGracefully(long quietPeriod, long timeout, TimeUnit unit) {
        shutdown();
        return termination;
    }

    @Override
    public Future<?> terminationFuture() {
        return termination;
    }

    @Override
    @Deprecated
    public void shutdown() {
        if (!shutdown) {
            shutdown = true;
            runTasks();
            cancelScheduledTasks();
            termination.trySuccess(null);
        }
    }

    @Override
    public boolean isShutdown() {
        return shutdown;
    }

    @Override
    public boolean isTerminated() {
        return shutdown;
    }

    @Override
    public boolean awaitTermination(long timeout, TimeUnit unit) {
        return shutdown;
    }
}
