package io.github.idlereaper;

import io.netty.channel.Channel;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One unit of work in flight on a channel, from {@link IdleReaper#busy(Channel)}: while it is open, the idle timers
 * of every reaper on the channel hold off. {@link #close()} marks the work done, once: a second close does nothing,
 * so the token cannot unbalance the channel's busy count.
 *
 * <pre>{@code
 * Busy work = IdleReaper.busy(ctx.channel());
 * service.handle(request).whenComplete((response, error) -> work.close());   // from any thread
 * }</pre>
 *
 * <p>Thread-safe.
 */
public final class Busy implements AutoCloseable {

    private final Channel channel;
    private final AtomicBoolean closed = new AtomicBoolean();

    Busy(Channel channel) {
        this.channel = channel;
    }

    /**
     * The channel this work runs on.
     *
     * @return the channel this work runs on
     */
    public Channel channel() {
        return channel;
    }

    /**
     * Whether {@link #close()} was called.
     *
     * @return whether {@link #close()} was called
     */
    public boolean isClosed() {
        return closed.get();
    }

    /**
     * Marks the work done, as {@link IdleReaper#markIdle(Channel)} does, the first time it is called; later calls do
     * nothing. Any thread; a no-op once the channel closed.
     */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            IdleReaper.markIdle(channel);
        }
    }

    @Override
    public String toString() {
        return "Busy(" + channel + (isClosed() ? ", done)" : ")");
    }
}
