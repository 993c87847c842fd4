package io.github.idlereaper.bench;

import io.netty.channel.DefaultEventLoop;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.util.Queue;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A real Netty event loop ({@link DefaultEventLoop}: its own thread, task queue and scheduled-task queue) whose
 * clock is simulated. Scheduled tasks come due only when {@link #advance} moves the clock, and the figure that
 * drives it runs them with {@link #runDue()} inside a window it times with the thread's CPU clock. So figure 3 can
 * run a minute of a million connections' timers in a few seconds, and count the CPU the timers really use.
 *
 * <p>Netty's scheduled tasks ({@code IdleStateHandler}'s) read the clock through {@link #ticker()}; the reaper
 * reads the same clock through its builder's ticker.
 */
final class SimLoop extends DefaultEventLoop {

    /**
     * The simulated clock. Netty's scheduler reads it in whole steps. The reaper reads it as the step's time plus the
     * real time spent since the step began (capped below one step, so it stays monotonic), so that the reaper's
     * one-millisecond drain slices behave as they do in real time.
     */
    static final class Clock implements io.netty.util.concurrent.Ticker, io.github.idlereaper.Ticker {
        private volatile long nanos = TimeUnit.SECONDS.toNanos(1000);
        private volatile long realAtAdvance = System.nanoTime();
        private volatile long cap = 1;

        @Override
        public long initialNanoTime() {
            return 0;
        }

        @Override
        public long nanoTime() {
            return nanos;
        }

        @Override
        public long read() {
            return nanos + Math.min(System.nanoTime() - realAtAdvance, cap);
        }

        @Override
        public void sleep(long delay, TimeUnit unit) {
            throw new UnsupportedOperationException("the simulated clock does not sleep");
        }

        void advance(long delta) {
            cap = Math.max(0, delta - 1);
            nanos += delta;
            realAtAdvance = System.nanoTime();
        }
    }

    private final Clock clock;

    SimLoop(Clock clock) {
        super(new DefaultThreadFactory("sim-loop", true));
        this.clock = clock;
    }

    /**
     * An array-backed queue: the default {@code LinkedBlockingQueue} allocates a node per task (every scheduled task
     * that comes due passes through it), garbage that a real I/O loop's array queue does not make and that would
     * be charged to the timers.
     */
    @Override
    protected Queue<Runnable> newTaskQueue(int maxPendingTasks) {
        return new ArrayBlockingQueue<>(1 << 20);
    }

    @Override
    public io.netty.util.concurrent.Ticker ticker() {
        // Called once by the superclass constructor, before the field is set.
        return clock == null ? io.netty.util.concurrent.Ticker.systemTicker() : clock;
    }

    Clock clock() {
        return clock;
    }

    /** Moves the simulated clock. Loop thread only, so that nothing comes due behind the figure's back. */
    void advance(long nanos) {
        clock.advance(nanos);
    }

    /**
     * Runs every scheduled task that is due at the simulated now, every task they queue, and periodic tasks again
     * while they are still behind. Loop thread only.
     */
    void runDue() {
        do {
            runAllTasks();
        } while (hasDue());
    }

    private boolean hasDue() {
        long d = nextScheduledTaskDeadlineNanos();
        return d != -1 && d - clock.nanoTime() <= 0;
    }
}
