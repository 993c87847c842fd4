package io.github.idlereaper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.github.idlereaper.protocol.LineHeartbeat;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Layer 3: every heartbeat builder rule, with its exact message. */
class HeartbeatBuilderTest {

    private static final HeartbeatProtocol P = LineHeartbeat.of("PING\n", StandardCharsets.US_ASCII);

    private static void fails(Class<? extends Throwable> type, String message, Executable call) {
        Throwable t = assertThrows(type, call);
        assertEquals(message, t.getMessage());
    }

    private static IdleReaper.Builder b() {
        return IdleReaper.builder();
    }

    @Test
    void heartbeat_singleValues_areCheckedWhenSet() {
        fails(IllegalArgumentException.class, "heartbeat interval must not be negative: PT-1S",
                () -> b().heartbeat(Duration.ofSeconds(-1), Duration.ofSeconds(1), 1, P));
        fails(IllegalArgumentException.class, "heartbeat timeout must not be negative: PT-0.001S",
                () -> b().heartbeat(Duration.ofSeconds(1), Duration.ofMillis(-1), 1, P));
        fails(IllegalArgumentException.class, "heartbeat maxMissed must be between 1 and 7: 0",
                () -> b().heartbeat(Duration.ofSeconds(10), Duration.ofSeconds(1), 0, P));
        fails(IllegalArgumentException.class, "heartbeat maxMissed must be between 1 and 7: 8",
                () -> b().heartbeat(Duration.ofSeconds(10), Duration.ofSeconds(1), 8, P));
        fails(NullPointerException.class, "protocol",
                () -> b().heartbeat(Duration.ofSeconds(10), Duration.ofSeconds(1), 1, null));
        fails(NullPointerException.class, "heartbeat interval",
                () -> b().heartbeat(null, Duration.ofSeconds(1), 1, P));
        fails(IllegalArgumentException.class, "permitPeerPings must not be negative: PT-1S",
                () -> b().permitPeerPings(Duration.ofSeconds(-1)));
    }

    @Test
    void heartbeat_setTwice_isAnIllegalState() {
        fails(IllegalStateException.class, "heartbeat was already set to (interval=PT10S, timeout=PT1S, maxMissed=2, "
                        + "protocol=" + P + ")",
                () -> b().heartbeat(Duration.ofSeconds(10), Duration.ofSeconds(1), 2, P)
                        .heartbeat(Duration.ofSeconds(20), Duration.ofSeconds(1), 2, P));
        fails(IllegalStateException.class, "permitPeerPings was already set to PT5S",
                () -> b().permitPeerPings(Duration.ofSeconds(5)).permitPeerPings(Duration.ofSeconds(6)));
    }

    @Test
    void build_timeoutNotBelowInterval_isRejected() {
        fails(IllegalArgumentException.class, "heartbeat timeout (PT20S) must be less than heartbeat interval (PT15S)",
                () -> b().heartbeat(Duration.ofSeconds(15), Duration.ofSeconds(20), 1, P).build());
        fails(IllegalArgumentException.class, "heartbeat timeout (PT15S) must be less than heartbeat interval (PT15S)",
                () -> b().heartbeat(Duration.ofSeconds(15), Duration.ofSeconds(15), 1, P).build());
        fails(IllegalArgumentException.class, "heartbeat timeout must be positive: PT0S",
                () -> b().heartbeat(Duration.ofSeconds(15), Duration.ZERO, 1, P).build());
    }

    @Test
    void build_boundMustFitInsideTheIdleTimeoutItProtects() {
        fails(IllegalArgumentException.class,
                "heartbeat interval + timeout × maxMissed (PT30S) must not exceed readIdleTimeout (PT20S)",
                () -> b().readIdleTimeout(Duration.ofSeconds(20))
                        .heartbeat(Duration.ofSeconds(15), Duration.ofSeconds(5), 3, P).build());
        fails(IllegalArgumentException.class,
                "heartbeat interval + timeout × maxMissed (PT30S) must not exceed allIdleTimeout (PT29S)",
                () -> b().allIdleTimeout(Duration.ofSeconds(29))
                        .heartbeat(Duration.ofSeconds(15), Duration.ofSeconds(5), 3, P).build());
        // Exactly equal fits; a disabled idle timeout protects nothing; write idle is not protected.
        b().readIdleTimeout(Duration.ofSeconds(30)).heartbeat(Duration.ofSeconds(15), Duration.ofSeconds(5), 3, P)
                .build();
        b().writeIdleTimeout(Duration.ofSeconds(1)).heartbeat(Duration.ofSeconds(15), Duration.ofSeconds(5), 3, P)
                .build();
        IdleReaper r = b().heartbeat(Duration.ofSeconds(15), Duration.ofSeconds(5), 3, P).build();
        fails(IllegalArgumentException.class,
                "heartbeat interval + timeout × maxMissed (PT30S) must not exceed readIdleTimeout (PT10S)",
                () -> r.updateTimeouts(IdleTimeouts.builder().readIdle(Duration.ofSeconds(10)).build()));
    }

    @Test
    void build_heartbeatShorterThanTheTick_isRejected() {
        fails(IllegalArgumentException.class,
                "heartbeat timeout (PT0.05S) must not be shorter than tickResolution (PT0.1S)",
                () -> b().tickResolution(Duration.ofMillis(100))
                        .heartbeat(Duration.ofSeconds(1), Duration.ofMillis(50), 1, P).build());
    }

    @Test
    void build_permitPeerPingsWithoutAProtocol_isAnIllegalState() {
        fails(IllegalStateException.class,
                "permitPeerPings needs a heartbeat protocol to recognise pings: call heartbeat(...)",
                () -> b().permitPeerPings(Duration.ofSeconds(5)).build());
    }

    @Test
    void build_defaultTick_followsTheHeartbeatTimeout() {
        IdleReaper r = b().heartbeat(Duration.ofSeconds(10), Duration.ofSeconds(2), 1, P).build();
        assertEquals(Duration.ofMillis(200), r.tickResolution());
        assertEquals(Duration.ofSeconds(10), r.heartbeat().interval());
        assertEquals(Duration.ofSeconds(12), r.heartbeat().bound());
    }

    @Test
    void protocolOnly_zeroInterval_needsNoTimeoutAndSendsNoPings() {
        IdleReaper r = b().readIdleTimeout(Duration.ofSeconds(1)).heartbeat(Duration.ZERO, Duration.ZERO, 1, P)
                .build();
        assertEquals(false, r.heartbeat().pings());
        assertEquals(Duration.ZERO, r.heartbeat().bound());
    }
}
