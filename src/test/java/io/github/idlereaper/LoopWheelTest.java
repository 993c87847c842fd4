package io.github.idlereaper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
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
        long deadline;
        /** Runs inside the visit, before the deadline check. */
        Runnable duringVisit;
        long firedAt = -1;
        int visits;
        long workNanos;
        /** Fires by closing its channel, which counts against the slice's close budget. */
        boolean closes;

        Timer(long deadline) {
            this.deadline = deadline;
        }

        @Override
        long expire(LoopWheel w, long now) {
            visits++;
            ticker.advanceNanos(workNanos);
            long due = deadline; // what this visit decides on; duringVisit may change the field for later
            if (duringVisit != null) {
                Runnable r = duringVisit;
                duringVisit = null;
                r.run();
            }
            if (now - due >= 0) {
                firedAt = now;
                if (closes) {
                    w.countClose();
                }
                w.unregister(this);
                return LoopWheel.DETACH;
            }
            return due;
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
    void visitBy_bringsAParkedVisitEarlier() {
        Timer t = new Timer(ticker.read() + 50 * TICK);
        wheel.register(t, ticker.read() + 5 * TICK);
        runFor(5 * TICK);
        assertEquals(1, t.visits, "visited at the first placement, found not due, placed again for tick 50");
        t.deadline = ticker.read() + 20 * TICK; // a new, earlier deadline appears between visits
        wheel.visitBy(t, t.deadline);
        runFor(19 * TICK);
        assertEquals(1, t.visits, "not visited before the new deadline");
        runFor(2 * TICK);
        assertTrue(t.firedAt - t.deadline >= 0 && t.firedAt - t.deadline <= TICK, "fired within a tick of it");
    }

    @Test
    void visitBy_neverPostponesAVisit() {
        long deadline = ticker.read() + 10 * TICK;
        Timer t = new Timer(deadline);
        wheel.register(t, deadline);
        wheel.visitBy(t, ticker.read() + 200 * TICK); // a later deadline: the visit stays where it is
        wheel.visitBy(t, ticker.read() + 11 * TICK);
        runFor(10 * TICK);
        assertEquals(deadline, t.firedAt, "fired at its own deadline, unmoved");
    }

    @Test
    void visitBy_ofAnEntryInTheBacklog_leavesItThere() {
        Timer t = new Timer(ticker.read() + 100 * TICK);
        wheel.register(t, ticker.read() + 100 * TICK);
        wheel.revisitAll(); // now due at once, in the backlog
        wheel.visitBy(t, ticker.read() + 5 * TICK);
        assertEquals(1, scheduler.runQueued(), "the drain's continuation");
        assertEquals(1, t.visits, "visited from the backlog, not moved out of it to tick 5");
    }

    @Test
    void visitBy_duringTheEntrysOwnVisit_isFoldedIntoWhatTheVisitReturns() {
        Timer t = new Timer(ticker.read() + 100 * TICK);
        wheel.register(t, ticker.read() + 2 * TICK);
        long early = ticker.read() + 7 * TICK;
        t.duringVisit = () -> {
            t.deadline = early;
            wheel.visitBy(t, early); // the visit itself still returns the old deadline
        };
        runFor(2 * TICK);
        assertEquals(1, t.visits);
        runFor(5 * TICK);
        assertEquals(early, t.firedAt, "the earlier request won over the visit's own result");
    }

    @Test
    void entryThatLeavesTheWheelDuringItsOwnVisit_isNotPlacedAgain() {
        Timer t = new Timer(ticker.read() + 100 * TICK);
        Timer other = new Timer(ticker.read() + 100 * TICK);
        wheel.register(t, ticker.read() + 2 * TICK);
        wheel.register(other, ticker.read() + 100 * TICK);
        t.duringVisit = () -> wheel.unregister(t); // a ping whose write closed the channel, say
        runFor(2 * TICK);
        assertFalse(t.linked(), "not linked back into the wheel");
        assertEquals(1, wheel.size(), "only the other entry is left");
        runFor(200 * TICK);
        assertEquals(1, t.visits, "never visited again");
    }

    @Test
    void anEntryThatThrows_doesNotStopTheWheel_andIsVisitedAgain() {
        Timer bad = new Timer(ticker.read() + 5 * TICK);
        Timer good = new Timer(ticker.read() + 10 * TICK);
        wheel.register(bad, ticker.read() + 2 * TICK);
        wheel.register(good, ticker.read() + 10 * TICK);
        bad.duringVisit = () -> {
            throw new IllegalStateException("a failing visit");
        };
        runFor(12 * TICK);
        assertEquals(bad.deadline, bad.firedAt, "visited again after it threw, and fired on time");
        assertEquals(good.deadline, good.firedAt, "the rest of the wheel went on");
    }

    @Test
    void visitBy_folds_evenWhenTheClockReadsNegative() {
        FakeTicker negative = new FakeTicker();
        negative.advanceNanos(-negative.read() - 2_000_000_000_000L);
        ManualScheduler s = new ManualScheduler();
        LoopWheel w = new LoopWheel(negative, s, TICK, SLICE, null);
        long[] fired = {0};
        long early = negative.read() + 7 * TICK;
        WheelEntry e = new WheelEntry() {
            boolean folded;

            @Override
            long expire(LoopWheel wheel, long now) {
                if (!folded) {
                    folded = true;
                    wheel.visitBy(this, early);
                    return Long.MAX_VALUE; // no deadline of its own
                }
                fired[0] = now;
                wheel.unregister(this);
                return LoopWheel.DETACH;
            }
        };
        w.register(e, negative.read() + 2 * TICK);
        for (int i = 0; i < 20 && fired[0] == 0; i++) {
            negative.advanceNanos(TICK);
            w.advance(negative.read());
            s.runQueued();
        }
        assertTrue(fired[0] != 0 && fired[0] - early >= 0 && fired[0] - early <= TICK, "fired at the fold");
    }

    @Test
    void aStallLongAgo_doesNotMakeLaterBoundsLate() {
        // A stall of 10 s early in the wheel's life, then 40,000 ticks on time: a stamp from tick 20,000 (older
        // than the finer levels remember when it is read) must not carry the old stall.
        Timer keep = new Timer(Long.MAX_VALUE);
        wheel.register(keep, ticker.read() + TICK);
        runFor(100 * TICK);
        ticker.advance(Duration.ofSeconds(10));
        wheel.advance(ticker.read());
        runFor(20_000 * TICK);
        int stamp = wheel.stamp;
        long activity = ticker.read();
        runFor(20_000 * TICK);
        long ub = wheel.upperBound(stamp);
        assertTrue(ub - activity >= 0, "never before the activity");
        assertTrue(ub - activity <= TICK, "within a tick of it, not 10 s late: " + (ub - activity) + " ns");
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

    /** Registers {@code n} timers due together, each costing {@code workNanos} and closing or not. */
    private List<Timer> burst(int n, long deadline, long workNanos, boolean closes) {
        List<Timer> timers = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Timer t = new Timer(deadline);
            t.workNanos = workNanos;
            t.closes = closes;
            wheel.register(t, deadline);
            timers.add(t);
        }
        return timers;
    }

    private static int fired(List<Timer> timers) {
        return (int) timers.stream().filter(t -> t.firedAt >= 0).count();
    }

    /** Runs the drain's queued continuations one at a time; each may fire at most {@code max}. Returns how many. */
    private int runContinuations(List<Timer> timers, int max) {
        int slices = 0;
        while (!scheduler.executed.isEmpty()) {
            int before = fired(timers);
            scheduler.executed.poll().run();
            assertTrue(fired(timers) - before <= max, "slice did " + (fired(timers) - before));
            slices++;
        }
        return slices;
    }

    @Test
    void burst_isDrainedInSlicesThatYieldToIo() {
        int n = 20_000;
        long deadline = ticker.read() + 10 * TICK;
        List<Timer> timers = burst(n, deadline, 2_000, false); // each expiry costs 2 us of loop time
        ticker.advanceNanos(10 * TICK);
        wheel.advance(ticker.read());
        int firedAfterFirst = fired(timers);
        // One slice is 1 ms of work; the clock is only read every 8 entries, so a slice may run 8 over.
        assertTrue(firedAfterFirst <= 500 + 8, "first slice did " + firedAfterFirst);
        assertTrue(firedAfterFirst >= 500, "first slice did " + firedAfterFirst);
        int slices = 1 + runContinuations(timers, 500 + 8);
        assertEquals(0, wheel.size());
        assertTrue(slices >= n / 508, "drained in " + slices + " slices");
    }

    @Test
    void burst_ofCloses_yieldsAfterABoundedNumberOfCloses_evenWhenEachIsCheap() {
        // A close costs little inside the slice but leaves Netty work (channelInactive, deregistration) that runs
        // after it, before the loop's next I/O: the slice counts closes, not only its own time.
        int n = 1_000;
        long deadline = ticker.read() + 10 * TICK;
        List<Timer> timers = burst(n, deadline, 0, true);
        ticker.advanceNanos(10 * TICK);
        wheel.advance(ticker.read());
        assertEquals(LoopWheel.SLICE_CLOSES, fired(timers), "first slice");
        int slices = 1 + runContinuations(timers, LoopWheel.SLICE_CLOSES);
        assertEquals(0, wheel.size());
        assertEquals((n + LoopWheel.SLICE_CLOSES - 1) / LoopWheel.SLICE_CLOSES, slices);
    }

    @Test
    void whileAContinuationIsPending_theTickOnlyAddsToTheBacklog_oneSlicePerPass() {
        // The loop runs every due scheduled task in one pass: a tick (or a slot's task) that drained a slice of
        // its own beside the continuation would make two slices back to back before the loop's next I/O.
        List<Timer> timers = burst(100, ticker.read() + 10 * TICK, 0, true);
        ticker.advanceNanos(10 * TICK);
        wheel.advance(ticker.read());
        assertEquals(LoopWheel.SLICE_CLOSES, fired(timers));
        assertEquals(1, scheduler.executed.size(), "a continuation");
        ticker.advanceNanos(TICK);
        wheel.advance(ticker.read());
        assertEquals(LoopWheel.SLICE_CLOSES, fired(timers), "the tick did not drain beside the continuation");
        assertEquals(1, scheduler.executed.size(), "and did not schedule a second one");
        scheduler.executed.poll().run();
        assertEquals(2 * LoopWheel.SLICE_CLOSES, fired(timers));
        scheduler.runQueued();
        assertEquals(100, fired(timers));
    }

    /** Runs the wheel at every tick start plus {@code late}, as a loop whose timer task runs that late does. */
    private void runLate(long until, long late) {
        long next = origin + (Math.floorDiv(ticker.read() - late - origin, TICK) + 1) * TICK;
        while (next + late <= until) {
            ticker.advanceNanos(next + late - ticker.read());
            wheel.advance(ticker.read());
            scheduler.runQueued();
            next += TICK;
        }
    }

    @Test
    void deadline_justAfterATickStart_firesAtThatTicksLateRun_notATickLater() {
        // Deadlines taken from an upper bound lie just after a tick start (the bound includes how late a tick
        // ran). The loop runs every tick 300 us late: such a deadline fires at that tick's run, not 100 ms later.
        long late = TimeUnit.MICROSECONDS.toNanos(300);
        Timer keepAlive = new Timer(Long.MAX_VALUE);
        wheel.register(keepAlive, ticker.read() + wheel.horizonNanos());
        runLate(origin + 5 * TICK + late, late);
        Timer soon = new Timer(origin + 9 * TICK + TimeUnit.MICROSECONDS.toNanos(100));
        wheel.register(soon, soon.deadline);
        // The same 100 us past a tick start, while ticks then run only 50 us late: visited early, placed again.
        Timer early = new Timer(origin + 12 * TICK + TimeUnit.MICROSECONDS.toNanos(100));
        wheel.register(early, early.deadline);
        runLate(origin + 10 * TICK, late);
        assertEquals(late - TimeUnit.MICROSECONDS.toNanos(100), soon.firedAt - soon.deadline,
                "fired at the 300 us late run of the tick its deadline is 100 us into");
        long lessLate = TimeUnit.MICROSECONDS.toNanos(50);
        runLate(origin + 12 * TICK + lessLate, lessLate);
        assertEquals(1, early.visits, "visited at the 50 us late run of its tick");
        assertEquals(-1, early.firedAt, "not fired: its deadline is 50 us away");
        long slot = TICK / LoopWheel.SLOTS;
        assertEquals(List.of(slot - lessLate), List.copyOf(scheduler.delays),
                "one task, at the end of the first slot of the tick, rather than the next tick");
        ticker.advanceNanos(scheduler.delays.poll());
        scheduler.delayed.poll().run();
        assertEquals(slot - TimeUnit.MICROSECONDS.toNanos(100), early.firedAt - early.deadline,
                "fired by the slot's task, less than a slot after its deadline");
        assertEquals(2, early.visits);
    }

    @Test
    void entriesVisitedEarly_waitInTheSlotOfTheirDeadline_oneTaskPerSlot() {
        Timer keepAlive = new Timer(Long.MAX_VALUE);
        wheel.register(keepAlive, ticker.read() + wheel.horizonNanos());
        long slot = TICK / LoopWheel.SLOTS;
        List<Timer> timers = new ArrayList<>();
        for (int i = 0; i < 300; i++) {
            // Due at 100 ticks plus 0.5 to 3.5 slots: slots 1 to 4 of that tick.
            Timer t = new Timer(origin + 100 * TICK + slot / 2 + i * slot / 100);
            wheel.register(t, t.deadline);
            timers.add(t);
        }
        advanceTo(origin + 100 * TICK);
        assertEquals(4, scheduler.delayed.size(), "one task per slot used: " + scheduler.delays);
        for (long expected = slot; !scheduler.delayed.isEmpty(); expected += slot) {
            assertEquals(expected, scheduler.delays.poll(), "each at its slot's end");
            ticker.advanceNanos(origin + 100 * TICK + expected - ticker.read());
            scheduler.delayed.poll().run();
        }
        for (Timer t : timers) {
            assertTrue(t.firedAt - t.deadline >= 0, "never early");
            assertTrue(t.firedAt - t.deadline <= slot, "at most a slot late: " + (t.firedAt - t.deadline));
            assertTrue(t.visits <= 2 + (t.deadline - origin - 100 * TICK) / slot,
                    "visited at the tick, then once per slot at most: " + t.visits);
        }
    }

    @Test
    void retryThatNeverRuns_isCoveredByTheNextTick() {
        // The retry is only a shortcut: if the loop runs the next tick first, that tick visits the entry.
        Timer keepAlive = new Timer(Long.MAX_VALUE);
        wheel.register(keepAlive, ticker.read() + wheel.horizonNanos());
        long late = TimeUnit.MICROSECONDS.toNanos(300);
        runLate(origin + 5 * TICK + late, late);
        Timer t = new Timer(origin + 8 * TICK + TimeUnit.MICROSECONDS.toNanos(200));
        wheel.register(t, t.deadline);
        runLate(origin + 10 * TICK, TimeUnit.MICROSECONDS.toNanos(100));
        assertEquals(1, scheduler.delayed.size(), "a retry was asked for");
        assertTrue(t.firedAt - t.deadline >= 0 && t.firedAt - t.deadline <= TICK, "fired by the next tick: "
                + (t.firedAt - t.deadline));
        scheduler.delayed.poll().run(); // late and empty: does nothing
        assertEquals(2, t.visits);
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
