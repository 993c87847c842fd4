package io.github.idlereaper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Layer 3: every rule of tcpKeepAlive and tcpUserTimeout, with its exact message, and the kernel bounds. */
class TcpOptionsBuilderTest {

    private static void fails(Class<? extends Throwable> type, String message, Executable call) {
        Throwable t = assertThrows(type, call);
        assertEquals(message, t.getMessage());
    }

    private static Duration s(long seconds) {
        return Duration.ofSeconds(seconds);
    }

    @Test
    void tcpKeepAlive_notWholeSeconds_isRejected() {
        fails(IllegalArgumentException.class, "tcpKeepAlive idle must be whole seconds: PT1.5S",
                () -> IdleReaper.builder().tcpKeepAlive(Duration.ofMillis(1500), s(1), 2));
        fails(IllegalArgumentException.class, "tcpKeepAlive interval must be whole seconds: PT0.5S",
                () -> IdleReaper.builder().tcpKeepAlive(s(1), Duration.ofMillis(500), 2));
    }

    @Test
    void tcpKeepAlive_outsideLinuxRange_isRejected() {
        fails(IllegalArgumentException.class, "tcpKeepAlive idle must be between PT1S and PT9H6M7S: PT0S",
                () -> IdleReaper.builder().tcpKeepAlive(Duration.ZERO, s(1), 2));
        fails(IllegalArgumentException.class, "tcpKeepAlive idle must be between PT1S and PT9H6M7S: PT9H6M8S",
                () -> IdleReaper.builder().tcpKeepAlive(s(32768), s(1), 2));
        fails(IllegalArgumentException.class, "tcpKeepAlive idle must be between PT1S and PT9H6M7S: PT-1S",
                () -> IdleReaper.builder().tcpKeepAlive(s(-1), s(1), 2));
        fails(IllegalArgumentException.class, "tcpKeepAlive interval must be between PT1S and PT9H6M7S: PT0S",
                () -> IdleReaper.builder().tcpKeepAlive(s(1), Duration.ZERO, 2));
        fails(IllegalArgumentException.class, "tcpKeepAlive interval must be between PT1S and PT9H6M7S: PT9H6M8S",
                () -> IdleReaper.builder().tcpKeepAlive(s(1), s(32768), 2));
        fails(IllegalArgumentException.class, "tcpKeepAlive count must be between 1 and 127: 0",
                () -> IdleReaper.builder().tcpKeepAlive(s(1), s(1), 0));
        fails(IllegalArgumentException.class, "tcpKeepAlive count must be between 1 and 127: 128",
                () -> IdleReaper.builder().tcpKeepAlive(s(1), s(1), 128));
    }

    @Test
    void tcpKeepAlive_rangeEnds_areAccepted() {
        IdleReaper.builder().tcpKeepAlive(s(1), s(1), 1).build();
        IdleReaper.builder().tcpKeepAlive(s(32767), s(32767), 127).build();
    }

    @Test
    void tcpKeepAlive_null_namesTheParameter() {
        fails(NullPointerException.class, "tcpKeepAlive idle",
                () -> IdleReaper.builder().tcpKeepAlive(null, s(1), 2));
        fails(NullPointerException.class, "tcpKeepAlive interval",
                () -> IdleReaper.builder().tcpKeepAlive(s(1), null, 2));
        fails(NullPointerException.class, "tcpUserTimeout", () -> IdleReaper.builder().tcpUserTimeout(null));
    }

    @Test
    void tcpUserTimeout_negative_isRejected() {
        fails(IllegalArgumentException.class, "tcpUserTimeout must not be negative: PT-1S",
                () -> IdleReaper.builder().tcpUserTimeout(s(-1)));
        fails(IllegalArgumentException.class, "tcpUserTimeout must not be negative: PT-0.001S",
                () -> IdleReaper.builder().tcpUserTimeout(Duration.ofMillis(-1)));
    }

    @Test
    void tcpUserTimeout_zero_meansNotSet_andCountsAsGiven() {
        IdleReaper reaper = IdleReaper.builder().tcpUserTimeout(Duration.ZERO).build();
        KernelOptions k = reaper.core().kernel().options();
        assertFalse(k.any());
        assertFalse(k.hasUserTimeout());
        assertEquals(Duration.ZERO, k.deadPeerLimit());
        assertEquals("KernelOptions(tcpKeepAlive=unset, tcpUserTimeout=unset)", k.toString());
        // With keepalive, zero leaves the probe count in charge: the bound is idle + interval × count.
        assertEquals(s(3), IdleReaper.builder().tcpKeepAlive(s(1), s(1), 2).tcpUserTimeout(Duration.ZERO).build()
                .core().kernel().deadPeerLimit());
        // Like every option, it is given once: zero too.
        fails(IllegalStateException.class, "tcpUserTimeout was already set to PT0S",
                () -> IdleReaper.builder().tcpUserTimeout(Duration.ZERO).tcpUserTimeout(s(3)));
    }

    @Test
    void tcpUserTimeout_notWholeMillis_isRejected() {
        fails(IllegalArgumentException.class, "tcpUserTimeout must be whole milliseconds: PT0.0005S",
                () -> IdleReaper.builder().tcpUserTimeout(Duration.ofNanos(500_000)));
        fails(IllegalArgumentException.class, "tcpUserTimeout must be whole milliseconds: PT1.0000001S",
                () -> IdleReaper.builder().tcpUserTimeout(Duration.ofNanos(1_000_000_100)));
    }

    @Test
    void tcpUserTimeout_aboveADay_isRejected() {
        fails(IllegalArgumentException.class, "tcpUserTimeout must be at most PT24H: PT24H0.001S",
                () -> IdleReaper.builder().tcpUserTimeout(Duration.ofHours(24).plusMillis(1)));
        IdleReaper.builder().tcpUserTimeout(Duration.ofHours(24)).build();
        IdleReaper.builder().tcpUserTimeout(Duration.ofMillis(1)).build();
    }

    @Test
    void tcpOptions_setTwice_isAnIllegalState() {
        fails(IllegalStateException.class, "tcpKeepAlive was already set to (PT1M, PT10S, 6)",
                () -> IdleReaper.builder().tcpKeepAlive(s(60), s(10), 6).tcpKeepAlive(s(1), s(1), 2));
        fails(IllegalStateException.class, "tcpUserTimeout was already set to PT2S",
                () -> IdleReaper.builder().tcpUserTimeout(s(2)).tcpUserTimeout(s(3)));
    }

    @Test
    void tcpOptions_failedCall_leavesTheOptionUnset() {
        IdleReaper.Builder b = IdleReaper.builder();
        assertThrows(IllegalArgumentException.class, () -> b.tcpKeepAlive(s(1), s(1), 0));
        b.tcpKeepAlive(s(1), s(1), 2);
        assertThrows(IllegalArgumentException.class, () -> b.tcpUserTimeout(s(-1)));
        b.tcpUserTimeout(s(2));
        KernelOptions k = b.build().core().kernel().options();
        assertEquals("KernelOptions(tcpKeepAlive=(PT1S, PT1S, 2), tcpUserTimeout=PT2S)", k.toString());
    }

    @Test
    void kernelOptions_default_setsNothing() {
        KernelOptions k = IdleReaper.builder().build().core().kernel().options();
        assertFalse(k.any());
        assertEquals(Duration.ZERO, k.deadPeerLimit());
        assertTrue(KernelOptions.NONE.withUserTimeout(s(1)).any());
    }

    @Test
    void keepAliveBound_withoutUserTimeout_isIdlePlusIntervalTimesCount() {
        assertEquals(3_000, KernelOptions.keepAliveBoundMillis(1_000, 1_000, 2, 0));
        assertEquals(7_200_000 + 75_000 * 9, KernelOptions.keepAliveBoundMillis(7_200_000, 75_000, 9, 0));
    }

    @Test
    void keepAliveBound_withUserTimeout_isTheFirstProbeFiringPastIt() {
        // Firings at 60, 70, 80, ...; the first at or past 75 s, after at least one probe, gives up.
        assertEquals(80_000, KernelOptions.keepAliveBoundMillis(60_000, 10_000, 6, 75_000));
        // A user timeout shorter than idle still waits for one probe and one more firing.
        assertEquals(70_000, KernelOptions.keepAliveBoundMillis(60_000, 10_000, 6, 5_000));
        // 1 s / 1 s with a 2 s user timeout: the firing at 2 s gives up (the count no longer matters).
        assertEquals(2_000, KernelOptions.keepAliveBoundMillis(1_000, 1_000, 9, 2_000));
    }

    @Test
    void deadPeerLimit_isTheLongerKernelBound() {
        assertEquals(s(3), KernelOptions.NONE.withKeepAlive(s(1), s(1), 2).deadPeerLimit());
        assertEquals(s(2), KernelOptions.NONE.withUserTimeout(s(2)).deadPeerLimit());
        assertEquals(s(80), KernelOptions.NONE.withKeepAlive(s(60), s(10), 6).withUserTimeout(s(75))
                .deadPeerLimit());
        assertEquals(s(120), KernelOptions.NONE.withKeepAlive(s(1), s(1), 2).withUserTimeout(s(120))
                .deadPeerLimit());
    }

    private static final String SHORTER_THAN_STALL = "tcpUserTimeout (PT2S) is shorter than writeStallTimeout (PT3S): "
            + "Linux applies TCP_USER_TIMEOUT to a closed receive window too, so it would drop a slow reader before "
            + "the stall timer, which measures the reader's progress, could judge it; set tcpUserTimeout to at "
            + "least writeStallTimeout (docs/tcp-keepalive.md)";

    @Test
    void userTimeoutShorterThanWriteStall_failsAtBuild_updateAndOverride() {
        fails(IllegalArgumentException.class, SHORTER_THAN_STALL, () -> IdleReaper.builder()
                .writeStallTimeout(s(3)).tcpUserTimeout(s(2)).build());
        // Equal, longer, either one disabled: allowed.
        IdleReaper.builder().writeStallTimeout(s(3)).tcpUserTimeout(s(3)).build();
        IdleReaper.builder().writeStallTimeout(s(3)).tcpUserTimeout(s(4)).build();
        IdleReaper.builder().writeStallTimeout(s(3)).tcpUserTimeout(Duration.ZERO).build();
        IdleReaper reaper = IdleReaper.builder().tcpUserTimeout(s(2)).build();
        fails(IllegalArgumentException.class, SHORTER_THAN_STALL,
                () -> reaper.updateTimeouts(IdleTimeouts.builder().writeStall(s(3)).build()));
        reaper.updateTimeouts(IdleTimeouts.builder().writeStall(s(2)).build());
        io.netty.channel.embedded.EmbeddedChannel ch = new io.netty.channel.embedded.EmbeddedChannel(
                reaper.newHandler());
        try {
            fails(IllegalArgumentException.class, SHORTER_THAN_STALL, () -> IdleReaper.overrideTimeouts(ch,
                    IdleTimeouts.builder().writeStall(s(3)).build()));
        } finally {
            ch.finishAndReleaseAll();
        }
    }
}
