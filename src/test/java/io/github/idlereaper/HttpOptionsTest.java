package io.github.idlereaper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The HTTP layer's options: each value checked when set, the rules in build(), with the exact messages. */
class HttpOptionsTest {

    private static String message(Class<? extends Throwable> type, org.junit.jupiter.api.function.Executable e) {
        return assertThrows(type, e).getMessage();
    }

    @Test
    void negativeTimeouts_areRefusedWhenSet() {
        assertEquals("keepAliveTimeout must not be negative: PT-1S", message(IllegalArgumentException.class,
                () -> IdleReaper.builder().keepAliveTimeout(Duration.ofSeconds(-1))));
        assertEquals("requestHeaderTimeout must not be negative: PT-1S", message(IllegalArgumentException.class,
                () -> IdleReaper.builder().requestHeaderTimeout(Duration.ofSeconds(-1))));
        assertEquals("requestBodyTimeout must not be negative: PT-1S", message(IllegalArgumentException.class,
                () -> IdleReaper.builder().requestBodyTimeout(Duration.ofSeconds(-1))));
    }

    @Test
    void timeoutsOver30Days_areRefusedWhenSet() {
        assertEquals("keepAliveTimeout must be at most PT720H: PT720H0.001S", message(IllegalArgumentException.class,
                () -> IdleReaper.builder().keepAliveTimeout(Duration.ofDays(30).plusMillis(1))));
    }

    @Test
    void nullTimeouts_nameTheOption() {
        assertEquals("requestBodyTimeout", message(NullPointerException.class,
                () -> IdleReaper.builder().requestBodyTimeout(null)));
    }

    @Test
    void maxRequests_negativeIsRefused() {
        assertEquals("maxRequestsPerConnection must be between 0 and 2147483647: -1",
                message(IllegalArgumentException.class, () -> IdleReaper.builder().maxRequestsPerConnection(-1)));
    }

    @Test
    void eachOption_isSetOnce() {
        assertEquals("keepAliveTimeout was already set to PT5S", message(IllegalStateException.class,
                () -> IdleReaper.builder().keepAliveTimeout(Duration.ofSeconds(5)).keepAliveTimeout(Duration.ZERO)));
        assertEquals("maxRequestsPerConnection was already set to 10", message(IllegalStateException.class,
                () -> IdleReaper.builder().maxRequestsPerConnection(10).maxRequestsPerConnection(2)));
    }

    @Test
    void aTimeoutShorterThanTheTick_failsAtBuild() {
        assertEquals("requestHeaderTimeout (PT0.005S) must not be shorter than tickResolution (PT0.01S)",
                message(IllegalArgumentException.class, () -> IdleReaper.builder()
                        .tickResolution(Duration.ofMillis(10)).requestHeaderTimeout(Duration.ofMillis(5)).build()));
    }

    @Test
    void theDefaultTick_takesTheHttpTimeoutsIntoAccount() {
        assertEquals(Duration.ofMillis(50),
                IdleReaper.builder().keepAliveTimeout(Duration.ofMillis(500)).build().tickResolution());
        // http() alone: the smallest default is 60 s, so the tick is the 1 s ceiling.
        assertEquals(Duration.ofSeconds(1), IdleReaper.builder().http().build().tickResolution());
    }
}
