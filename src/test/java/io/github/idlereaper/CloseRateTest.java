package io.github.idlereaper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The close rate on one wheel with time pushed in by hand: a burst of closes due at once is let go at the rate, in
 * the order it was held, never faster; closes that cannot wait pass at once; an entry that is no longer due when
 * its turn comes gives its turn up.
 */
class CloseRateTest {

    private static final long TICK = TimeUnit.MILLISECONDS.toNanos(50);
    private static final long SLICE = TimeUnit.MILLISECONDS.toNanos(1);
    private static final long SECOND = TimeUnit.SECONDS.toNanos(1);

    private final FakeTicker ticker = new FakeTicker();
    private final ManualScheduler scheduler = new ManualScheduler();
    private final long origin = ticker.read();
    private final LoopWheel wheel = new LoopWheel(ticker, scheduler, TICK, SLICE, null);
    private final List<Long> closes = new ArrayList<>();
    private final List<Integer> order = new ArrayList<>();

    /** Due at a deadline; closes through the rate unless it is {@code urgent}. */
    private final class Conn extends WheelEntry {
        final int id;
        final long deadline;
        final boolean urgent;
        boolean stillDue = true;

        Conn(int id, long deadline, boolean urgent) {
            this.id = id;
            this.deadline = deadline;
            this.urgent = urgent;
        }

        @Override
        long expire(LoopWheel w, long now) {
            if (now - deadline < 0) {
                return deadline;
            }
            if (!stillDue) {
                return Long.MAX_VALUE;
            }
            if (!urgent && !w.takeCloseToken(now)) {
                return LoopWheel.HOLD;
            }
            closes.add(now - origin);
            order.add(id);
            w.countClose();
            w.unregister(this);
            return LoopWheel.DETACH;
        }
    }

    private void runFor(long nanos) {
        long end = ticker.read() + nanos;
        long next = origin + (Math.floorDiv(ticker.read() - origin, TICK) + 1) * TICK;
        while (next <= end) {
            ticker.advanceNanos(next - ticker.read());
            wheel.advance(ticker.read());
            // The loop runs the wheel's continuations (slices) between its passes of I/O.
            while (scheduler.runQueued() > 0) {
                // drained
            }
            next += TICK;
        }
    }

    /** The most closes in any window of {@code window} nanos. */
    private int mostIn(long window) {
        int most = 0;
        int j = 0;
        for (int i = 0; i < closes.size(); i++) {
            while (closes.get(i) - closes.get(j) >= window) {
                j++;
            }
            most = Math.max(most, i - j + 1);
        }
        return most;
    }

    @Test
    void aBurstDueAtOnce_closesAtTheRate_inOrder_neverFaster() {
        wheel.closeRate(1_000, 20);
        int n = 10_000;
        long due = origin + SECOND;
        for (int i = 0; i < n; i++) {
            wheel.register(new Conn(i, due, false), due);
        }
        runFor(15 * SECOND);
        assertEquals(n, closes.size(), "every one closed");
        // At most the burst plus a second's worth in any second, and never more than a tick's worth plus the burst
        // in a tick.
        assertTrue(mostIn(SECOND) <= 1_000 + 21, "per second: " + mostIn(SECOND));
        assertTrue(mostIn(TICK) <= 50 + 21, "per tick: " + mostIn(TICK));
        long last = closes.get(n - 1);
        assertTrue(last >= SECOND + (n - 21) * (SECOND / 1_000) - TICK, "not faster than the rate: " + last);
        assertTrue(last <= SECOND + n * (SECOND / 1_000) + 2 * TICK, "as soon as the rate allows: " + last);
        for (int i = 0; i < n; i++) {
            assertEquals(i, order.get(i), "first held, first let go");
        }
        assertTrue(wheel.heldBack() >= n - 100, "held back: " + wheel.heldBack());
    }

    @Test
    void closesThatCannotWait_passAtOnce_evenBehindAQueue() {
        wheel.closeRate(10, 1);
        long due = origin + SECOND;
        for (int i = 0; i < 50; i++) {
            wheel.register(new Conn(i, due, false), due);
        }
        Conn urgent = new Conn(999, due + SECOND / 2, true);
        wheel.register(urgent, urgent.deadline);
        runFor(2 * SECOND);
        assertTrue(order.contains(999), "the urgent close went through");
        long at = closes.get(order.indexOf(999));
        assertTrue(at <= SECOND + SECOND / 2 + TICK, "at once: " + at);
        assertTrue(closes.size() < 30, "the others wait for the rate: " + closes.size());
    }

    @Test
    void withoutARate_everyCloseIsAtOnce() {
        int n = 2_000;
        long due = origin + SECOND;
        for (int i = 0; i < n; i++) {
            wheel.register(new Conn(i, due, false), due);
        }
        runFor(2 * SECOND);
        assertEquals(n, closes.size());
        assertEquals(0, wheel.heldBack());
        assertTrue(closes.get(n - 1) <= SECOND + TICK, "all within a tick: " + closes.get(n - 1));
    }

    @Test
    void anEntryNoLongerDueAtItsTurn_givesItUp_andStaysOpen() {
        wheel.closeRate(10, 1);
        long due = origin + SECOND;
        List<Conn> conns = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            Conn c = new Conn(i, due, false);
            conns.add(c);
            wheel.register(c, due);
        }
        runFor(SECOND + TICK);
        conns.forEach(c -> c.stillDue = false); // in use again while they waited
        runFor(3 * SECOND);
        assertTrue(closes.size() <= 3, "only those let go before: " + closes.size());
    }
}
