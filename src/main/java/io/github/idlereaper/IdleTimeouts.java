package io.github.idlereaper;

import java.time.Duration;
import java.util.Objects;

/**
 * The four idle timers of a reaper, as an immutable value. {@link Duration#ZERO} disables a timer.
 *
 * <p>A reaper starts with the timeouts given to its builder; {@link IdleReaper#updateTimeouts(IdleTimeouts)}
 * replaces them at run time:
 * <pre>{@code
 * reaper.updateTimeouts(reaper.timeouts().toBuilder().readIdle(Duration.ofSeconds(30)).build());
 * }</pre>
 *
 * <p>Instances are immutable and thread-safe. The builder is not thread-safe.
 */
public final class IdleTimeouts {

    /** The finest and the coarsest tick resolution a reaper accepts. */
    static final Duration MIN_TICK = Duration.ofMillis(10);
    static final Duration MAX_TICK = Duration.ofSeconds(1);
    /**
     * The tick resolution of a reaper built with every timer off: fine enough for timeouts from 100 ms that
     * {@link IdleReaper#updateTimeouts} may enable later, at twenty wheel runs a second per event loop.
     */
    static final Duration IDLE_TICK = Duration.ofMillis(100);

    /** All four timers disabled. */
    public static final IdleTimeouts DISABLED = new Builder().build();

    private final Duration readIdle;
    private final Duration writeIdle;
    private final Duration allIdle;
    private final Duration writeStall;

    private IdleTimeouts(Builder b) {
        this.readIdle = b.readIdle;
        this.writeIdle = b.writeIdle;
        this.allIdle = b.allIdle;
        this.writeStall = b.writeStall;
    }

    /**
     * Returns a builder with every timer disabled.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Returns a builder that starts from this value.
     *
     * @return a new builder with this value's timeouts
     */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.readIdle = readIdle;
        b.writeIdle = writeIdle;
        b.allIdle = allIdle;
        b.writeStall = writeStall;
        return b;
    }

    /**
     * How long a connection may go without inbound bytes; zero when disabled.
     *
     * @return how long a connection may go without inbound bytes; zero when disabled
     */
    public Duration readIdle() {
        return readIdle;
    }

    /**
     * How long a connection may go without outbound progress; zero when disabled.
     *
     * @return how long a connection may go without outbound progress; zero when disabled
     */
    public Duration writeIdle() {
        return writeIdle;
    }

    /**
     * How long a connection may go with neither inbound bytes nor outbound progress; zero when disabled.
     *
     * @return how long a connection may go with neither inbound bytes nor outbound progress; zero when disabled
     */
    public Duration allIdle() {
        return allIdle;
    }

    /**
     * How long flushed bytes may wait with no flush progress; zero when disabled.
     *
     * @return how long flushed bytes may wait with no flush progress; zero when disabled
     */
    public Duration writeStall() {
        return writeStall;
    }

    /** The smallest enabled timeout, or zero when every timer is disabled. */
    Duration smallestEnabled() {
        Duration min = Duration.ZERO;
        for (Duration d : new Duration[] {readIdle, writeIdle, allIdle, writeStall}) {
            if (!d.isZero() && (min.isZero() || d.compareTo(min) < 0)) {
                min = d;
            }
        }
        return min;
    }

    /**
     * The tick resolution a reaper built with these timeouts chooses when its builder sets none: a tenth of the
     * smallest enabled timeout (or of {@code heartbeatTimeout}, if smaller and not zero), between 10 ms and 1 s;
     * 100 ms when nothing is enabled, so that timeouts from 100 ms can be enabled later.
     *
     * @param heartbeatTimeout the heartbeat's timeout, or {@link Duration#ZERO} for no pings
     * @return the default tick resolution for these timeouts
     * @throws NullPointerException if {@code heartbeatTimeout} is null
     */
    public Duration defaultTickResolution(Duration heartbeatTimeout) {
        Duration smallest = smallestEnabled();
        if (!heartbeatTimeout.isZero() && (smallest.isZero() || heartbeatTimeout.compareTo(smallest) < 0)) {
            smallest = heartbeatTimeout;
        }
        if (smallest.isZero()) {
            return IDLE_TICK;
        }
        Duration tenth = smallest.dividedBy(10);
        if (tenth.compareTo(MIN_TICK) < 0) {
            return MIN_TICK;
        }
        return tenth.compareTo(MAX_TICK) > 0 ? MAX_TICK : tenth;
    }

    /** Checks every enabled timeout against the tick resolution that will drive it. */
    void checkAgainstTick(Duration tick) {
        Checks.notShorterThanTick("readIdleTimeout", readIdle, tick);
        Checks.notShorterThanTick("writeIdleTimeout", writeIdle, tick);
        Checks.notShorterThanTick("allIdleTimeout", allIdle, tick);
        Checks.notShorterThanTick("writeStallTimeout", writeStall, tick);
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof IdleTimeouts)) {
            return false;
        }
        IdleTimeouts t = (IdleTimeouts) o;
        return readIdle.equals(t.readIdle) && writeIdle.equals(t.writeIdle) && allIdle.equals(t.allIdle)
                && writeStall.equals(t.writeStall);
    }

    @Override
    public int hashCode() {
        return Objects.hash(readIdle, writeIdle, allIdle, writeStall);
    }

    @Override
    public String toString() {
        return "IdleTimeouts(readIdle=" + readIdle + ", writeIdle=" + writeIdle + ", allIdle=" + allIdle
                + ", writeStall=" + writeStall + ")";
    }

    /** Builds {@link IdleTimeouts}. Not thread-safe. */
    public static final class Builder {
        private Duration readIdle = Duration.ZERO;
        private Duration writeIdle = Duration.ZERO;
        private Duration allIdle = Duration.ZERO;
        private Duration writeStall = Duration.ZERO;

        private Builder() {
        }

        /**
         * Sets the read idle timeout: no inbound bytes for this long reaps the connection with
         * {@link ReapReason#READ_IDLE}. Default {@link Duration#ZERO}, disabled.
         *
         * @param timeout the timeout (its default, range and disabled value are given above)
         * @return this builder
         * @throws NullPointerException if {@code timeout} is null
         * @throws IllegalArgumentException if {@code timeout} is negative or longer than 30 days
         */
        public Builder readIdle(Duration timeout) {
            this.readIdle = Checks.timeout("readIdleTimeout", timeout);
            return this;
        }

        /**
         * Sets the write idle timeout: no outbound progress for this long reaps the connection with
         * {@link ReapReason#WRITE_IDLE}. A write by the application and bytes leaving the socket both count as
         * progress, so a slow consumer draining a large response is not idle. Default zero, disabled.
         *
         * @param timeout the timeout (its default, range and disabled value are given above)
         * @return this builder
         * @throws NullPointerException if {@code timeout} is null
         * @throws IllegalArgumentException if {@code timeout} is negative or longer than 30 days
         */
        public Builder writeIdle(Duration timeout) {
            this.writeIdle = Checks.timeout("writeIdleTimeout", timeout);
            return this;
        }

        /**
         * Sets the all idle timeout: neither inbound bytes nor outbound progress for this long reaps the
         * connection with {@link ReapReason#ALL_IDLE}. Default zero, disabled.
         *
         * @param timeout the timeout (its default, range and disabled value are given above)
         * @return this builder
         * @throws NullPointerException if {@code timeout} is null
         * @throws IllegalArgumentException if {@code timeout} is negative or longer than 30 days
         */
        public Builder allIdle(Duration timeout) {
            this.allIdle = Checks.timeout("allIdleTimeout", timeout);
            return this;
        }

        /**
         * Sets the write-stall timeout: flushed bytes waiting in the outbound buffer with no flush progress for
         * this long (the peer stopped reading) reaps the connection with {@link ReapReason#WRITE_STALL}. It
         * applies even while the channel is marked busy. Default zero, disabled.
         *
         * @param timeout the timeout (its default, range and disabled value are given above)
         * @return this builder
         * @throws NullPointerException if {@code timeout} is null
         * @throws IllegalArgumentException if {@code timeout} is negative or longer than 30 days
         */
        public Builder writeStall(Duration timeout) {
            this.writeStall = Checks.timeout("writeStallTimeout", timeout);
            return this;
        }

        /**
         * Returns the immutable value.
         *
         * @return the immutable value
         */
        public IdleTimeouts build() {
            return new IdleTimeouts(this);
        }
    }
}
