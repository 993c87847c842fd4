package io.github.idlereaper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Layer 1: the wheel alone, with time pushed in by hand. No channels, no event loop. */
class LoopWheelTest {

    private static final long TICK = TimeUnit.MILLISECONDS.toNanos(100);
    private static final long SLICE = TimeUnit.MILLISECONDS.toNanos(1);

    private final FakeTicker ticker = new FakeTicker();
    private final ManualScheduler scheduler = new ManualScheduler();
    private final long origin = ticker.read();
    private final LoopWheel wheel = new LoopWheel(ticker, scheduler, TICK, SLICE, null);

    /** An entry that wants to fire at a fixed deadline and records when it did. */
    private final class Timer extends WheelEntry {
        final long deadline;
        long firedAt = -1;
        int visits;
        long workNanos;

        Timer(long deadline) {
            this.deadline = deadline;
        }

        @Override
        long expire(LoopWheel w, long now) {
            visits++;
            ticker.advanceNanos(workNanos);
            if (now - deadline >= 0) {
                firedAt = now;
                w.unregister(this);
                return LoopWheel.DETACH;
            }
            return deadline;
        }
    }

    /** Moves time to {@code time}, running the wheel at every tick start on the way, as the event loop does. */
    private void advanceTo(long time) {
        long next = origin + (Math.floorDiv(ticker.read() - origin, TICK) + 1) * TICK;
        while (next <= time) {
            ticker.advanceNanos(next - ticker.read());
            wheel.advance(ticker.read());
            scheduler.runQueued();
            next += TICK;
        }
        ticker.advanceNanos(time - ticker.read());
    }

    private void runFor(long nanos) {
        advanceTo(ticker.read() + nanos);
    }

    @Test
    void expiry_neverEarlyAndAtMostOneTickLate() {
        Random rnd = new Random(42);
        List<Timer> timers = new ArrayList<>();
        for (int i = 0; i < 2_000; i++) {
            // Deadlines anywhere up to 3x the wheel's horizon, at arbitrary sub-tick offsets.
            long delay = (long) (rnd.nextDouble() * 3 * wheel.horizonNanos());
            Timer t = new Timer(ticker.read() + delay);
            wheel.register(t, t.deadline);
            timers.add(t);
            advanceTo(ticker.read() + rnd.nextInt((int) TICK));
        }
        runFor(4 * wheel.horizonNanos());
        for (Timer t : timers) {
            assertTrue(t.firedAt >= 0, "every timer fires");
            assertTrue(t.firedAt - t.deadline >= 0, "never early: fired " + (t.firedAt - t.deadline) + "ns");
            assertTrue(t.firedAt - t.deadline <= TICK, "at most one tick late: " + (t.firedAt - t.deadline));
        }
        assertEquals(0, wheel.size());
        assertFalse(scheduler.ticking(), "an empty wheel stops ticking");
    }

    @Test
    void expiry_farDeadlineIsRevisitedAtTheHorizonNotFiredEarly() {
        Timer t = new Timer(ticker.read() + 3 * wheel.horizonNanos() + TICK / 3);
        wheel.register(t, t.deadline);
        runFor(3 * wheel.horizonNanos());
        assertEquals(-1, t.firedAt, "not fired before its deadline");
        assertTrue(t.visits >= 3, "visited at each horizon on the way: " + t.visits);
        runFor(2 * TICK);
        assertTrue(t.firedAt - t.deadline >= 0 && t.firedAt - t.deadline <= TICK);
    }

    @Test
    void reschedule_movesTheEntryToItsNewDeadline() {
        Timer t = new Timer(ticker.read() + 50 * TICK);
        wheel.register(t, ticker.read() + 5 * TICK);
        runFor(5 * TICK);
        assertEquals(1, t.visits, "visited at the first placement, found not due, placed again");
        wheel.reschedule(t, ticker.read() + 20 * TICK);
        runFor(19 * TICK);
        assertEquals(1, t.visits, "not visited before the rescheduled time");
        runFor(30 * TICK);
        assertTrue(t.firedAt - t.deadline >= 0 && t.firedAt - t.deadline <= TICK);
    }

    @Test
    void unregister_leavesNothingBehind() {
        List<Timer> timers = new ArrayList<>();
        for (int i = 0; i < 1_000; i++) {
            Timer t = new Timer(ticker.read() + (i % 300) * TICK);
            wheel.register(t, t.deadline);
            timers.add(t);
        }
        assertTrue(scheduler.ticking());
        for (Timer t : timers) {
            wheel.unregister(t);
        }
        assertEquals(0, wheel.size());
        assertFalse(scheduler.ticking(), "the tick stops with the last entry");
        for (Timer t : timers) {
            assertNull(t.prev);
            assertNull(t.next);
        }
        runFor(400 * TICK);
        for (Timer t : timers) {
            assertEquals(0, t.visits, "a removed entry is never visited");
        }
    }

    @Test
    void tick_startsWithTheFirstEntryAtTheNextTickBoundary() {
        ticker.advanceNanos(TICK / 4);
        Timer t = new Timer(ticker.read() + 10 * TICK);
        wheel.register(t, t.deadline);
        assertEquals(1, scheduler.periodicStarts);
        assertEquals(TICK, scheduler.lastPeriod);
        assertEquals(TICK - TICK / 4, scheduler.lastInitialDelay);
    }

    @Test
    void burst_isDrainedInSlicesThatYieldToIo() {
        int n = 20_000;
        long deadline = ticker.read() + 10 * TICK;
        List<Timer> timers = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Timer t = new Timer(deadline);
            t.workNanos = 2_000; // each expiry costs 2 us of loop time
            wheel.register(t, deadline);
            timers.add(t);
        }
        ticker.advanceNanos(10 * TICK);
        wheel.advance(ticker.read());
        int slices = 1;
        int firedAfterFirst = (int) timers.stream().filter(t -> t.firedAt >= 0).count();
        // One slice is 1 ms of work; the clock is only read every 8 entries, so a slice may run 8 over.
        assertTrue(firedAfterFirst <= 500 + 8, "first slice did " + firedAfterFirst);
        assertTrue(firedAfterFirst >= 500, "first slice did " + firedAfterFirst);
        while (!scheduler.executed.isEmpty()) {
            int before = (int) timers.stream().filter(t -> t.firedAt >= 0).count();
            scheduler.executed.poll().run();
            int after = (int) timers.stream().filter(t -> t.firedAt >= 0).count();
            assertTrue(after - before <= 500 + 8, "slice did " + (after - before));
            slices++;
        }
        assertEquals(0, wheel.size());
        assertTrue(slices >= n / 508, "drained in " + slices + " slices");
    }

    /**
     * Simulates a loop whose runs come late by random amounts and sometimes stall for many ticks, with activities
     * at random times between runs that store the stamp exactly as the handler does. Returns, per activity,
     * {trueTime, stamp, timeOfTheRunThatFollowed}, and checks a sample of bounds after every few runs, while
     * the wheel still has them in its history.
     */
    private List<long[]> simulate(Random rnd, int runs, int jitterNanos, boolean stalls, boolean checkExact) {
        Timer keepAlive = new Timer(Long.MAX_VALUE);
        wheel.register(keepAlive, ticker.read() + wheel.horizonNanos());
        List<long[]> activities = new ArrayList<>();
        long nextStart = origin + TICK;
        for (int run = 0; run < runs; run++) {
            long late = rnd.nextInt(jitterNanos);
            if (stalls && rnd.nextInt(2_000) == 0) {
                late += 200 * TICK;
            }
            long runAt = Math.max(nextStart + late, ticker.read());
            int acts = rnd.nextInt(3);
            for (int a = 0; a < acts; a++) {
                long at = ticker.read() + (long) (rnd.nextDouble() * (runAt - ticker.read()));
                ticker.advanceNanos(at - ticker.read());
                activities.add(new long[] {ticker.read(), wheel.stamp, -1});
            }
            ticker.advanceNanos(runAt - ticker.read());
            for (int i = activities.size() - 1; i >= 0 && activities.get(i)[2] < 0; i--) {
                activities.get(i)[2] = runAt;
            }
            wheel.advance(runAt);
            nextStart = origin + (Math.floorDiv(runAt - origin, TICK) + 1) * TICK;
            if (run % 97 == 0) {
                for (int i = Math.max(0, activities.size() - 5_000); i < activities.size(); i += 13) {
                    long[] act = activities.get(i);
                    long ub = wheel.upperBound((int) act[1]);
                    assertTrue(ub >= act[0], "upper bound " + ub + " before activity " + act[0]);
                    if (checkExact) {
                        assertTrue(ub <= act[2] + jitterNanos,
                                "upper bound " + ub + " after the next run " + act[2] + " + jitter");
                    }
                }
            }
        }
        return activities;
    }

    @Test
    void upperBound_isNeverBeforeTheActivity_whateverTheLoopDoes() {
        simulate(new Random(7), 40_000, (int) TICK, true, false);
    }

    @Test
    void upperBound_isTheNextRunWithinJitter_whenTheLoopRunsOnTime() {
        simulate(new Random(11), 40_000, 1_000, false, true);
    }

    @Test
    void upperBound_afterAStall_isLateByAtMostTheStall() {
        Timer keepAlive = new Timer(Long.MAX_VALUE);
        wheel.register(keepAlive, ticker.read() + wheel.horizonNanos());
        runFor(40 * TICK);
        int before = wheel.stamp;
        long beforeTime = ticker.read();
        ticker.advanceNanos(5 * TICK + TICK / 2); // the loop stalls for five and a half ticks
        wheel.advance(ticker.read());
        long stallEnd = ticker.read();
        assertTrue(wheel.upperBound(before) >= stallEnd - 1, "activity before the stall may have been at its end");
        assertTrue(wheel.upperBound(before) - beforeTime <= 6 * TICK);
        runFor(100 * TICK);
        int later = wheel.stamp;
        long laterTime = ticker.read();
        runFor(TICK);
        long nextRun = origin + (Math.floorDiv(laterTime - origin, TICK) + 1) * TICK;
        assertEquals(nextRun, wheel.upperBound(later), "exact again once the stall's block is past");
    }

    @Test
    void upperBound_ofAStampFromTheCurrentTickIsNow() {
        Timer t = new Timer(ticker.read() + 100 * TICK);
        wheel.register(t, t.deadline);
        int s = wheel.stamp;
        ticker.advanceNanos(TICK / 3);
        assertEquals(ticker.read(), wheel.upperBound(s));
    }
}
