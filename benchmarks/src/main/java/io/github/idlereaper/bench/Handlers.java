package io.github.idlereaper.bench;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/** The small handlers the benchmarks put around the configuration under test. */
final class Handlers {

    private Handlers() {
    }

    /** Forwards every read and write: the cost of one handler that sees each message. One per channel. */
    static final class PassThrough extends ChannelDuplexHandler {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ctx.fireChannelRead(msg);
        }

        @Override
        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
            ctx.write(msg, promise);
        }
    }

    /** Closes the channel on any {@link IdleStateEvent}: what a Netty application adds behind IdleStateHandler. */
    @ChannelHandler.Sharable
    static final class IdleCloser extends ChannelInboundHandlerAdapter {
        static final IdleCloser INSTANCE = new IdleCloser();

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof IdleStateEvent) {
                ctx.close();
            } else {
                ctx.fireUserEventTriggered(evt);
            }
        }
    }

    /**
     * The ping-sending handler of the Netty composition: a periodic timer of its own; a ping when nothing was read
     * in the last interval, a close after {@code maxMissed} pings in a row went unanswered. One per channel.
     */
    static final class PingSender extends ChannelInboundHandlerAdapter {
        private final long intervalNanos;
        private final int maxMissed;
        private final byte[] ping;
        private ScheduledFuture<?> timer;
        private boolean readSinceTick;
        private int missed;

        PingSender(Duration interval, int maxMissed, byte[] ping) {
            this.intervalNanos = interval.toNanos();
            this.maxMissed = maxMissed;
            this.ping = ping;
        }

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            if (ctx.channel().isActive()) {
                start(ctx);
            }
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            start(ctx);
            ctx.fireChannelActive();
        }

        private void start(ChannelHandlerContext ctx) {
            if (timer == null) {
                timer = ctx.executor().scheduleAtFixedRate(() -> tick(ctx), intervalNanos, intervalNanos,
                        TimeUnit.NANOSECONDS);
            }
        }

        private void tick(ChannelHandlerContext ctx) {
            if (readSinceTick) {
                readSinceTick = false;
                missed = 0;
            } else if (missed++ >= maxMissed) {
                ctx.close();
            } else {
                ctx.writeAndFlush(Unpooled.wrappedBuffer(ping), ctx.voidPromise());
            }
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            readSinceTick = true;
            ctx.fireChannelRead(msg);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            stop();
            ctx.fireChannelInactive();
        }

        @Override
        public void handlerRemoved(ChannelHandlerContext ctx) {
            stop();
        }

        private void stop() {
            if (timer != null) {
                timer.cancel(false);
                timer = null;
            }
        }
    }

    /** Swallows inbound messages without releasing them (the benchmarks reuse one unreleasable buffer). */
    @ChannelHandler.Sharable
    static final class InSink extends ChannelInboundHandlerAdapter {
        static final InSink INSTANCE = new InSink();

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            // swallowed
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            // swallowed
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            // benchmarks close connections abruptly; a reset is not news
        }
    }

    /**
     * Sits next to the head and completes every write at once, so a write's cost is the handlers' cost and not the
     * socket's. Flushes stop here too.
     */
    @ChannelHandler.Sharable
    static final class OutSink extends ChannelOutboundHandlerAdapter {
        static final OutSink INSTANCE = new OutSink();
        static final String NAME = "outSink";

        @Override
        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
            promise.trySuccess();
        }

        @Override
        public void flush(ChannelHandlerContext ctx) {
            // swallowed
        }
    }

    /** Counts active channels and swallows the resets that abrupt client closes cause. One shared instance. */
    @ChannelHandler.Sharable
    static final class Counter extends ChannelInboundHandlerAdapter {
        final AtomicInteger active = new AtomicInteger();
        final AtomicInteger opened = new AtomicInteger();

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            active.incrementAndGet();
            opened.incrementAndGet();
            ctx.fireChannelActive();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            active.decrementAndGet();
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            // "Connection reset by peer" on the abrupt closes; expected
        }
    }
}
