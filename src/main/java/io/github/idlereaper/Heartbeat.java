package io.github.idlereaper;

import java.time.Duration;
import java.util.Objects;

/**
 * A heartbeat configuration, as an immutable value: after {@link #interval()} with nothing inbound the reaper
 * sends the {@link #protocol()}'s ping; any inbound byte afterwards proves the peer alive; {@link #timeout()}
 * passing with nothing inbound is a miss; {@link #maxMissed()} consecutive misses reap the channel with
 * {@link ReapReason#HEARTBEAT_TIMEOUT}. An interval of {@link Duration#ZERO} sends no pings but still uses the
 * protocol's goodbyes, heartbeat-frame recognition and companion (its timeout must then be zero and maxMissed 1).
 *
 * <p>Set one for every channel with {@link IdleReaper.Builder#heartbeat}, or for one channel with
 * {@link IdleReaper#overrideHeartbeat}. Immutable and thread-safe.
 */
public final class Heartbeat {

    /** The most consecutive misses a heartbeat may allow. */
    public static final int MAX_MISSED = 7;

    /** No heartbeat and no protocol. */
    public static final Heartbeat DISABLED = new Heartbeat(Duration.ZERO, Duration.ZERO, 1, null);

    private final Duration interval;
    private final Duration timeout;
    private final int maxMissed;
    private final HeartbeatProtocol protocol;

    private Heartbeat(Duration interval, Duration timeout, int maxMissed, HeartbeatProtocol protocol) {
        this.interval = interval;
        this.timeout = timeout;
        this.maxMissed = maxMissed;
        this.protocol = protocol;
    }

    /**
     * A heartbeat. Single values are checked here; {@code timeout < interval} too, because it involves only this
     * value's own fields.
     *
     * @param interval how long the connection may stay quiet before a ping; zero sends no pings
     * @param timeout how long after a ping the peer has to send anything; zero with (and only with) a zero interval
     * @param maxMissed consecutive misses before the reap, 1 to {@value #MAX_MISSED}; 1 with a zero interval
     * @param protocol the ping, goodbye and companion
     * @return the heartbeat
     * @throws NullPointerException if an argument is null
     * @throws IllegalArgumentException if a value is out of range, or the timeout is not less than the interval
     */
    public static Heartbeat of(Duration interval, Duration timeout, int maxMissed, HeartbeatProtocol protocol) {
        Checks.heartbeatTiming(interval, timeout, maxMissed);
        Objects.requireNonNull(protocol, "protocol");
        return new Heartbeat(interval, timeout, maxMissed, protocol);
    }

    /** The checks of single values, shared with {@link IdleReaper.Builder#heartbeat}. */
    static void checkValues(Duration interval, Duration timeout, int maxMissed, HeartbeatProtocol protocol) {
        Checks.heartbeatValues(interval, timeout, maxMissed);
        Objects.requireNonNull(protocol, "protocol");
    }

    /**
     * How long the connection may stay quiet before a ping; zero when pings are off.
     *
     * @return how long the connection may stay quiet before a ping; zero when pings are off
     */
    public Duration interval() {
        return interval;
    }

    /**
     * How long after a ping the peer has to send anything.
     *
     * @return how long after a ping the peer has to send anything
     */
    public Duration timeout() {
        return timeout;
    }

    /**
     * Consecutive misses before the reap.
     *
     * @return consecutive misses before the reap
     */
    public int maxMissed() {
        return maxMissed;
    }

    /**
     * The protocol, or null for {@link #DISABLED}.
     *
     * @return the protocol, or null for {@link #DISABLED}
     */
    public HeartbeatProtocol protocol() {
        return protocol;
    }

    /**
     * Whether pings are sent.
     *
     * @return whether pings are sent
     */
    public boolean pings() {
        return !interval.isZero();
    }

    /**
     * The longest a silent peer survives: interval + timeout × maxMissed (zero when pings are off).
     *
     * @return the longest a silent peer survives: interval + timeout × maxMissed (zero when pings are off)
     */
    public Duration bound() {
        return pings() ? interval.plus(timeout.multipliedBy(maxMissed)) : Duration.ZERO;
    }

    /** Fails when an enabled interval or timeout is shorter than the tick resolution that drives it. */
    void checkAgainstTick(Duration tick) {
        if (pings()) {
            Checks.notShorterThanTick("heartbeat interval", interval, tick);
            Checks.notShorterThanTick("heartbeat timeout", timeout, tick);
        }
    }

    /** Fails when the heartbeat cannot finish before an enabled idle timeout it protects would reap. */
    void checkFitsInside(IdleTimeouts t) {
        if (!pings()) {
            return;
        }
        fits(t.readIdle(), "readIdleTimeout");
        fits(t.allIdle(), "allIdleTimeout");
    }

    private void fits(Duration idle, String option) {
        Duration b = bound();
        if (!idle.isZero() && b.compareTo(idle) > 0) {
            throw new IllegalArgumentException("heartbeat interval + timeout × maxMissed (" + b
                    + ") must not exceed " + option + " (" + idle + ")");
        }
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof Heartbeat)) {
            return false;
        }
        Heartbeat h = (Heartbeat) o;
        return interval.equals(h.interval) && timeout.equals(h.timeout) && maxMissed == h.maxMissed
                && Objects.equals(protocol, h.protocol);
    }

    @Override
    public int hashCode() {
        return Objects.hash(interval, timeout, maxMissed, protocol);
    }

    @Override
    public String toString() {
        if (protocol == null) {
            return "Heartbeat(disabled)";
        }
        return "Heartbeat(interval=" + interval + ", timeout=" + timeout + ", maxMissed=" + maxMissed
                + ", protocol=" + protocol + ")";
    }
}
