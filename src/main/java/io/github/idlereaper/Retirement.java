package io.github.idlereaper;

/**
 * A connection's retirement: the end of its life at its age limit ({@link ReapReason#MAX_AGE}) or in a drain of
 * the whole reaper ({@link ReapReason#DRAIN}), as opposed to idleness. Run at the handler's visits.
 *
 * <p>At the moment it is due the connection is told, in its protocol's words, that it should go, and its work in
 * flight may finish within the grace; then it is reaped, with the protocol's goodbye:
 * <ul>
 *   <li>HTTP/1.1: the response in flight, or the next, carries {@code Connection: close}, and the connection closes
 *       once it is flushed; with nothing in flight it closes at once (after one more pass of I/O, for the close
 *       race).</li>
 *   <li>HTTP/2: GOAWAY with last stream id 2³¹−1 and a PING; a round trip later, a second GOAWAY with the last stream
 *       the peer opened; the connection closes when its streams are done or the grace runs out.</li>
 *   <li>Any other protocol: the goodbye (WebSocket Close 1001, MQTT 5 DISCONNECT, a line) once no work is in
 *       flight, or when the grace runs out.</li>
 * </ul>
 * Busy connections are not exempt: the grace bounds them. Stateless: what it needs is the channel's
 * {@link ChannelLife}, the reaper's {@link ReaperDrain} and the protocol's own state.
 */
final class Retirement {

    /** Returned by {@link #visit}: reap now for {@link ReapReason#MAX_AGE}. */
    static final long REAP_AGE = Long.MIN_VALUE + 3;
    /** Returned by {@link #visit}: reap now for {@link ReapReason#DRAIN}. */
    static final long REAP_DRAIN = Long.MIN_VALUE + 4;
    /**
     * How long HTTP/2's first GOAWAY (last stream id 2³¹−1) and its PING precede the second GOAWAY: long enough for
     * streams the peer opened before it saw the first to arrive (gRPC's server waits for the PING's ack; this waits
     * a bound that covers the round trips of a data centre and most of the internet's).
     */
    static final long H2_SECOND_GOAWAY_NANOS = 1_000_000_000L;

    private Retirement() {
    }

    /** Whether the reaper can retire connections at all: an age limit, or a drain under way. */
    static boolean on(ReaperCore c) {
        return c.lifecycle().maxAgeNanos > 0 || c.drain() != null;
    }

    /**
     * At a visit, with the handler's core, age and HTTP companion as the visit resolved them (the last two may be
     * null): when to look again ({@code Long.MAX_VALUE} for never), or {@link #REAP_AGE} or {@link #REAP_DRAIN}
     * when the connection is to be reaped now.
     */
    static long visit(ReaperHandler h, LoopWheel w, long now, ReaperCore c, ChannelLife life, HttpCompanion http) {
        ReaperDrain drain = c.drain();
        long ageAt = life == null ? Long.MAX_VALUE : life.ageAt(w);
        long drainAt = drain == null ? Long.MAX_VALUE : drain.goodbyeAt(h);
        long due = Math.min(ageAt, drainAt);
        if (due == Long.MAX_VALUE) {
            return Long.MAX_VALUE;
        }
        if (due - now > 0) {
            return due;
        }
        boolean draining = drainAt <= ageAt;
        long reap = draining ? REAP_DRAIN : REAP_AGE;
        if (c.lifecycle().dryRun) {
            return reap; // reported, and nothing said
        }
        long graceEnd = due + (draining ? drain.graceNanos : c.lifecycle().ageGraceNanos);
        if (now - graceEnd >= 0) {
            return reap;
        }
        long next = graceEnd;
        if (http != null) {
            next = Math.min(next, http.retire(due, now));
        }
        return h.busyCount() > 0 ? next : reap;
    }

    /**
     * Whether {@code h} may be retiring now (a drain under way, or its age reached by its stamp), without a clock
     * read: a cheap test for {@link ReaperHandler#idle()}, which then asks for a visit at the next tick.
     */
    static boolean due(ReaperHandler h) {
        ReaperCore c = h.core();
        if (c.drain() != null) {
            return true;
        }
        ChannelLife life = h.life();
        return life != null && !LoopWheel.later((life.born + life.ageTicks) & Integer.MAX_VALUE, h.wheel.stamp);
    }

    /** Reaps {@code h} now, for its age or the drain (an HTTP/1.1 response that said {@code Connection: close}). */
    static void reapNow(ReaperHandler h) {
        ReaperCore c = h.core();
        ReaperDrain drain = c.drain();
        long now = c.ticker().read();
        if (drain != null) {
            h.reapNow(ReapReason.DRAIN, now - drain.startNanos, drain.graceNanos, 0, 0);
            return;
        }
        ChannelLife life = h.life();
        if (life != null) {
            long limit = (long) life.ageTicks * h.wheel.tickNanos();
            h.reapNow(ReapReason.MAX_AGE, limit + Math.max(0, now - life.ageAt(h.wheel)), limit, 0, 0);
        }
    }

    /** For the {@link ReapEvent} of a visit's reap: how long past the accept, and the limit. */
    static long ageLimit(ReaperHandler h) {
        ChannelLife life = h.life();
        return life == null ? 0 : (long) life.ageTicks * h.wheel.tickNanos();
    }
}
