package io.github.idlereaper;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufHolder;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.ChannelPromise;
import io.netty.channel.FileRegion;
import io.netty.util.internal.SystemPropertyUtil;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The reaper's pipeline handler: first in the pipeline, one per channel, and its own {@link LoopWheel} entry.
 *
 * <p>On the hot paths it only stores the wheel's stamp: a read stores it in {@code readStamp}, a write in
 * {@code writeStamp} and adds the message's size to {@code ledger}. Everything else happens lazily when the wheel
 * visits the entry ({@link #expire}): the stamps become upper bounds on real time, the outbound buffer is sampled
 * for progress, and the earliest timer that has run out reaps the channel.
 *
 * <p>The fields are kept few on purpose (the whole object is 56 bytes with compressed oops), because one lives
 * for every connection. Confined to the channel's event loop.
 */
final class ReaperHandler extends WheelEntry {

    private static final Logger log = LoggerFactory.getLogger(ReaperHandler.class);

    /** Netty adds this to every outbound message's size in its pending-bytes count; so must the ledger. */
    private static final int ENTRY_OVERHEAD =
            SystemPropertyUtil.getInt("io.netty.transport.outboundBufferEntrySizeOverhead", 96);
    /** Netty's default size estimate for a message it does not know. */
    private static final int UNKNOWN_SIZE = 8;

    // Bits of `state`.
    /** Counted by the wheel and the stats. */
    private static final int REGISTERED = 1;
    /** No flushed bytes were pending at the last sample. */
    private static final int OUT_EMPTY = 1 << 1;
    /** Reaped: the goodbye is being flushed, and the next visit closes the channel regardless. */
    private static final int REAPING = 1 << 2;
    /** Was registered once; never registers again. */
    private static final int RETIRED = 1 << 3;
    private static final int BUSY_SHIFT = 8;
    private static final int BUSY_ONE = 1 << BUSY_SHIFT;
    private static final int BUSY_MAX = Integer.MAX_VALUE >>> BUSY_SHIFT;

    private final ReaperCore core;
    private ChannelHandlerContext ctx;
    private LoopWheel wheel;
    /** The wheel stamp of the last inbound message. */
    private int readStamp;
    /** The wheel stamp of the last outbound write. */
    private int writeStamp;
    /**
     * Outbound bytes written since the last sample, as Netty counts them, minus what was pending at that sample
     * plus the current message's progress; so at the next sample, "ledger - pending + progress" is exactly what
     * left the socket in between (see {@link #sampleOutbound}).
     */
    private int ledger;
    /** The stamp at which outbound progress was last seen, or at which flushed bytes started to wait. */
    private int outTick;
    /** Flag bits and, from bit 8, the busy count. */
    private int state;

    ReaperHandler(ReaperCore core) {
        this.core = core;
    }

    // ---------------------------------------------------------------- pipeline events

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        this.wheel = core.wheelFor(ctx.executor());
        if (ctx.channel().isActive()) {
            register();
        }
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        unregister();
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        register();
        ctx.fireChannelActive();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        unregister();
        ctx.fireChannelInactive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        readStamp = wheel.stamp;
        ctx.fireChannelRead(msg);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        writeStamp = wheel.stamp;
        ledger += sizeOf(msg);
        ctx.write(msg, promise);
    }

    @Override
    public void flush(ChannelHandlerContext ctx) {
        ctx.flush();
        // The usual case: the socket took everything at once. With nothing pending, the ledger is exactly what
        // left since the last look, and it left by now; recording it now keeps write and all idle exact, where a
        // later sample could only date it to the sample. Nothing moved: nothing to record.
        ChannelOutboundBuffer buf = ctx.channel().unsafe().outboundBuffer();
        if (buf != null && buf.totalPendingWriteBytes() == 0) {
            if (ledger != 0) {
                ledger = 0;
                outTick = wheel.stamp;
            }
            state |= OUT_EMPTY;
        }
    }

    /** The size Netty's default estimator gives {@code msg}, plus its per-entry overhead. */
    private static int sizeOf(Object msg) {
        if (msg instanceof ByteBuf) {
            return ((ByteBuf) msg).readableBytes() + ENTRY_OVERHEAD;
        }
        if (msg instanceof ByteBufHolder) {
            return ((ByteBufHolder) msg).content().readableBytes() + ENTRY_OVERHEAD;
        }
        if (msg instanceof FileRegion) {
            return ENTRY_OVERHEAD;
        }
        return UNKNOWN_SIZE + ENTRY_OVERHEAD;
    }

    // ---------------------------------------------------------------- registration

    private void register() {
        if ((state & (REGISTERED | RETIRED)) != 0) {
            return;
        }
        state |= REGISTERED | OUT_EMPTY;
        // Registering may restart an idle wheel and move its stamp, so take the stamps after it.
        wheel.register(this, wheel.nextTickStart());
        int now = wheel.stamp;
        readStamp = now;
        writeStamp = now;
        outTick = now;
        ChannelOutboundBuffer buf = ctx.channel().unsafe().outboundBuffer();
        if (buf != null) {
            ledger = (int) buf.totalPendingWriteBytes() - (int) buf.currentProgress();
        }
        core.opened();
    }

    private void unregister() {
        if ((state & REGISTERED) == 0) {
            return;
        }
        state = (state & ~REGISTERED) | RETIRED;
        wheel.unregister(this);
        core.closed();
    }

    // ---------------------------------------------------------------- work in flight

    void busyChange(boolean busy) {
        if (busy) {
            busy();
        } else {
            idle();
        }
    }

    /** Marks one more unit of work in flight. Event loop only. */
    void busy() {
        if ((state >>> BUSY_SHIFT) == BUSY_MAX) {
            log.warn("{} markBusy() called {} times without markIdle(); ignoring", ctx.channel(), BUSY_MAX);
            return;
        }
        state += BUSY_ONE;
    }

    /** Marks one unit of work done; when none is left the idle timers start again from now. Event loop only. */
    void idle() {
        if ((state >>> BUSY_SHIFT) == 0) {
            log.warn("{} markIdle() called without a matching markBusy(); ignoring", ctx.channel());
            return;
        }
        state -= BUSY_ONE;
        if ((state >>> BUSY_SHIFT) == 0 && (state & REGISTERED) != 0) {
            int now = wheel.stamp;
            readStamp = now;
            writeStamp = now;
            long smallest = core.settings().smallestIdle;
            if (smallest > 0 && (state & REAPING) == 0) {
                // The entry may be parked far ahead while busy: bring it back to the first idle deadline.
                wheel.reschedule(this, wheel.nextTickStart() + smallest);
            }
        }
    }

    int busyCount() {
        return state >>> BUSY_SHIFT;
    }

    // ---------------------------------------------------------------- the lazy check

    @Override
    long expire(LoopWheel w, long now) {
        Channel ch = ctx.channel();
        if ((state & REGISTERED) == 0 || !ch.isActive()) {
            return LoopWheel.DETACH;
        }
        if ((state & REAPING) != 0) {
            // The goodbye did not flush within its bound.
            ch.close();
            return LoopWheel.DETACH;
        }
        Settings s = core.settings();
        long next = Long.MAX_VALUE;
        long stallAt = Long.MAX_VALUE;
        long writeUb = Long.MIN_VALUE;
        boolean waiting = false;
        if (s.watchesOutbound) {
            sampleOutbound(w);
            long outUb = w.upperBound(outTick);
            if ((state & OUT_EMPTY) == 0) {
                // Flushed bytes are waiting: the connection has something to say, so it is not write or all
                // idle. The kernel's send buffer makes progress visible here only in bursts, so whether the
                // peer still takes data is the write-stall timer's call alone.
                waiting = true;
                if (s.writeStall > 0) {
                    stallAt = outUb + s.writeStall;
                }
                next = now + s.outboundSample;
            } else {
                writeUb = Math.max(w.upperBound(writeStamp), outUb);
            }
        }
        long readAt = Long.MAX_VALUE;
        long writeAt = Long.MAX_VALUE;
        long allAt = Long.MAX_VALUE;
        if ((state >>> BUSY_SHIFT) == 0) {
            long readUb = s.readIdle > 0 || s.allIdle > 0 ? w.upperBound(readStamp) : 0;
            if (s.readIdle > 0) {
                readAt = readUb + s.readIdle;
            }
            if (s.writeIdle > 0 && !waiting) {
                writeAt = writeUb + s.writeIdle;
            }
            if (s.allIdle > 0 && !waiting) {
                allAt = Math.max(readUb, writeUb) + s.allIdle;
            }
        }
        // The first bound crossed wins; on a tie the more specific reason (stall, read, write, all).
        ReapReason reason = null;
        long at = Long.MAX_VALUE;
        long limit = 0;
        if (stallAt - now <= 0 && stallAt < at) {
            reason = ReapReason.WRITE_STALL;
            at = stallAt;
            limit = s.writeStall;
        }
        if (readAt - now <= 0 && readAt < at) {
            reason = ReapReason.READ_IDLE;
            at = readAt;
            limit = s.readIdle;
        }
        if (writeAt - now <= 0 && writeAt < at) {
            reason = ReapReason.WRITE_IDLE;
            at = writeAt;
            limit = s.writeIdle;
        }
        if (allAt - now <= 0 && allAt < at) {
            reason = ReapReason.ALL_IDLE;
            at = allAt;
            limit = s.allIdle;
        }
        if (reason != null) {
            return reap(reason, now - (at - limit), limit, now);
        }
        return Math.min(next, Math.min(Math.min(stallAt, readAt), Math.min(writeAt, allAt)));
    }

    /**
     * Looks at the outbound buffer once. {@code ledger - pending + progress} is the number of bytes (as Netty
     * counts them) that left the socket since the last sample: application writes raise the ledger and the
     * pending count alike and cancel out. Non-zero means flush progress.
     */
    private void sampleOutbound(LoopWheel w) {
        ChannelOutboundBuffer buf = ctx.channel().unsafe().outboundBuffer();
        if (buf == null) {
            state |= OUT_EMPTY;
            return;
        }
        int drained = ledger - (int) buf.totalPendingWriteBytes() + (int) buf.currentProgress();
        ledger -= drained;
        boolean empty = buf.isEmpty();
        if (drained != 0) {
            outTick = w.stamp;
            state = empty ? state | OUT_EMPTY : state & ~OUT_EMPTY;
        } else if (!empty && (state & OUT_EMPTY) != 0) {
            // Bytes started waiting since the last sample without any leaving: the wait began no later than
            // the last write.
            outTick = writeStamp;
            state &= ~OUT_EMPTY;
        } else if (empty) {
            state |= OUT_EMPTY;
        }
    }

    // ---------------------------------------------------------------- reaping

    private long reap(ReapReason reason, long idleNanos, long limitNanos, long now) {
        state |= REAPING;
        Channel ch = ctx.channel();
        ReapEvent event = new ReapEvent(reason, Duration.ofNanos(idleNanos), Duration.ofNanos(limitNanos));
        ctx.fireUserEventTriggered(event);
        core.reaped(ch, event);
        if (!ch.isActive()) {
            return LoopWheel.DETACH;
        }
        if (core.resetOnReap()) {
            ch.config().setOption(ChannelOption.SO_LINGER, 0);
        }
        ChannelOutboundBuffer buf = ch.unsafe().outboundBuffer();
        long goodbye = core.goodbyeNanos();
        if (reason == ReapReason.WRITE_STALL || goodbye == 0 || buf == null
                || buf.totalPendingWriteBytes() == 0) {
            // A stalled peer will not read a goodbye; with nothing pending there is nothing to flush.
            ch.close();
            return LoopWheel.DETACH;
        }
        // Flush what the application wrote in answer to the ReapEvent, then close; the wheel closes the channel
        // at the next visit if the flush does not finish within the goodbye timeout.
        ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        // The flush may have completed, and the channel closed and left the wheel, right here.
        return (state & REGISTERED) != 0 ? now + goodbye : LoopWheel.DETACH;
    }
}
