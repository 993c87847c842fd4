package io.github.idlereaper;

import java.util.ArrayDeque;
import java.util.Queue;

/** A {@link Scheduler} for wheel tests: records what the wheel asks for and runs nothing by itself. */
final class ManualScheduler implements Scheduler {
    final Queue<Runnable> executed = new ArrayDeque<>();
    int periodicStarts;
    int periodicStops;
    long lastInitialDelay = -1;
    long lastPeriod = -1;
    /** Tasks asked for with a delay, in order, and their delays; run only when a test says so. */
    final Queue<Runnable> delayed = new ArrayDeque<>();
    final Queue<Long> delays = new ArrayDeque<>();

    @Override
    public Runnable startPeriodic(Runnable task, long initialDelayNanos, long periodNanos) {
        periodicStarts++;
        lastInitialDelay = initialDelayNanos;
        lastPeriod = periodNanos;
        return () -> periodicStops++;
    }

    @Override
    public void execute(Runnable task) {
        executed.add(task);
    }

    @Override
    public void schedule(Runnable task, long delayNanos) {
        delayed.add(task);
        delays.add(delayNanos);
    }

    boolean ticking() {
        return periodicStarts > periodicStops;
    }

    /** Runs what the wheel queued with {@link #execute}, including what that queues; returns how many ran. */
    int runQueued() {
        int n = 0;
        Runnable r;
        while ((r = executed.poll()) != null) {
            r.run();
            n++;
        }
        return n;
    }
}
