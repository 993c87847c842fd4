package io.github.idlereaper;

/** The idle timeouts and the heartbeat in the form the handlers read at each visit: nanos, with derived values precomputed. */
final class Settings {

    final IdleTimeouts timeouts;
    final long readIdle;
    final long writeIdle;
    final long allIdle;
    final long writeStall;
    /** Whether any timer needs to look at the outbound buffer. */
    final boolean watchesOutbound;
    /** How often a channel with flushed bytes waiting is sampled for progress: every wheel tick. */
    final long outboundSample;
    /** The smallest enabled idle timeout (read, write or all), or 0. */
    final long smallestIdle;

    /** The heartbeat; {@link Heartbeat#DISABLED} for none. */
    final Heartbeat heartbeat;
    /** The protocol, or null. */
    final HeartbeatProtocol protocol;
    /** Quiet time before a ping, or 0 when pings are off. */
    final long pingInterval;
    /** Time a ping has to be answered. */
    final long pingTimeout;
    /** Consecutive misses that reap. */
    final int maxMissed;
    /** The shortest permitted interval between the peer's pings, or 0 when not enforced. */
    final long peerPingMin;
    /** For a channel's override: the reaper's settings it was derived from; null for the reaper's own. */
    final Settings base;

    Settings(IdleTimeouts t, long tickNanos) {
        this(t, Heartbeat.DISABLED, 0, tickNanos, null);
    }

    Settings(IdleTimeouts t, Heartbeat hb, long peerPingMinNanos, long tickNanos, Settings base) {
        this.base = base;
        this.heartbeat = hb;
        this.protocol = hb.protocol();
        this.pingInterval = hb.interval().toNanos();
        this.pingTimeout = hb.timeout().toNanos();
        this.maxMissed = hb.maxMissed();
        this.peerPingMin = peerPingMinNanos;
        this.timeouts = t;
        this.readIdle = t.readIdle().toNanos();
        this.writeIdle = t.writeIdle().toNanos();
        this.allIdle = t.allIdle().toNanos();
        this.writeStall = t.writeStall().toNanos();
        this.watchesOutbound = writeIdle > 0 || allIdle > 0 || writeStall > 0;
        // Progress on the socket is only seen when sampled and is dated at the sample, so a channel whose flushed
        // bytes wait is sampled every wheel tick: the timers that depend on its progress are then late by at most
        // one tick resolution, as every timer. Only waiting channels pay for it.
        this.outboundSample = tickNanos;
        this.smallestIdle = min(min(readIdle, writeIdle), allIdle);
    }

    /** The smaller of two timeouts where 0 means disabled. */
    private static long min(long a, long b) {
        if (a == 0) {
            return b;
        }
        return b == 0 ? a : Math.min(a, b);
    }
}
