package io.github.idlereaper;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The heartbeat's state machine, for {@link ReaperHandler}: ACTIVE until the peer has been silent (no inbound byte:
 * liveness, not activity) for the interval, then PROBING with a ping; any inbound byte after the ping returns to
 * ACTIVE; a ping not answered within the timeout is a miss, below maxMissed another ping goes out, at maxMissed the
 * handler reaps. Stateless: the phase and the last ping's mark live in the handler's {@code state} and
 * {@code pingTick}, so the heartbeat costs no memory per connection.
 */
final class HeartbeatLogic {

    private static final Logger log = LoggerFactory.getLogger(IdleReaper.class);

    /** Returned by {@link #visit} when the last allowed ping was missed. */
    static final long REAPED = Long.MIN_VALUE + 1;
    /** Eighths of a tick: the resolution of a marked moment. */
    private static final int MARK_PARTS = 8;
    /** The mark's value when the moment was later than its stamp's tick (a stalled loop). */
    static final int MARK_LATE = 15;
    /** Pings in a row the protocol was not ready to send before the reaper says so (once per reaper). */
    static final int NOT_READY_WARN = 3;

    private HeartbeatLogic() {
    }

    /**
     * The liveness stamp a channel starts with: now, or, with pings on, backdated by a random part of the interval,
     * so that connections opened together do not ping together (netty#973). Only a peer that sends nothing at all
     * is pinged before a whole interval of silence; the first inbound byte replaces the backdated stamp.
     */
    static int firstLiveStamp(ReaperCore core, LoopWheel w, Settings s, int now) {
        if (s.pingInterval <= 0) {
            return now;
        }
        long ticks = Math.max(1, s.pingInterval / w.tickNanos());
        return w.stampBefore(Math.floorMod(core.jitterTicks(ticks), ticks));
    }

    /** Whether an inbound byte was stamped at or after the ping stamped {@code h.pingTick}. */
    private static boolean liveSincePing(ReaperHandler h, LoopWheel w) {
        return ((h.liveStamp - h.pingTick) & Integer.MAX_VALUE) <= ((w.stamp - h.pingTick) & Integer.MAX_VALUE);
    }

    /**
     * Runs the state machine at a visit.
     *
     * @return when to look again, {@link #REAPED}, or {@link LoopWheel#DETACH} when the ping's write closed the
     *     channel
     */
    static long visit(ReaperHandler h, LoopWheel w, Settings s, long now) {
        int pings = (h.state & ReaperHandler.PINGS_MASK) >>> ReaperHandler.PINGS_SHIFT;
        if (pings != 0) {
            if (liveSincePing(h, w)) {
                // Any inbound byte after the ping proves the peer alive, not only the pong.
                stopProbing(h);
                h.pingTick = -1;
            } else {
                long missAt = markedBy(h, w) + s.pingTimeout;
                if (missAt - now > 0) {
                    return missAt;
                }
                if (pings >= s.maxMissed) {
                    return REAPED;
                }
                return ping(h, w, s, now, pings + 1);
            }
        }
        long probeAt = w.upperBound(h.liveStamp) + s.pingInterval;
        if (probeAt - now > 0) {
            return probeAt;
        }
        return ping(h, w, s, now, 1);
    }

    /**
     * Writes the protocol's ping from the tail of the pipeline, so the host's encoders apply. The ping proves
     * nothing about the connection's use, so it does not count as outbound activity.
     */
    private static long ping(ReaperHandler h, LoopWheel w, Settings s, long now, int n) {
        Channel ch = h.ctx.channel();
        Object msg;
        try {
            msg = s.protocol.ping(ch);
        } catch (Throwable t) {
            log.warn("{} HeartbeatProtocol {} threw from ping(); trying again after the interval", ch, s.protocol, t);
            msg = null;
        }
        if (msg == null) {
            notReady(h, s);
            return now + s.pingInterval;
        }
        int writeStamp = h.writeStamp;
        int outTick = h.outTick;
        // Nothing else in flight: whatever drains with the ping is the ping's alone.
        boolean alone = (h.state & ReaperHandler.OUT_EMPTY) != 0 && h.ledger == 0;
        ChannelFuture f = ch.writeAndFlush(msg);
        if (!f.isSuccess()) {
            f.addListener(h.core().pingFailed(s.protocol));
        }
        if ((h.state & ReaperHandler.IN_WHEEL) == 0) {
            return LoopWheel.DETACH; // the write closed the channel, and it left the wheel
        }
        h.writeStamp = writeStamp;
        if (alone && (h.state & ReaperHandler.OUT_EMPTY) != 0) {
            h.outTick = outTick; // the ping left at once, alone: its progress is not the connection's
        }
        // Each miss is timed from within an eighth of a tick of the real send (marked after the write: the ping
        // had left by then), not from the stamp's bound, so that misses do not add a tick each to the bound.
        if ((h.state & ReaperHandler.PINGS_MASK) == 0) {
            h.core().probingDelta(1);
        }
        h.state = (h.state & ~ReaperHandler.PINGS_MASK) | (n << ReaperHandler.PINGS_SHIFT);
        mark(h, w);
        return now + s.pingTimeout;
    }

    /** The protocol gave no ping (not ready yet): stay ACTIVE, count it, and say so once per reaper. */
    private static void notReady(ReaperHandler h, Settings s) {
        // While PROBING the mark bits hold the last ping's mark, not a count: a count starts from zero there.
        int count = (h.state & ReaperHandler.PINGS_MASK) != 0 ? 0
                : (h.state & ReaperHandler.MARK_MASK) >>> ReaperHandler.MARK_SHIFT;
        if (count < MARK_LATE) {
            count++;
        }
        if ((h.state & ReaperHandler.PINGS_MASK) != 0) {
            h.core().probingDelta(-1);
        }
        h.state = (h.state & ~(ReaperHandler.PINGS_MASK | ReaperHandler.MARK_MASK))
                | (count << ReaperHandler.MARK_SHIFT);
        h.pingTick = -1;
        if (count == NOT_READY_WARN) {
            h.core().warnNotReady(h.ctx.channel(), s);
        }
    }

    /**
     * Marks this moment in {@code pingTick} and the mark bits: the wheel's stamp and, with one clock read, how far
     * into that stamp's tick it is, in eighths of a tick rounded up. For the rare events (a ping, a reap) whose
     * timeout must run from their real time.
     */
    static void mark(ReaperHandler h, LoopWheel w) {
        int stamp = w.stamp;
        long into = w.nanosIntoTick(stamp, w.ticker().read());
        long part = w.tickNanos() / MARK_PARTS;
        long parts = into <= 0 ? 0 : (into + part - 1) / part;
        int mark = parts > MARK_PARTS ? MARK_LATE : (int) parts;
        h.state = (h.state & ~ReaperHandler.MARK_MASK) | (mark << ReaperHandler.MARK_SHIFT);
        h.pingTick = stamp;
    }

    /** A time by which the {@link #mark marked} moment had come: never before it, within an eighth of a tick. */
    static long markedBy(ReaperHandler h, LoopWheel w) {
        int mark = (h.state & ReaperHandler.MARK_MASK) >>> ReaperHandler.MARK_SHIFT;
        if (mark == MARK_LATE) {
            return w.upperBound(h.pingTick);
        }
        return w.tickStartAfter(h.pingTick, 0) + mark * (w.tickNanos() / MARK_PARTS);
    }

    /** Back to ACTIVE: the phase and the mark cleared, and the reaper's count of probing channels told. */
    static void stopProbing(ReaperHandler h) {
        if ((h.state & ReaperHandler.PINGS_MASK) != 0) {
            h.core().probingDelta(-1);
        }
        h.state &= ~(ReaperHandler.PINGS_MASK | ReaperHandler.MARK_MASK);
    }

    /** Pings sent since the last inbound byte: 0 while ACTIVE. For tests. */
    static int pingsOutstanding(ReaperHandler h) {
        return (h.state & ReaperHandler.PINGS_MASK) >>> ReaperHandler.PINGS_SHIFT;
    }

    /** Logs a failed ping write, once per reaper at WARN and at DEBUG after that. */
    static ChannelFutureListener failureLogger(ReaperCore core, HeartbeatProtocol protocol) {
        return f -> {
            if (!f.isSuccess() && f.cause() != null) {
                core.logPingFailure(f.channel(), protocol, f.cause());
            }
        };
    }
}
