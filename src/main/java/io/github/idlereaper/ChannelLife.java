package io.github.idlereaper;

/**
 * One channel's age: when it was accepted and how long, jitter included, it may live
 * ({@link IdleReaper.Builder#maxConnectionAge}). The channel's handler refers to one of these in place of its
 * {@link ReaperCore} or {@link ChannelOverride} (which it holds as {@link #base}), as it does for an override, so
 * that the age costs no field in the handler and nothing on a reaper without it: 24 bytes per channel with it.
 * Confined to the channel's event loop, apart from {@link #base}, which per-channel calls read from any thread.
 */
final class ChannelLife {
    /** The {@link ReaperCore} or {@link ChannelOverride} this took the place of. */
    volatile Object base;
    /** The wheel stamp of the accept (of the registration with the current wheel, after a move). */
    final int born;
    /** The channel's age limit with its jitter, in wheel ticks (rounded up: later, never earlier). */
    final int ageTicks;

    ChannelLife(Object base, int born, int ageTicks) {
        this.base = base;
        this.born = born;
        this.ageTicks = ageTicks;
    }

    /** The stamp of the tick in which the age is due: the accept's stamp plus the age limit in ticks. */
    int dueStamp() {
        return (born + ageTicks) & Integer.MAX_VALUE;
    }

    /** The moment the channel reaches its age: never before the accept plus its age limit. */
    long ageAt(LoopWheel w) {
        return w.upperBound(born) + (long) ageTicks * w.tickNanos();
    }
}
