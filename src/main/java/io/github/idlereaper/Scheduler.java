package io.github.idlereaper;

import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/** How a {@link LoopWheel} gets run: on an event loop in production, by hand in tests. */
interface Scheduler {

    /** Starts a periodic run of {@code task}; the returned handle stops it. */
    Runnable startPeriodic(Runnable task, long initialDelayNanos, long periodNanos);

    /** Runs {@code task} soon, after pending I/O. */
    void execute(Runnable task);

    /** Whether the caller runs on the scheduler's thread. */
    boolean inLoop();

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
                executor.execute(task);
            }

            @Override
            public boolean inLoop() {
                return executor.inEventLoop();
            }
        };
    }
}
