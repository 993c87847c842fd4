package io.github.idlereaper;

/**
 * A source of monotonic time in nanoseconds, the only clock idle-reaper reads.
 *
 * <p>Production code uses {@link #systemTicker()}. Tests pass their own ticker to
 * {@link IdleReaper.Builder#ticker(Ticker)} and push time forward by hand, so timer behaviour is deterministic.
 * A ticker is read once per wheel tick and on rare slow paths, never per message.
 *
 * <p>Implementations must be thread-safe and monotonic: a later call never returns a smaller value.
 */
@FunctionalInterface
public interface Ticker {

    /**
     * Returns the current time in nanoseconds from an arbitrary fixed origin.
     *
     * @return the current time in nanoseconds from an arbitrary fixed origin
     */
    long read();

    /**
     * Returns the ticker backed by {@link System#nanoTime()}.
     *
     * @return the ticker backed by {@link System#nanoTime()}
     */
    static Ticker systemTicker() {
        return SystemTicker.INSTANCE;
    }
}

/** The system ticker; a separate type so that its one clock read is easy to find. */
enum SystemTicker implements Ticker {
    INSTANCE;

    @Override
    public long read() {
        return System.nanoTime();
    }
}
