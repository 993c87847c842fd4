package io.github.idlereaper;

import java.time.Duration;
import java.util.Objects;

/**
 * Fired down the pipeline (as a user event) just before the reaper closes a connection, so that application
 * handlers can log, write a last message or release resources. Anything the application writes and flushes in
 * response is flushed before the close, within the reaper's goodbye timeout.
 *
 * <p>Instances are immutable and thread-safe.
 */
public final class ReapEvent {

    private final ReapReason reason;
    // Nanoseconds, not Durations: a burst of 100,000 reaps should not make 200,000 more objects; the Durations are
    // built when asked for.
    private final long idleNanos;
    private final long limitNanos;

    private final int count;
    private final int of;
    private final Throwable cause;
    private final boolean dryRun;
    /** For {@link ReapReason#REJECTED}: the per-address limit refused it, not the cap. */
    private final boolean perAddress;

    ReapEvent(ReapReason reason, long idleNanos, long limitNanos) {
        this(reason, idleNanos, limitNanos, 0, 0);
    }

    ReapEvent(ReapReason reason, long idleNanos, long limitNanos, int count, int of) {
        this(reason, idleNanos, limitNanos, count, of, null);
    }

    /** A {@link ReapReason#DEAD_PEER} verdict that came with {@code cause}. */
    ReapEvent(long idleNanos, long limitNanos, Throwable cause) {
        this(ReapReason.DEAD_PEER, idleNanos, limitNanos, 0, 0, Objects.requireNonNull(cause, "cause"));
    }

    private ReapEvent(ReapReason reason, long idleNanos, long limitNanos, int count, int of, Throwable cause) {
        this(reason, idleNanos, limitNanos, count, of, cause, false);
    }

    private ReapEvent(ReapReason reason, long idleNanos, long limitNanos, int count, int of, Throwable cause,
            boolean dryRun) {
        this(reason, idleNanos, limitNanos, count, of, cause, dryRun, false);
    }

    private ReapEvent(ReapReason reason, long idleNanos, long limitNanos, int count, int of, Throwable cause,
            boolean dryRun, boolean perAddress) {
        this.perAddress = perAddress;
        this.dryRun = dryRun;
        this.reason = Objects.requireNonNull(reason, "reason");
        this.idleNanos = idleNanos;
        this.limitNanos = limitNanos;
        this.count = count;
        this.of = of;
        this.cause = cause;
    }

    /** The same decision, marked as a dry run's: reported, and nothing closed. */
    ReapEvent asDryRun() {
        return new ReapEvent(reason, idleNanos, limitNanos, count, of, cause, true, perAddress);
    }

    /** A refused newcomer: {@code open} connections (from its address, if {@code perAddress}) at {@code limit}. */
    static ReapEvent rejected(int open, int limit, boolean perAddress, boolean dryRun) {
        return new ReapEvent(ReapReason.REJECTED, 0, 0, open, limit, null, dryRun, perAddress);
    }

    /**
     * Whether this is a dry run's decision ({@link IdleReaper.Builder#dryRun(boolean)}): the reaper would have
     * closed the connection for this reason, and did not; no goodbye was sent. A handler that acts on reap events
     * (writes a last message, releases resources) should do nothing for a dry run's.
     *
     * @return whether this is a dry run's decision (nothing was sent or closed)
     */
    public boolean dryRun() {
        return dryRun;
    }

    /**
     * For {@link ReapReason#DEAD_PEER}, the exception the kernel's verdict came with: the socket's error as the
     * transport reported it (ETIMEDOUT, EHOSTUNREACH, ENETUNREACH, or ECONNRESET after keepalive probes), from a
     * read or from a failed write. Null for every other reason.
     *
     * @return the kernel's error for {@link ReapReason#DEAD_PEER}, or null
     */
    public Throwable cause() {
        return cause;
    }

    /**
     * For {@link ReapReason#HEARTBEAT_TIMEOUT} the pings missed, for {@link ReapReason#PING_ABUSE} the strikes,
     * for {@link ReapReason#MAX_REQUESTS} the requests served, for {@link ReapReason#EVICTED} and
     * {@link ReapReason#REJECTED} the connections open (from the newcomer's address, when the per-address limit
     * refused it); zero for other reasons.
     *
     * @return the count the reason reached, or zero
     */
    public int count() {
        return count;
    }

    /**
     * For {@link ReapReason#HEARTBEAT_TIMEOUT} the misses allowed (maxMissed), for {@link ReapReason#PING_ABUSE}
     * the strikes allowed, for {@link ReapReason#MAX_REQUESTS}, {@link ReapReason#EVICTED} and
     * {@link ReapReason#REJECTED} the limit; zero for other reasons.
     *
     * @return the count the reason allows, or zero
     */
    public int of() {
        return of;
    }

    /**
     * Why the connection is reaped.
     *
     * @return why the connection is reaped
     */
    public ReapReason reason() {
        return reason;
    }

    /**
     * How long the condition held when the reaper decided, measured on the monotonic ticker. This is a lower bound
     * and is never less than {@link #limit()}, except for {@link ReapReason#PING_ABUSE}, where it is the gap before
     * the peer's last ping (less than the limit by definition), and for {@link ReapReason#DEAD_PEER}, where it is
     * the time since the last inbound byte and the limit is the kernel's bound (see there), and for
     * {@link ReapReason#MAX_REQUESTS} and {@link ReapReason#REJECTED}, where both are zero, and for
     * {@link ReapReason#EVICTED} and {@link ReapReason#PRESSURE}, where it is the idle time and the limit is zero
     * (the cap or the pressure, not a timeout, decided).
     *
     * @return how long the condition held when the reaper decided, measured on the monotonic ticker
     */
    public Duration idleFor() {
        return Duration.ofNanos(idleNanos);
    }

    /**
     * The configured limit that was reached, for example the read idle timeout.
     *
     * @return the configured limit that was reached, for example the read idle timeout
     */
    public Duration limit() {
        return Duration.ofNanos(limitNanos);
    }

    /** {@link #idleFor()} in nanoseconds, without making a Duration. */
    long idleNanos() {
        return idleNanos;
    }

    /** {@link #limit()} in nanoseconds, without making a Duration. */
    long limitNanos() {
        return limitNanos;
    }

    /**
     * A terse description with the numbers, for example {@code "read idle for 30012ms (limit 30000ms)"},
     * {@code "no inbound data within 5000ms after ping (3 of 3 missed)"} or
     * {@code "dead peer (EHOSTUNREACH) after 91234ms quiet (kernel bound 90000ms)"}.
     *
     * @return a terse description with the numbers
     */
    public String message() {
        if (reason == ReapReason.HEARTBEAT_TIMEOUT) {
            return "no inbound data within " + millis(limitNanos) + "ms after ping (" + count + " of " + of
                    + " missed)";
        }
        if (reason == ReapReason.PING_ABUSE) {
            return "peer pinged again after " + millis(idleNanos) + "ms, below the permitted " + millis(limitNanos)
                    + "ms (" + count + " strikes, " + of + " allowed)";
        }
        if (reason == ReapReason.MAX_REQUESTS) {
            return "served " + count + " requests, the most allowed (maxRequestsPerConnection " + of + ")";
        }
        if (reason == ReapReason.EVICTED) {
            return "evicted after " + millis(idleNanos) + "ms idle: " + count + " open at maxConnections " + of;
        }
        if (reason == ReapReason.PRESSURE) {
            return "evicted after " + millis(idleNanos) + "ms idle: resource pressure " + count
                    + " % at evictUnderPressure " + of + " %";
        }
        if (reason == ReapReason.REJECTED) {
            return perAddress ? "rejected: " + count + " open from its address at maxConnectionsPerAddress " + of
                    : "rejected: " + count + " open at maxConnections " + of;
        }
        if (cause != null) {
            return reason.label() + " (" + DeadPeerCause.name(DeadPeerCause.of(cause)) + ") after " + millis(idleNanos)
                    + "ms quiet (kernel bound " + millis(limitNanos) + "ms)";
        }
        return reason.label() + " for " + millis(idleNanos) + "ms (limit " + millis(limitNanos) + "ms)";
    }

    /** Whole milliseconds, rounded down, as {@link Duration#toMillis()} gives them. */
    private static long millis(long nanos) {
        return Math.floorDiv(nanos, 1_000_000L);
    }

    @Override
    public String toString() {
        return "ReapEvent(" + (dryRun ? "dry run: " : "") + message() + ")";
    }
}
