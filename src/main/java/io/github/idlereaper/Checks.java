package io.github.idlereaper;

import java.time.Duration;
import java.util.Objects;

/**
 * Argument checks with one message format: {@code "<option> must <rule>: <value>"} for one option and
 * {@code "<option> (<value>) must <rule> <other> (<value>)"} for rules that involve two.
 */
final class Checks {

    /** The longest timeout accepted, so that tick arithmetic stays far from overflow. */
    static final Duration MAX_TIMEOUT = Duration.ofDays(30);

    private Checks() {
    }

    /** A timeout where {@link Duration#ZERO} disables the timer. */
    static Duration timeout(String option, Duration value) {
        Objects.requireNonNull(value, option);
        if (value.isNegative()) {
            throw new IllegalArgumentException(option + " must not be negative: " + value);
        }
        if (value.compareTo(MAX_TIMEOUT) > 0) {
            throw new IllegalArgumentException(option + " must be at most " + MAX_TIMEOUT + ": " + value);
        }
        return value;
    }

    /** A duration that must lie in {@code [min, max]}. */
    static Duration range(String option, Duration value, Duration min, Duration max) {
        Objects.requireNonNull(value, option);
        if (value.compareTo(min) < 0 || value.compareTo(max) > 0) {
            throw new IllegalArgumentException(option + " must be between " + min + " and " + max + ": " + value);
        }
        return value;
    }

    /** Fails when an enabled timeout is shorter than the tick resolution that drives it. */
    static void notShorterThanTick(String option, Duration value, Duration tick) {
        if (!value.isZero() && value.compareTo(tick) < 0) {
            throw new IllegalArgumentException(
                    option + " (" + value + ") must not be shorter than tickResolution (" + tick + ")");
        }
    }

    static void notSetTwice(boolean alreadySet, String option, Object current) {
        if (alreadySet) {
            throw new IllegalStateException(option + " was already set to " + current);
        }
    }

    /** A duration the kernel takes in whole seconds, in {@code [min, max]}. */
    static Duration wholeSeconds(String option, Duration value, Duration min, Duration max) {
        Objects.requireNonNull(value, option);
        if (value.getNano() != 0) {
            throw new IllegalArgumentException(option + " must be whole seconds: " + value);
        }
        return range(option, value, min, max);
    }

    /** A duration the kernel takes in whole milliseconds, zero to {@code max}; zero means "not set". */
    static Duration wholeMillis(String option, Duration value, Duration max) {
        Objects.requireNonNull(value, option);
        if (value.isNegative()) {
            throw new IllegalArgumentException(option + " must not be negative: " + value);
        }
        if (value.getNano() % 1_000_000 != 0) {
            throw new IllegalArgumentException(option + " must be whole milliseconds: " + value);
        }
        if (value.compareTo(max) > 0) {
            throw new IllegalArgumentException(option + " must be at most " + max + ": " + value);
        }
        return value;
    }

    /** A heartbeat's timing, each value alone. */
    static void heartbeatValues(Duration interval, Duration timeout, int maxMissed) {
        timeout("heartbeat interval", interval);
        timeout("heartbeat timeout", timeout);
        range("heartbeat maxMissed", maxMissed, 1, Heartbeat.MAX_MISSED);
    }

    /**
     * A heartbeat's timing, each value alone and together: the rules of {@link Heartbeat#of} without the protocol.
     * An interval of zero sends no pings, so it takes no timeout and one allowed miss (they would be ignored);
     * otherwise {@code 0 < timeout < interval}.
     */
    static void heartbeatTiming(Duration interval, Duration timeout, int maxMissed) {
        heartbeatValues(interval, timeout, maxMissed);
        if (interval.isZero()) {
            if (!timeout.isZero()) {
                throw new IllegalArgumentException(
                        "heartbeat timeout must be zero when heartbeat interval is zero (no pings): " + timeout);
            }
            if (maxMissed != 1) {
                throw new IllegalArgumentException(
                        "heartbeat maxMissed must be 1 when heartbeat interval is zero (no pings): " + maxMissed);
            }
        } else {
            if (timeout.isZero()) {
                throw new IllegalArgumentException("heartbeat timeout must be positive: " + timeout);
            }
            if (timeout.compareTo(interval) >= 0) {
                throw new IllegalArgumentException("heartbeat timeout (" + timeout
                        + ") must be less than heartbeat interval (" + interval + ")");
            }
        }
    }

    /** An int that must lie in {@code [min, max]}. */
    static int range(String option, int value, int min, int max) {
        if (value < min || value > max) {
            throw new IllegalArgumentException(option + " must be between " + min + " and " + max + ": " + value);
        }
        return value;
    }
}
