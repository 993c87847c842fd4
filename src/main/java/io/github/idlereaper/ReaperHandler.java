package io.github.idlereaper;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufHolder;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.ChannelPipelineException;
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
 * <p>The fields are kept few on purpose (the whole object is 64 bytes with compressed oops), because one lives
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
    /** The kernel gave up on the peer (ETIMEDOUT) and the reaper counted it as {@link ReapReason#DEAD_PEER}. */
    private static final int DEAD_PEER = 1 << 4;
    /**
     * Heartbeat phase, bits 5..7: 0 while ACTIVE; n (1 to {@link Heartbeat#MAX_MISSED}) while PROBING, with n pings
     * sent since the last inbound byte.
     */
    private static final int PINGS_SHIFT = 5;
    private static final int PINGS_MASK = 7 << PINGS_SHIFT;
    private static final int PING_ONE = 1 << PINGS_SHIFT;
    /**
     * Bits 8..9, with {@code pingTick}: when the last ping left (while PROBING) or when the reap's goodbye was
     * written (while REAPING), as that many ticks into the tick {@code pingTick} (0 when exactly at its start), so
     * a miss or the goodbye's forced close comes at that tick start plus its timeout, not one tick later.
     * {@link #MARK_LAG_LATE} when the moment was later than that (a stalled loop), and the stamp's upper bound
     * applies.
     */
    private static final int MARK_LAG_SHIFT = 8;
    private static final int MARK_LAG_LATE = 3;
    private static final int MARK_LAG_MASK = MARK_LAG_LATE << MARK_LAG_SHIFT;
    private static final int BUSY_SHIFT = 10;
    private static final int BUSY_ONE = 1 << BUSY_SHIFT;
    private static final int BUSY_MAX = Integer.MAX_VALUE >>> BUSY_SHIFT;

    /**
     * The shared {@link ReaperCore}, or a {@link ChannelOverride} (which refers to it) once this channel's settings
     * were overridden; read through {@link #core()} and {@link #settings()}.
     */
    private Object core;
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
    /** Flag bits, the heartbeat phase (bits 5..7), the marked moment's lag (8..9), from bit 10 the busy count. */
    private int state;
    /**
     * While PROBING, the stamp of the last ping. While ACTIVE, the stamp of a virtual earlier ping that brings the
     * connection's first ping forward by a random part of the interval (so that connections opened together do
     * not ping together, netty#973), or -1 once that is spent. While REAPING, the stamp of the goodbye's write,
     * from which the goodbye's timeout runs. Stamps are never negative.
     */
    private int pingTick = -1;

    ReaperHandler(ReaperCore core) {
        this.core = core;
    }

    private ReaperCore core() {
        Object c = core;
        return c instanceof ChannelOverride ? ((ChannelOverride) c).core : (ReaperCore) c;
    }

    /** This channel's settings: the reaper's, or its override. */
    Settings settings() {
        Object c = core;
        return c instanceof ChannelOverride ? ((ChannelOverride) c).settings : ((ReaperCore) c).settings();
    }

    // ---------------------------------------------------------------- pipeline events

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        if (this.ctx != null) {
            // Netty removes the handler from this second pipeline again, and tells that pipeline why.
            throw new ChannelPipelineException("an IdleReaper handler belongs to one channel; it is already in "
                    + this.ctx.channel() + ": use reaper.newHandler() for each channel");
        }
        this.ctx = ctx;
        this.wheel = core().wheelFor(ctx.executor());
        // TCP keepalive and TCP_USER_TIMEOUT, once per channel and as soon as it is registered: a client gets them
        // before it connects. A no-op unless the reaper sets them.
        core().kernel().apply(ctx.channel());
        if (ctx.channel().isActive()) {
            register();
        }
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        if (ctx == this.ctx) { // not a second pipeline that refused this handler
            unregister();
        }
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

    /**
     * Classifies the kernel giving up on the peer (ETIMEDOUT after unanswered keepalive probes or unacknowledged
     * data) as {@link ReapReason#DEAD_PEER}, once: fires the event, counts it, tells the listener, passes the
     * exception on and closes the channel. Every other exception only passes through.
     */
    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        boolean dead = (state & (REGISTERED | REAPING | DEAD_PEER)) == REGISTERED && KernelLayer.isDeadPeer(cause);
        if (dead) {
            state |= DEAD_PEER;
            long quiet = Math.max(0, core().ticker().read() - wheel.upperBound(readStamp));
            ReapEvent event = new ReapEvent(ReapReason.DEAD_PEER, quiet, core().kernel().deadPeerLimit().toNanos());
            ctx.fireUserEventTriggered(event);
            core().reaped(ctx.channel(), event);
        }
        ctx.fireExceptionCaught(cause);
        if (dead) {
            ctx.channel().close();
        }
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
        pingTick = firstPingJitter(now, settings());
        ChannelOutboundBuffer buf = ctx.channel().unsafe().outboundBuffer();
        if (buf != null) {
            ledger = (int) buf.totalPendingWriteBytes() - (int) buf.currentProgress();
        }
        core().opened();
    }

    private void unregister() {
        if ((state & REGISTERED) == 0) {
            return;
        }
        state = (state & ~REGISTERED) | RETIRED;
        wheel.unregister(this);
        core().closed();
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
            long smallest = settings().smallestIdle;
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
        // No isActive() here: it chases the channel's socket on every visit, and REGISTERED already goes with
        // channelInactive. reap() checks a channel closed but not yet inactive; a ping to one fails, and Netty
        // releases it.
        if ((state & REGISTERED) == 0) {
            return LoopWheel.DETACH;
        }
        if ((state & REAPING) != 0) {
            // A visit is not proof that the goodbye's time is up (the wheel may visit a little early, and an
            // override asks for a visit at the next tick): check it.
            long closeAt = markedBy(w) + core().goodbyeNanos();
            if (closeAt - now > 0) {
                return closeAt;
            }
            // The goodbye did not flush within its bound. Close from here, first in the pipeline, so that no
            // handler above (an HTTP/2 graceful shutdown, a TLS close_notify) can defer it again.
            w.countClose();
            ctx.close();
            return LoopWheel.DETACH;
        }
        Settings s = settings();
        long next = Long.MAX_VALUE;
        long stallAt = Long.MAX_VALUE;
        long writeUb = Long.MIN_VALUE;
        boolean waiting = false;
        if (s.watchesOutbound) {
            if (ledger != 0 || (state & OUT_EMPTY) == 0) {
                // Otherwise nothing was written since the buffer was last seen empty: it still is, and the
                // channel's buffer (three objects away) need not be touched.
                sampleOutbound(w);
            }
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
            return reap(reason, now - (at - limit), limit, now, 0, 0);
        }
        if (s.pingInterval > 0) {
            long hbAt = heartbeat(w, s, now);
            if (hbAt == HEARTBEAT_REAPED) {
                return reap(ReapReason.HEARTBEAT_TIMEOUT, now - markedBy(w), s.pingTimeout, now,
                        s.maxMissed, s.maxMissed);
            }
            next = Math.min(next, hbAt);
        }
        return Math.min(next, Math.min(Math.min(stallAt, readAt), Math.min(writeAt, allAt)));
    }

    // ---------------------------------------------------------------- the heartbeat

    /** Returned by {@link #heartbeat} when the last allowed ping was missed. */
    private static final long HEARTBEAT_REAPED = Long.MIN_VALUE;

    /**
     * The virtual ping stamp that makes the first real ping fall uniformly over the interval after {@code now}: a
     * ping as if sent up to one interval ago. Decided once, here; -1 when pings are off.
     */
    private int firstPingJitter(int now, Settings s) {
        if (s.pingInterval <= 0) {
            return -1;
        }
        long tick = wheel.tickNanos();
        long ticks = Math.max(1, s.pingInterval / tick);
        long back = 1 + java.util.concurrent.ThreadLocalRandom.current().nextLong(ticks);
        return (int) (now - back) & Integer.MAX_VALUE;
    }

    /** Whether an inbound message was stamped at or after the ping stamped {@code pingTick}. */
    private boolean readSincePing(LoopWheel w) {
        return ((readStamp - pingTick) & Integer.MAX_VALUE) <= ((w.stamp - pingTick) & Integer.MAX_VALUE);
    }

    /**
     * Runs the heartbeat's state machine at a visit: proof of life ends PROBING; a ping not answered within the
     * timeout is a miss, below maxMissed another ping goes out; a connection quiet for the interval is pinged.
     *
     * @return when to look again, or {@link #HEARTBEAT_REAPED}
     */
    private long heartbeat(LoopWheel w, Settings s, long now) {
        int pings = (state & PINGS_MASK) >>> PINGS_SHIFT;
        if (pings != 0) {
            if (readSincePing(w)) {
                // Any inbound byte after the ping proves the peer alive, not only the pong.
                state &= ~PINGS_MASK;
                pingTick = -1;
            } else {
                long missAt = markedBy(w) + s.pingTimeout;
                if (missAt - now > 0) {
                    return missAt;
                }
                if (pings >= s.maxMissed) {
                    return HEARTBEAT_REAPED;
                }
                return ping(w, s, now, pings + 1);
            }
        }
        long probeAt = w.upperBound(readStamp) + s.pingInterval;
        if (pingTick >= 0) {
            probeAt = Math.min(probeAt, w.upperBound(pingTick) + s.pingInterval);
        }
        if (probeAt - now > 0) {
            return probeAt;
        }
        return ping(w, s, now, 1);
    }

    /** Writes the protocol's ping from the tail of the pipeline, so the host's encoders apply. */
    private long ping(LoopWheel w, Settings s, long now, int n) {
        Object msg;
        try {
            msg = s.protocol.ping(ctx.channel());
        } catch (Throwable t) {
            log.warn("{} HeartbeatProtocol {} threw from ping(); trying again after the interval", ctx.channel(),
                    s.protocol, t);
            msg = null;
        }
        if (msg == null) {
            // Not ready (a WebSocket before its handshake): stay ACTIVE and ask again after the interval.
            state &= ~PINGS_MASK;
            pingTick = -1;
            return now + s.pingInterval;
        }
        ctx.channel().writeAndFlush(msg);
        // Each miss is timed from within a tick of the real send (marked after the write: the ping had left by
        // then), not from the stamp's bound, so that misses do not add a tick each to the heartbeat's bound.
        state = (state & ~PINGS_MASK) | (n << PINGS_SHIFT);
        mark(w);
        return now + s.pingTimeout;
    }

    /**
     * Marks this moment in {@code pingTick} and the lag bits: the wheel's stamp and, with one clock read, how many
     * ticks into that stamp's tick it is. For the rare events (a ping, a reap) whose timeout must run from their
     * real time.
     */
    private void mark(LoopWheel w) {
        int stamp = w.stamp;
        long lag = w.ticksIntoTick(stamp, w.ticker().read());
        state = (state & ~MARK_LAG_MASK) | ((int) Math.min(lag, MARK_LAG_LATE) << MARK_LAG_SHIFT);
        pingTick = stamp;
    }

    /** A time by which the {@link #mark marked} moment had come: never before it, within a tick of it. */
    private long markedBy(LoopWheel w) {
        int lag = (state & MARK_LAG_MASK) >>> MARK_LAG_SHIFT;
        return lag == MARK_LAG_LATE ? w.upperBound(pingTick) : w.tickStartAfter(pingTick, lag);
    }

    /** Pings sent since the last inbound byte: 0 while ACTIVE. For tests. */
    int pingsOutstanding() {
        return (state & PINGS_MASK) >>> PINGS_SHIFT;
    }

    // ---------------------------------------------------------------- overrides and peer pings

    /** The reaper's tick resolution (twice the wheel's tick). */
    Duration tickResolution() {
        return Duration.ofNanos(core().tickNanos() * 2);
    }

    /**
     * Replaces this channel's timeouts and/or heartbeat (null keeps the current one) and looks at the channel
     * again at the next tick. A new heartbeat starts ACTIVE. Event loop only.
     */
    void override(IdleTimeouts timeouts, Heartbeat heartbeat) {
        ReaperCore c = core();
        Settings cur = settings();
        Settings next = c.settingsFor(timeouts != null ? timeouts : cur.timeouts,
                heartbeat != null ? heartbeat : cur.heartbeat);
        core = new ChannelOverride(c, next);
        if (heartbeat != null && (state & REAPING) == 0) {
            state &= ~PINGS_MASK;
            pingTick = -1;
        }
        if ((state & (REGISTERED | REAPING)) == REGISTERED) {
            wheel.reschedule(this, wheel.nextTickStart());
        }
    }

    /** Reaps now, outside a wheel visit (ping abuse). Event loop only; ignored unless watched and not reaping. */
    void reapNow(ReapReason reason, long idleNanos, long limitNanos, int count, int of) {
        if ((state & (REGISTERED | REAPING)) != REGISTERED || !ctx.channel().isActive()) {
            return;
        }
        long next = reap(reason, idleNanos, limitNanos, core().ticker().read(), count, of);
        if (next != LoopWheel.DETACH && (state & REGISTERED) != 0) {
            wheel.reschedule(this, next);
        }
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

    private long reap(ReapReason reason, long idleNanos, long limitNanos, long now, int count, int of) {
        Channel ch = ctx.channel();
        if (!ch.isActive()) {
            return LoopWheel.DETACH; // already closing; channelInactive follows
        }
        state |= REAPING;
        wheel.countClose();
        ReapEvent event = new ReapEvent(reason, idleNanos, limitNanos, count, of);
        ctx.fireUserEventTriggered(event);
        core().reaped(ch, event);
        if (!ch.isActive()) {
            return LoopWheel.DETACH;
        }
        if (core().resetOnReap()) {
            ch.config().setOption(ChannelOption.SO_LINGER, 0);
        }
        ChannelOutboundBuffer buf = ch.unsafe().outboundBuffer();
        long goodbye = core().goodbyeNanos();
        Object bye = goodbye > 0 && reason != ReapReason.WRITE_STALL ? protocolGoodbye(ch, reason) : null;
        if (bye != null) {
            // The protocol's goodbye (WebSocket Close 1001, HTTP/2 GOAWAY, ...) from the tail, so the host's
            // encoders apply; it flushes whatever the application wrote in answer to the event too.
            ch.writeAndFlush(bye).addListener(ChannelFutureListener.CLOSE);
            return awaitGoodbye(now, goodbye);
        }
        if (reason == ReapReason.WRITE_STALL || goodbye == 0 || buf == null
                || buf.totalPendingWriteBytes() == 0) {
            // A stalled peer will not read a goodbye; with nothing pending there is nothing to flush. (Netty
            // refuses a void promise for close(), so each close makes one promise.)
            ch.close();
            return LoopWheel.DETACH;
        }
        // Flush what the application wrote in answer to the ReapEvent, then close; the wheel closes the channel
        // at the next visit if the flush does not finish within the goodbye timeout.
        ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        return awaitGoodbye(now, goodbye);
    }

    /**
     * After a goodbye's write: the flush may have completed, and the channel closed and left the wheel, right
     * there. Otherwise the goodbye's timeout runs from this moment (marked: the heartbeat is over, so its mark is
     * free), and the wheel closes the channel once it is up. Only these reaps read the clock; one that closes at
     * once does not.
     */
    private long awaitGoodbye(long now, long goodbye) {
        if ((state & REGISTERED) == 0) {
            return LoopWheel.DETACH;
        }
        mark(wheel);
        return now + goodbye;
    }

    /** The protocol's goodbye for {@code reason}, or null; a protocol that throws only logs. */
    private Object protocolGoodbye(Channel ch, ReapReason reason) {
        HeartbeatProtocol p = settings().protocol;
        if (p == null) {
            return null;
        }
        try {
            return p.goodbye(ch, reason);
        } catch (Throwable t) {
            log.warn("{} HeartbeatProtocol {} threw from goodbye({}); closing without one", ch, p, reason, t);
            return null;
        }
    }
}
