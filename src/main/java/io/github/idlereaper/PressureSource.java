package io.github.idlereaper;

/**
 * Where a reaper learns how short of resources the process is, for
 * {@link IdleReaper.Builder#reduceTimeoutsUnderPressure}: a number from 0 (plenty) to 1 (exhausted). The reaper asks
 * at most once a second, from one of its event loops, so an implementation must answer at once (return a value that
 * is sampled elsewhere) and never block. A source that throws is logged once at WARN and read as no pressure.
 * {@link #system()} is the default; tests and hosts with their own signals (a container's memory limit, a
 * connection pool) pass their own.
 */
@FunctionalInterface
public interface PressureSource {

    /**
     * The pressure now: the largest share of a scarce resource in use, from 0 to 1 (more is read as 1).
     *
     * @return the pressure now: the largest share of a scarce resource in use, from 0 to 1 (more is read as 1)
     */
    double pressure();

    /**
     * The process's own pressure, the largest of three shares: open file descriptors of the process's limit
     * ({@code ulimit -n}), heap in use after the last garbage collection of the maximum heap, and direct memory in
     * use of the JVM's limit for it. One background daemon thread per process samples them once a second (counting
     * file descriptors costs about 13 ms at 18,000 of them, so never on an event loop) and starts with the first
     * reaper that uses it. Where a signal is not available (file descriptors outside Unix), it is left out.
     *
     * @return the system source (one per process)
     */
    static PressureSource system() {
        return SystemPressure.INSTANCE;
    }
}
