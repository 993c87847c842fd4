package io.github.idlereaper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The connection cap's choice of victim on one wheel with time pushed in by hand ({@link LoopWheel#mostIdle}): the
 * idlest of the entries the wheel visits next, never a busy one or one idle for less than the minimum, at a cost that
 * does not grow with the wheel; and the builder's rules with their exact messages. The cap on real channels is
 * {@link ConnectionCapLoopbackTest}.
 */
class ConnectionCapTest {

    private static final long TICK = TimeUnit.MILLISECONDS.toNanos(50);
    private static final long SECOND = TimeUnit.SECONDS.toNanos(1);

    private final FakeTicker ticker = new FakeTicker();
    private final ManualScheduler scheduler = new ManualScheduler();
    private final LoopWheel wheel = new LoopWheel(ticker, scheduler, TICK, TimeUnit.MILLISECONDS.toNanos(1), null);
    private int looked;

    /** An entry with a fixed moment of last activity, visited at its deadline; evictable unless busy. */
    private final class Conn extends WheelEntry {
        final long lastActivity;
        final boolean busy;

        Conn(long lastActivity, boolean busy) {
            this.lastActivity = lastActivity;
            this.busy = busy;
        }

        @Override
        long expire(LoopWheel w, long now) {
            return Long.MAX_VALUE;
        }

        @Override
        long evictableIdle(LoopWheel w, long now) {
            looked++;
            return busy ? -1 : now - lastActivity;
        }
    }

    private Conn add(long lastActivity, long deadline, boolean busy) {
        Conn c = new Conn(lastActivity, busy);
        wheel.register(c, deadline);
        return c;
    }

    @Test
    void mostIdle_isTheIdlestOfThoseVisitedNext_neverBusy_neverUnderTheMinimum() {
        ticker.advanceNanos(10 * SECOND);
        long now = ticker.read();
        // Visited in 1, 2 and 3 s; idle 9, 7 and 9.5 s, the last busy; one more far ahead, idle longest of all but
        // behind them in the wheel's order only if the scan stopped early (it does not: few entries).
        add(now - 9 * SECOND, now + SECOND, false);
        Conn seven = add(now - 7 * SECOND, now + 2 * SECOND, false);
        add(now - (long) (9.5 * SECOND), now + 3 * SECOND, true);
        Conn far = add(now - 10 * SECOND, now + 20 * SECOND, false);
        assertSame(far, wheel.mostIdle(now, SECOND), "the idlest of the few the wheel holds");
        wheel.unregister(far);
        Conn nine = (Conn) wheel.mostIdle(now, SECOND);
        assertEquals(9 * SECOND, now - nine.lastActivity, "the busy one, idle longer, is never chosen");
        wheel.unregister(nine);
        assertSame(seven, wheel.mostIdle(now, SECOND));
        assertNull(wheel.mostIdle(now, 8 * SECOND), "none idle for the minimum");
    }

    @Test
    void mostIdle_looksAtNoMoreThan64Entries_at10and100000() {
        long seed = 42;
        System.out.println("ConnectionCapTest seed " + seed);
        for (int n : new int[] {10, 100_000}) {
            LoopWheel w = new LoopWheel(ticker, scheduler, TICK, TimeUnit.MILLISECONDS.toNanos(1), null);
            Random r = new Random(seed);
            long now = ticker.read();
            for (int i = 0; i < n; i++) {
                long idle = SECOND + r.nextInt(1000) * TICK;
                Conn c = new Conn(now - idle, false);
                // Placed by deadline (an idle limit of 60 s from the last activity), as the reaper places them.
                w.register(c, now - idle + 60 * SECOND);
            }
            looked = 0;
            WheelEntry best = w.mostIdle(now, SECOND);
            assertTrue(best != null, "a victim among " + n);
            assertTrue(looked <= LoopWheel.EVICT_SCAN, n + " entries: looked at " + looked);
            assertEquals(Math.min(n, LoopWheel.EVICT_SCAN), looked, "looked at every entry up to the bound");
            // The wheel visits the nearest deadlines first: with one idle limit, those idle longest.
            long bestIdle = now - ((Conn) best).lastActivity;
            if (n == 100_000) {
                assertTrue(bestIdle >= SECOND + 990 * TICK, "idle " + bestIdle / 1e9 + " s, not among the idlest");
            }
        }
    }

    @Test
    void builder_rulesAndMessages() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> IdleReaper.builder().maxConnections(-1, CapPolicy.REJECT));
        assertEquals("maxConnections must be between 0 and 2147483647: -1", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> IdleReaper.builder().maxConnectionsPerAddress(-5));
        assertEquals("maxConnectionsPerAddress must be between 0 and 2147483647: -5", e.getMessage());
        NullPointerException npe = assertThrows(NullPointerException.class,
                () -> IdleReaper.builder().maxConnections(10, null));
        assertEquals("policy", npe.getMessage());
        IllegalStateException twice = assertThrows(IllegalStateException.class,
                () -> IdleReaper.builder().maxConnections(10, CapPolicy.EVICT_IDLEST).maxConnections(5,
                        CapPolicy.REJECT));
        assertEquals("maxConnections was already set to 10, EVICT_IDLEST", twice.getMessage());
        twice = assertThrows(IllegalStateException.class,
                () -> IdleReaper.builder().maxConnectionsPerAddress(3).maxConnectionsPerAddress(4));
        assertEquals("maxConnectionsPerAddress was already set to 3", twice.getMessage());
        // Zero is off: no cap at all.
        assertNull(IdleReaper.builder().maxConnections(0, CapPolicy.REJECT).build().core().cap());
        ConnectionCap cap = IdleReaper.builder().maxConnectionsPerAddress(2).build().core().cap();
        assertEquals(0, cap.max);
        assertEquals(2, cap.perAddress);
        assertEquals(CapPolicy.REJECT, cap.policy);
        assertEquals(Duration.ZERO, IdleReaper.builder().maxConnections(1, CapPolicy.EVICT_IDLEST).build().timeouts()
                .readIdle());
    }

    @Test
    void events_sayWhatDecided() {
        assertEquals("rejected: 5 open at maxConnections 5", ReapEvent.rejected(5, 5, false, false).message());
        assertEquals("rejected: 2 open from its address at maxConnectionsPerAddress 2",
                ReapEvent.rejected(2, 2, true, false).message());
        assertTrue(ReapEvent.rejected(2, 2, true, false).asDryRun().dryRun());
        assertEquals("evicted after 1500ms idle: 5 open at maxConnections 5",
                new ReapEvent(ReapReason.EVICTED, 1_500_000_000L, 0, 5, 5).message());
    }
}
