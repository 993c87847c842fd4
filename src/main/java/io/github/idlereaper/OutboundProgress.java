package io.github.idlereaper;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufHolder;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.DefaultMessageSizeEstimator;
import io.netty.channel.FileRegion;
import io.netty.util.internal.SystemPropertyUtil;

/**
 * Outbound progress without write listeners, for {@link ReaperHandler}: the handler's {@code ledger} counts what
 * was written as Netty's {@link ChannelOutboundBuffer} counts it, so that at a sample
 * {@code ledger - pending + progress} is exactly what left the socket since the last one (application writes
 * raise the ledger and the pending count alike and cancel out). Stateless: every per-connection value lives in the
 * handler's fields, so these helpers cost no memory per connection.
 */
final class OutboundProgress {

    /** Netty adds this to every outbound message's size in its pending-bytes count; so must the ledger. */
    private static final int ENTRY_OVERHEAD =
            SystemPropertyUtil.getInt("io.netty.transport.outboundBufferEntrySizeOverhead", 96);
    /** Netty's default size estimate for a message it does not know. */
    private static final int UNKNOWN_SIZE = 8;

    private OutboundProgress() {
    }

    /** The size Netty's default estimator gives {@code msg}, plus its per-entry overhead. No allocation. */
    static int sizeOf(Object msg) {
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

    /**
     * The size the channel's own (custom) message size estimator gives {@code msg}, plus the per-entry overhead,
     * as the outbound buffer will count it; used only when the estimator is not Netty's default. It asks the
     * estimator for its handle on every write: an estimator should cache its handle, as Netty's default does.
     */
    static int estimate(ChannelHandlerContext ctx, Object msg) {
        int size = ctx.channel().config().getMessageSizeEstimator().newHandle().size(msg);
        return Math.max(0, size) + ENTRY_OVERHEAD;
    }

    /**
     * Looks at the outbound buffer once. Non-zero {@code ledger - pending + progress} means bytes left the socket
     * since the last sample: progress, at this stamp. Bytes that start waiting without any leaving are dated from
     * this stamp too: at a flush (where a wait starts, see {@link #startsWaiting}) that is exact, and at a visit
     * (a flush the handler did not see) it is late, never early.
     */
    static void sample(ReaperHandler h, LoopWheel w) {
        ChannelOutboundBuffer buf = h.ctx.channel().unsafe().outboundBuffer();
        if (buf == null) {
            h.state |= ReaperHandler.OUT_EMPTY;
            return;
        }
        int drained = h.ledger - (int) buf.totalPendingWriteBytes() + (int) buf.currentProgress();
        h.ledger -= drained;
        boolean empty = buf.isEmpty();
        if (drained != 0) {
            if (datesDrain(h.state, empty)) {
                h.outTick = w.stamp;
            }
            h.state = empty ? h.state | ReaperHandler.OUT_EMPTY : h.state & ~ReaperHandler.OUT_EMPTY;
        } else if (!empty && (h.state & ReaperHandler.OUT_EMPTY) != 0) {
            // Bytes started to wait, none left: date the wait from now. Not from the last write: that write may
            // have been flushed only now, and with a watch the write stamp is the application's last message,
            // not these bytes (a codec's own pong, say); either would start the stall early.
            h.outTick = w.stamp;
            h.state &= ~ReaperHandler.OUT_EMPTY;
        } else if (empty) {
            h.state |= ReaperHandler.OUT_EMPTY;
        }
        if (!empty) {
            h.core().checkFirst(h.ctx.channel(), h);
            if (h.ctx.channel().config().getMessageSizeEstimator() != DefaultMessageSizeEstimator.DEFAULT) {
                h.state |= ReaperHandler.CUSTOM_SIZES; // set after registration: sizes from it from now on
            }
        }
    }

    /**
     * Asks the socket ({@link SocketProgress}) whether it sent new data to the peer since the last progress this
     * handler dated; if so, dates the progress from the socket's answer (rounded later, never earlier) and says
     * true. For a stall deadline that has come, while flushed bytes wait: one system call, no allocation.
     */
    static boolean sentSince(ReaperHandler h, LoopWheel w) {
        long ago = w.socketProgress.sentAgoNanos(h.ctx.channel());
        if (ago == SocketProgress.UNKNOWN) {
            return false;
        }
        // The clock now, not the visit's: the visit's time may be a slice old, which would date the send early.
        int sent = w.stampAt(w.ticker().read() - ago);
        if (!LoopWheel.later(sent, h.outTick)) {
            return false;
        }
        h.outTick = sent;
        return true;
    }

    /**
     * Whether a drain seen in {@code state}, leaving the buffer {@code emptyNow}, is progress to date: always, but
     * with a watch for bytes that left at once (nothing waited before or after), which are the application's writes
     * (the watch stamped them) or frames a codec wrote on its own (not activity).
     */
    private static boolean datesDrain(int state, boolean emptyNow) {
        return !emptyNow || (state & (ReaperHandler.OUT_EMPTY | ReaperHandler.SPLIT))
                != (ReaperHandler.OUT_EMPTY | ReaperHandler.SPLIT);
    }

    /**
     * After a flush: samples the buffer when something was written since the last look (a field or two when the
     * socket took everything, the usual case), and tells whether flushed bytes started to wait just now, so that
     * the stall's deadline can bring the visit earlier.
     */
    static boolean startsWaiting(ReaperHandler h) {
        int before = h.state;
        if (h.ledger == 0 && (before & ReaperHandler.OUT_EMPTY) != 0) {
            return false; // nothing written since the buffer was last seen empty
        }
        ChannelOutboundBuffer buf = h.ctx.channel().unsafe().outboundBuffer();
        if (buf != null && buf.totalPendingWriteBytes() == 0) {
            // The usual case: the socket took everything at once. What the full sample would conclude, in two
            // field reads: the ledger drained now (dated as there, see sample), and nothing waits.
            if (h.ledger != 0 && datesDrain(before, true)) {
                h.outTick = h.wheel.stamp;
            }
            h.ledger = 0;
            h.state = before | ReaperHandler.OUT_EMPTY;
            return false;
        }
        sample(h, h.wheel);
        return (before & ReaperHandler.OUT_EMPTY) != 0 && (h.state & ReaperHandler.OUT_EMPTY) == 0;
    }
}
