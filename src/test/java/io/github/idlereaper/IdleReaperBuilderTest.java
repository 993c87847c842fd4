package io.github.idlereaper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Layer 3: every builder rule, with its exact message. */
class IdleReaperBuilderTest {

    private static void fails(Class<? extends Throwable> type, String message, Executable call) {
        Throwable t = assertThrows(type, call);
        assertEquals(message, t.getMessage());
    }

    @Test
    void timeouts_negative_isRejectedWithTheOptionAndValue() {
        fails(IllegalArgumentException.class, "readIdleTimeout must not be negative: PT-1S",
                () -> IdleReaper.builder().readIdleTimeout(Duration.ofSeconds(-1)));
        fails(IllegalArgumentException.class, "writeIdleTimeout must not be negative: PT-0.001S",
                () -> IdleReaper.builder().writeIdleTimeout(Duration.ofMillis(-1)));
        fails(IllegalArgumentException.class, "allIdleTimeout must not be negative: PT-1M",
                () -> IdleReaper.builder().allIdleTimeout(Duration.ofMinutes(-1)));
        fails(IllegalArgumentException.class, "writeStallTimeout must not be negative: PT-2S",
                () -> IdleReaper.builder().writeStallTimeout(Duration.ofSeconds(-2)));
    }

    @Test
    void timeouts_tooLong_isRejected() {
        fails(IllegalArgumentException.class, "readIdleTimeout must be at most PT720H: PT744H",
                () -> IdleReaper.builder().readIdleTimeout(Duration.ofDays(31)));
    }

    @Test
    void timeouts_null_namesTheParameter() {
        fails(NullPointerException.class, "readIdleTimeout", () -> IdleReaper.builder().readIdleTimeout(null));
        fails(NullPointerException.class, "writeStallTimeout",
                () -> IdleReaper.builder().writeStallTimeout(null));
        fails(NullPointerException.class, "listener", () -> IdleReaper.builder().listener(null));
        fails(NullPointerException.class, "ticker", () -> IdleReaper.builder().ticker(null));
        fails(NullPointerException.class, "tickResolution", () -> IdleReaper.builder().tickResolution(null));
    }

    @Test
    void options_setTwice_isAnIllegalState() {
        fails(IllegalStateException.class, "readIdleTimeout was already set to PT1S",
                () -> IdleReaper.builder().readIdleTimeout(Duration.ofSeconds(1))
                        .readIdleTimeout(Duration.ofSeconds(2)));
        fails(IllegalStateException.class, "tickResolution was already set to PT0.1S",
                () -> IdleReaper.builder().tickResolution(Duration.ofMillis(100))
                        .tickResolution(Duration.ofMillis(200)));
        fails(IllegalStateException.class, "goodbyeTimeout was already set to PT2S",
                () -> IdleReaper.builder().goodbyeTimeout(Duration.ofSeconds(2)).goodbyeTimeout(Duration.ZERO));
        fails(IllegalStateException.class, "resetOnReap was already set to true",
                () -> IdleReaper.builder().resetOnReap(true).resetOnReap(false));
    }

    @Test
    void tickResolution_outsideItsRange_isRejected() {
        fails(IllegalArgumentException.class, "tickResolution must be between PT0.01S and PT1S: PT0.005S",
                () -> IdleReaper.builder().tickResolution(Duration.ofMillis(5)));
        fails(IllegalArgumentException.class, "tickResolution must be between PT0.01S and PT1S: PT2S",
                () -> IdleReaper.builder().tickResolution(Duration.ofSeconds(2)));
    }

    @Test
    void goodbyeTimeout_outsideItsRange_isRejected() {
        fails(IllegalArgumentException.class, "goodbyeTimeout must be between PT0S and PT1M: PT2M",
                () -> IdleReaper.builder().goodbyeTimeout(Duration.ofMinutes(2)));
        fails(IllegalArgumentException.class, "goodbyeTimeout must be between PT0S and PT1M: PT-1S",
                () -> IdleReaper.builder().goodbyeTimeout(Duration.ofSeconds(-1)));
    }

    @Test
    void build_timeoutShorterThanTheTick_isRejected() {
        fails(IllegalArgumentException.class,
                "writeStallTimeout (PT0.05S) must not be shorter than tickResolution (PT0.1S)",
                () -> IdleReaper.builder().writeStallTimeout(Duration.ofMillis(50))
                        .tickResolution(Duration.ofMillis(100)).build());
        fails(IllegalArgumentException.class,
                "readIdleTimeout (PT0.005S) must not be shorter than tickResolution (PT0.01S)",
                () -> IdleReaper.builder().readIdleTimeout(Duration.ofMillis(5)).build());
    }

    @Test
    void tickResolution_default_isATenthOfTheSmallestTimeoutWithinBounds() {
        assertEquals(Duration.ofMillis(100), IdleReaper.builder().build().tickResolution(),
                "every timer off: fine enough for the updateTimeouts that the INFO line suggests");
        assertEquals(Duration.ofSeconds(1),
                IdleReaper.builder().readIdleTimeout(Duration.ofMinutes(5)).build().tickResolution());
        assertEquals(Duration.ofMillis(300), IdleReaper.builder().readIdleTimeout(Duration.ofMinutes(5))
                .writeStallTimeout(Duration.ofSeconds(3)).build().tickResolution());
        assertEquals(Duration.ofMillis(10),
                IdleReaper.builder().allIdleTimeout(Duration.ofMillis(50)).build().tickResolution());
    }

    @Test
    void everyTimerOff_thenUpdateTimeoutsToHalfASecond_isAccepted() {
        IdleReaper r = IdleReaper.builder().build();
        r.updateTimeouts(IdleTimeouts.builder().readIdle(Duration.ofMillis(500)).build());
        assertEquals(Duration.ofMillis(500), r.timeouts().readIdle());
        fails(IllegalArgumentException.class,
                "readIdleTimeout (PT0.05S) must not be shorter than tickResolution (PT0.1S)",
                () -> r.updateTimeouts(IdleTimeouts.builder().readIdle(Duration.ofMillis(50)).build()));
    }

    @Test
    void build_keepsTheValues() {
        IdleReaper r = IdleReaper.builder().readIdleTimeout(Duration.ofSeconds(60))
                .writeIdleTimeout(Duration.ofSeconds(70)).allIdleTimeout(Duration.ofSeconds(80))
                .writeStallTimeout(Duration.ofSeconds(30)).goodbyeTimeout(Duration.ofMillis(500)).build();
        IdleTimeouts t = r.timeouts();
        assertEquals(Duration.ofSeconds(60), t.readIdle());
        assertEquals(Duration.ofSeconds(70), t.writeIdle());
        assertEquals(Duration.ofSeconds(80), t.allIdle());
        assertEquals(Duration.ofSeconds(30), t.writeStall());
        assertEquals(Duration.ofMillis(500), r.goodbyeTimeout());
        assertEquals(t, t.toBuilder().build());
        assertEquals(t.hashCode(), t.toBuilder().build().hashCode());
    }

    @Test
    void updateTimeouts_checksTheTickRule() {
        IdleReaper r = IdleReaper.builder().readIdleTimeout(Duration.ofSeconds(10)).build();
        fails(IllegalArgumentException.class,
                "readIdleTimeout (PT0.5S) must not be shorter than tickResolution (PT1S)",
                () -> r.updateTimeouts(IdleTimeouts.builder().readIdle(Duration.ofMillis(500)).build()));
        fails(NullPointerException.class, "timeouts", () -> r.updateTimeouts(null));
        assertEquals(Duration.ofSeconds(10), r.timeouts().readIdle(), "a rejected update changes nothing");
    }
}
