package io.github.idlereaper;

import java.time.Duration;

/**
 * The connection lifecycle options of a reaper, as the handlers read them at each visit (nanos): the half-close
 * timeout, the age limit with its jitter and grace, the drain's spread and the dry run. Immutable; one per reaper.
 * See docs/lifecycle.md.
 */
final class LifecycleSettings {

    static final Duration DEFAULT_AGE_GRACE = Duration.ofSeconds(30);
    static final double DEFAULT_AGE_JITTER = 0.1;
    static final double MAX_AGE_JITTER = 0.5;

    static final int MAX_CLOSE_RATE = 1_000_000;

    static final LifecycleSettings NONE = new LifecycleSettings(Duration.ZERO, false, Duration.ZERO,
            DEFAULT_AGE_JITTER, DEFAULT_AGE_GRACE, Duration.ZERO, 0, 0);

    /** How long a half-closed connection (the peer's FIN seen) may stay with nothing to do; 0 when off. */
    final long halfCloseNanos;
    /** Every decision is reported and none carried out. */
    final boolean dryRun;
    /** The age limit, before jitter; 0 when off. */
    final long maxAgeNanos;
    /** The age limit's jitter, a fraction either way (0 to 0.5). */
    final double ageJitter;
    /** How long a connection at its age may finish its work in flight. */
    final long ageGraceNanos;
    /** Over how long a drain spreads its goodbyes. */
    final long drainSpreadNanos;
    /** The most closes per second per event loop for the reasons that can wait; 0 for no limit. */
    final int closeRate;
    /** The close rate's burst. */
    final int closeBurst;

    LifecycleSettings(Duration halfClose, boolean dryRun, Duration maxAge, double ageJitter, Duration ageGrace,
            Duration drainSpread, int closeRate, int closeBurst) {
        this.closeRate = closeRate;
        this.closeBurst = closeBurst;
        this.halfCloseNanos = halfClose.toNanos();
        this.dryRun = dryRun;
        this.maxAgeNanos = maxAge.toNanos();
        this.ageJitter = ageJitter;
        this.ageGraceNanos = ageGrace.toNanos();
        this.drainSpreadNanos = drainSpread.toNanos();
    }

    /** The shortest enabled lifecycle timeout or deadline, or zero: the default tick takes it into account. */
    Duration smallestEnabled() {
        long a = halfCloseNanos;
        long b = maxAgeNanos;
        return Duration.ofNanos(a == 0 ? b : b == 0 ? a : Math.min(a, b));
    }

    /**
     * The rule every timeout keeps: none shorter than the tick resolution.
     *
     * @throws IllegalArgumentException with the option, the value and the rule
     */
    void checkAgainstTick(Duration tick) {
        Checks.notShorterThanTick("halfCloseTimeout", Duration.ofNanos(halfCloseNanos), tick);
        Checks.notShorterThanTick("maxConnectionAge", Duration.ofNanos(maxAgeNanos), tick);
    }

    /**
     * One connection's age limit with its jitter, in ticks of {@code tickNanos}, rounded up: uniform in
     * {@code [age × (1 − jitter), age × (1 + jitter)]}, drawn from {@code draw} (a value in [0, bound) for a bound).
     */
    int ageTicks(long tickNanos, java.util.function.LongUnaryOperator draw) {
        long base = (maxAgeNanos + tickNanos - 1) / tickNanos;
        long half = (long) Math.floor(base * ageJitter);
        long jitter = half == 0 ? 0 : draw.applyAsLong(2 * half + 1);
        return (int) Math.max(1, base - half + jitter);
    }
}
