package io.github.idlereaper;

import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/** How a {@link LoopWheel} gets run: on an event loop in production, by hand in tests. */
interface Scheduler {

    /** Starts a periodic run of {@code task}; the returned handle stops it. */
    Runnable startPeriodic(Runnable task, long initialDelayNanos, long periodNanos);

    /** Runs {@code task} soon, but only after the loop has handled the I/O that is ready. */
    void execute(Runnable task);

    /** Runs {@code task} once, after {@code delayNanos}. */
    void schedule(Runnable task, long delayNanos);


    /** Runs a wheel on a Netty event loop. One periodic task object is reused for the wheel's whole run. */
    static Scheduler of(EventExecutor executor) {
        return new Scheduler() {
            @Override
            public Runnable startPeriodic(Runnable task, long initialDelayNanos, long periodNanos) {
                ScheduledFuture<?> f =
                        executor.scheduleAtFixedRate(task, initialDelayNanos, periodNanos, TimeUnit.NANOSECONDS);
                return () -> f.cancel(false);
            }

            @Override
            public void execute(Runnable task) {
                // Not executor.execute(): a task queued while the loop runs tasks is run in the same pass (Netty
                // 4.2 gives a pass up to a second), so a burst would hold up I/O. A due scheduled task is taken
                // only at the start of the next pass, after the loop has polled for I/O.
                executor.schedule(task, 0, TimeUnit.NANOSECONDS);
            }

            @Override
            public void schedule(Runnable task, long delayNanos) {
                executor.schedule(task, delayNanos, TimeUnit.NANOSECONDS);
            }

        };
    }
}
