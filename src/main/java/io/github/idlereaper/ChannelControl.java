package io.github.idlereaper;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The per-channel calls behind {@link IdleReaper}'s static methods: finds the reaper handlers in a channel's
 * pipeline and runs an action on each, on the channel's event loop. Safe from any thread at any time:
 * <ul>
 *   <li>off the loop, the action hops onto it, and checks again there (the channel may have moved to another
 *       loop meanwhile); while the channel is deregistered from every loop, the action waits for it to be
 *       registered again; on a loop that is shutting down, it does nothing;</li>
 *   <li>on a closed channel, or one whose pipeline was already torn down, it does nothing;</li>
 *   <li>with several reapers on one channel, the action reaches every one.</li>
 * </ul>
 */
final class ChannelControl {

    private ChannelControl() {
    }

    /**
     * The first reaper handler's context in {@code channel}'s pipeline, or null when the channel is closed and its
     * pipeline no longer has one.
     *
     * @throws IllegalStateException if the channel is open and no reaper handler is in its pipeline
     */
    static ChannelHandlerContext context(Channel channel) {
        Objects.requireNonNull(channel, "channel");
        ChannelHandlerContext ctx = channel.pipeline().context(ReaperHandler.class);
        if (ctx == null && channel.isOpen()) {
            throw new IllegalStateException("no IdleReaper handler in the pipeline of " + channel);
        }
        return ctx;
    }

    /** Runs {@code action} on every reaper handler of {@code channel}, on its event loop. */
    static void forEach(Channel channel, Consumer<ReaperHandler> action) {
        ChannelHandlerContext ctx = context(channel);
        if (ctx != null) {
            run(ctx, action);
        }
    }

    private static void run(ChannelHandlerContext ctx, Consumer<ReaperHandler> action) {
        Channel ch = ctx.channel();
        if (!ctx.executor().inEventLoop() || (!ch.isRegistered() && ch.isOpen())) {
            // Off the loop; or deregistered and perhaps on its way to another loop, whose registration will touch
            // the handler's state: wait until it is registered somewhere, then run there.
            boolean waiting = ctx.executor().inEventLoop();
            try {
                if (waiting) {
                    ctx.executor().schedule(() -> run(ctx, action), 1, TimeUnit.MILLISECONDS);
                } else {
                    ctx.executor().execute(() -> run(ctx, action));
                }
            } catch (RejectedExecutionException shuttingDown) {
                // The loop is shutting down, and its channels close with it: nothing to mark.
            }
            return;
        }
        ReaperHandler first = (ReaperHandler) ctx.handler();
        if (!first.shared()) {
            action.accept(first);
            return;
        }
        for (Map.Entry<String, ChannelHandler> e : ctx.pipeline()) {
            if (e.getValue() instanceof ReaperHandler) {
                action.accept((ReaperHandler) e.getValue());
            }
        }
    }

    /** The handler that answers for {@code channel}'s settings: the first in its pipeline. */
    static ReaperHandler handler(Channel channel) {
        ChannelHandlerContext ctx = context(channel);
        if (ctx == null) {
            throw new IllegalStateException("channel is closed: " + channel);
        }
        return (ReaperHandler) ctx.handler();
    }
}
