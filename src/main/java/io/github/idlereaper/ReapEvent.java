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
    private final Duration idleFor;
    private final Duration limit;

    ReapEvent(ReapReason reason, Duration idleFor, Duration limit) {
        this.reason = Objects.requireNonNull(reason, "reason");
        this.idleFor = Objects.requireNonNull(idleFor, "idleFor");
        this.limit = Objects.requireNonNull(limit, "limit");
    }

    /** Why the connection is reaped. */
    public ReapReason reason() {
        return reason;
    }

    /**
     * How long the condition held when the reaper decided, measured on the monotonic ticker. This is a lower bound
     * and is never less than {@link #limit()}.
     */
    public Duration idleFor() {
        return idleFor;
    }

    /** The configured limit that was reached, for example the read idle timeout. */
    public Duration limit() {
        return limit;
    }

    /** A terse description with the numbers, for example {@code "read idle for 30012ms (limit 30000ms)"}. */
    public String message() {
        return reason.label() + " for " + idleFor.toMillis() + "ms (limit " + limit.toMillis() + "ms)";
    }

    @Override
    public String toString() {
        return "ReapEvent(" + message() + ")";
    }
}
