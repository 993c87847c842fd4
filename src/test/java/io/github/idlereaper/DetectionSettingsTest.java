package io.github.idlereaper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Layer 3: what the doctor examines, built with the reaper builder's rules and messages, and taken from a reaper. */
class DetectionSettingsTest {

    private static void fails(Class<? extends Throwable> type, String message, Executable call) {
        Throwable t = assertThrows(type, call);
        assertEquals(message, t.getMessage());
    }

    private static Duration ms(long millis) {
        return Duration.ofMillis(millis);
    }

    @Test
    void defaultTick_isTheReaperBuildersTick() {
        for (long readMs : new long[] {0, 50, 99, 100, 150, 1_000, 9_999, 10_000, 10_001, 60_000, 3_600_000}) {
            for (long hbMs : new long[] {0, 100, 2_000, 20_000}) {
                IdleReaper.Builder reaper = IdleReaper.builder().readIdleTimeout(ms(readMs));
                DetectionSettings.Builder doctor = DetectionSettings.builder()
                        .timeouts(IdleTimeouts.builder().readIdle(ms(readMs)).build());
                if (hbMs > 0) {
                    reaper.heartbeat(ms(hbMs * 2), ms(hbMs), 1, ch -> null);
                    doctor.heartbeat(ms(hbMs * 2), ms(hbMs), 1);
                }
                String what = "readIdle " + readMs + "ms, heartbeat timeout " + hbMs + "ms";
                IdleReaper built;
                try {
                    built = reaper.build();
                } catch (IllegalArgumentException e) {
                    // The heartbeat does not fit inside the read idle timeout: a reaper rule, not the doctor's.
                    continue;
                }
                assertEquals(built.tickResolution(), doctor.build().tickResolution(), what);
            }
        }
    }

    @Test
    void fromAReaper_isItsConfiguration() {
        IdleReaper reaper = IdleReaper.builder().readIdleTimeout(Duration.ofSeconds(60))
                .heartbeat(Duration.ofSeconds(20), Duration.ofSeconds(5), 2, ch -> null)
                .tcpKeepAlive(Duration.ofSeconds(30), Duration.ofSeconds(5), 3).tcpUserTimeout(Duration.ZERO)
                .build();
        Heartbeat hb = reaper.heartbeat();
        DetectionSettings s = DetectionSettings.of(reaper.timeouts(), reaper.tickResolution(), hb.interval(),
                hb.timeout(), hb.maxMissed(), reaper.core().kernel().options());
        assertEquals(DetectionSettings.builder().timeouts(reaper.timeouts())
                .heartbeat(Duration.ofSeconds(20), Duration.ofSeconds(5), 2)
                .tcpKeepAlive(Duration.ofSeconds(30), Duration.ofSeconds(5), 3).build(), s);
        assertEquals("DetectionSettings(IdleTimeouts(readIdle=PT1M, writeIdle=PT0S, allIdle=PT0S, writeStall=PT0S), "
                + "tickResolution=PT0.5S, heartbeat=(interval=PT20S, timeout=PT5S, maxMissed=2), "
                + "tcpKeepAlive=(PT30S, PT5S, 3), tcpUserTimeout=unset)", s.toString());
        assertEquals(Duration.ofSeconds(45), s.tcpKeepAliveBound());
        assertEquals(Duration.ZERO, s.tcpUserTimeout());
    }

    @Test
    void nothingSet_isEverythingOff() {
        DetectionSettings s = DetectionSettings.builder().build();
        assertEquals(IdleTimeouts.DISABLED, s.timeouts());
        assertEquals(Duration.ofMillis(100), s.tickResolution(), "the builder's rule with every timer off");
        assertEquals(Duration.ZERO, s.heartbeatInterval());
        assertEquals(Duration.ZERO, s.heartbeatTimeout());
        assertEquals(0, s.heartbeatMaxMissed());
        assertEquals(Duration.ZERO, s.tcpKeepAliveIdle());
        assertEquals(Duration.ZERO, s.tcpKeepAliveInterval());
        assertEquals(0, s.tcpKeepAliveCount());
        assertEquals(Duration.ZERO, s.tcpKeepAliveBound());
        assertEquals(Duration.ZERO, s.tcpUserTimeout());
    }

    @Test
    void values_failWithTheReaperBuildersMessages() {
        fails(IllegalArgumentException.class, "tickResolution must be between PT0.01S and PT1S: PT2S",
                () -> DetectionSettings.builder().tickResolution(Duration.ofSeconds(2)));
        fails(IllegalArgumentException.class, "tcpKeepAlive idle must be between PT1S and PT9H6M7S: PT0S",
                () -> DetectionSettings.builder().tcpKeepAlive(Duration.ZERO, Duration.ofSeconds(1), 2));
        fails(IllegalArgumentException.class, "tcpUserTimeout must not be negative: PT-1S",
                () -> DetectionSettings.builder().tcpUserTimeout(Duration.ofSeconds(-1)));
        fails(IllegalArgumentException.class, "heartbeat maxMissed must be between 1 and 7: 8",
                () -> DetectionSettings.builder().heartbeat(Duration.ofSeconds(10), Duration.ofSeconds(1), 8));
        fails(IllegalArgumentException.class, "heartbeat timeout (PT10S) must be less than heartbeat interval (PT10S)",
                () -> DetectionSettings.builder().heartbeat(Duration.ofSeconds(10), Duration.ofSeconds(10), 3));
        fails(IllegalArgumentException.class, "heartbeat timeout must be positive: PT0S",
                () -> DetectionSettings.builder().heartbeat(Duration.ofSeconds(10), Duration.ZERO, 3));
        fails(NullPointerException.class, "timeouts", () -> DetectionSettings.builder().timeouts(null));
        fails(IllegalArgumentException.class,
                "readIdleTimeout (PT0.05S) must not be shorter than tickResolution (PT0.1S)",
                () -> DetectionSettings.builder().timeouts(IdleTimeouts.builder().readIdle(ms(50)).build())
                        .tickResolution(ms(100)).build());
        fails(IllegalArgumentException.class,
                "heartbeat timeout (PT0.05S) must not be shorter than tickResolution (PT0.1S)",
                () -> DetectionSettings.builder().heartbeat(Duration.ofSeconds(1), ms(50), 1)
                        .tickResolution(ms(100)).build());
    }

    @Test
    void options_areSetOnce() {
        fails(IllegalStateException.class, "tcpUserTimeout was already set to PT0S",
                () -> DetectionSettings.builder().tcpUserTimeout(Duration.ZERO).tcpUserTimeout(Duration.ofSeconds(1)));
        fails(IllegalStateException.class, "tcpKeepAlive was already set to (PT1M, PT10S, 6)",
                () -> DetectionSettings.builder().tcpKeepAlive(Duration.ofSeconds(60), Duration.ofSeconds(10), 6)
                        .tcpKeepAlive(Duration.ofSeconds(1), Duration.ofSeconds(1), 1));
        fails(IllegalStateException.class, "tickResolution was already set to PT0.1S",
                () -> DetectionSettings.builder().tickResolution(ms(100)).tickResolution(ms(200)));
        fails(IllegalStateException.class, "heartbeat was already set to (interval=PT10S, timeout=PT1S, maxMissed=2)",
                () -> DetectionSettings.builder().heartbeat(Duration.ofSeconds(10), Duration.ofSeconds(1), 2)
                        .heartbeat(Duration.ofSeconds(10), Duration.ofSeconds(1), 2));
    }
}
