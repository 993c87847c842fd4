package io.github.idlereaper;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.idlereaper.doctor.IdleLimit;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The timeout advisor with time pushed in by hand: gaps of known lengths in whole wheel ticks must land in exactly
 * their log₂ buckets, the gaps over the read idle timeout are counted exactly, busy time is not silence, and
 * {@code advise()} turns the record into numbers.
 */
class TimeoutAdvisorTest {

    private static final Logger log = LoggerFactory.getLogger(TimeoutAdvisorTest.class);
    private static final Duration RES = Duration.ofMillis(100);
    /** The wheel's tick: half the resolution. */
    private static final long TICK = RES.toNanos() / 2;

    private final FakeTicker ticker = new FakeTicker();
    private IdleReaper reaper;
    private EmbeddedChannel ch;
    private LoopWheel wheel;

    @AfterEach
    void finish() {
        if (ch != null) {
            ch.finishAndReleaseAll();
        }
    }

    private void open(Consumer<IdleReaper.Builder> config) {
        IdleReaper.Builder b = IdleReaper.builder().tickResolution(RES).ticker(ticker);
        config.accept(b);
        reaper = b.build();
        ch = new EmbeddedChannel();
        ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ReferenceCountUtil.release(msg);
            }
        });
        ch.pipeline().addFirst(IdleReaper.HANDLER_NAME, reaper.newHandler());
        wheel = reaper.core().wheelFor(ch.eventLoop());
        ticker.advanceNanos(TICK / 3);
    }

    /** Moves the clock {@code ticks} whole wheel ticks on, running the wheel at each. */
    private void ticks(int ticks) {
        for (int i = 0; i < ticks; i++) {
            ticker.advanceNanos(TICK);
            wheel.advance(ticker.read());
            ch.runPendingTasks();
        }
    }

    private void send() {
        ch.writeInbound(Unpooled.wrappedBuffer(new byte[] {'m'}));
    }

    @Test
    void gapsOfKnownLengths_landInTheirBuckets_andThoseOverTheReadIdleTimeoutAreCountedExactly() {
        long seed = 20261202L;
        log.info("seed {}", seed);
        Random r = new Random(seed);
        // Read idle 10 s = 200 ticks, in a dry run (the advisor's companion: it reports and closes nothing); gaps from
        // 1 tick to 180, and a few from 210 to 400: never within a tick of it.
        open(b -> b.readIdleTimeout(Duration.ofSeconds(10)).dryRun(true).timeoutAdvisor(true));
        long[] expected = new long[GapHistogram.SLOTS];
        int[] gaps = new int[600];
        send(); // the first message ends the silence since the accept (less than a tick: not recorded)
        for (int i = 0; i < gaps.length; i++) {
            gaps[i] = i % 50 == 7 ? 210 + r.nextInt(190) : 1 + (int) Math.min(179, -40 * Math.log(1 - r.nextDouble()));
            ticks(gaps[i]);
            send();
            expected[32 - Integer.numberOfLeadingZeros(gaps[i])]++;
            if (gaps[i] > 200) {
                expected[0]++;
            }
        }
        assertTrue(ch.isActive(), "a dry run closes nothing");
        assertEquals(12, reaper.stats().wouldReap(ReapReason.READ_IDLE), "the dry run saw the same 12 silences");
        ReaperStats s = reaper.stats();
        assertArrayEquals(expected, s.gapBuckets(), "buckets " + Arrays.toString(s.gapBuckets()));
        assertEquals(gaps.length, s.gaps());
        assertEquals(12, s.gapsOverReadIdle());

        int[] sorted = gaps.clone();
        Arrays.sort(sorted);
        for (double q : new double[] {0.5, 0.9, 0.99, 0.999}) {
            long trueTicks = sorted[(int) Math.ceil(q * sorted.length) - 1];
            double est = s.gapPercentile(q).toNanos() / (double) TICK;
            int bucket = 32 - Integer.numberOfLeadingZeros((int) trueTicks);
            assertTrue(est >= GapHistogram.lower(bucket) && est <= GapHistogram.upper(bucket),
                    "p" + q + ": estimate " + est + " ticks, true " + trueTicks + " (bucket " + bucket + ")");
        }
    }

    @Test
    void gapsWhileBusy_areNotSilences_andTheGapAfterRunsFromTheEndOfTheWork() {
        open(b -> b.readIdleTimeout(Duration.ofSeconds(60)).timeoutAdvisor(true));
        send();
        ticks(5);
        send(); // a 5-tick gap
        IdleReaper.markBusy(ch);
        ticks(300);
        send(); // during work in flight: not a silence the idle timers judge
        ticks(20);
        IdleReaper.markIdle(ch);
        ticks(9);
        send(); // 9 ticks after the end of the work
        long[] g = reaper.stats().gapBuckets();
        long[] expected = new long[GapHistogram.SLOTS];
        expected[3] = 1; // 5 ticks: 4 to 7
        expected[4] = 1; // 9 ticks: 8 to 15
        assertArrayEquals(expected, g, Arrays.toString(g));
    }

    @Test
    void advise_turnsTheRecordIntoNumbers() {
        open(b -> b.readIdleTimeout(Duration.ofSeconds(5)).timeoutAdvisor(true));
        send();
        for (int i = 0; i < 1_000; i++) {
            ticks(i % 100 == 0 ? 90 : 20); // 1 s gaps, and one in a hundred of 4.5 s
            send();
        }
        TimeoutAdvice a = reaper.advise(IdleLimit.AWS_NLB, IdleLimit.AZURE_LB);
        log.info("advice:\n{}", a);
        assertEquals(1_000, a.samples());
        // p99.9 lies in the bucket of 64 to 127 ticks (3.2 to 6.35 s): half again it, rounded up to a whole second.
        double p999 = reaper.stats().gapPercentile(0.999).toNanos() / 1e9;
        assertTrue(p999 >= 3.2 && p999 <= 6.35, p999 + " s");
        double rec = a.recommendedReadIdleTimeout().toNanos() / 1e9;
        assertTrue(rec >= p999 * 1.5 && rec < p999 * 1.5 + 0.1 + 1e-9, rec + " s for p99.9 " + p999 + " s");
        assertEquals(Duration.ofSeconds(200), a.maxHeartbeatInterval(), "85 % of Azure's 240 s, rounded down");
        String text = a.toString();
        assertTrue(text.contains("1,000 gaps between inbound messages on healthy connections"), text);
        assertTrue(text.contains("readIdleTimeout 5.0 s would have closed 0 of them (0.0 %)"), text);
        assertTrue(text.contains("recommended readIdleTimeout ≥ " + TimeoutAdvice.human(a.recommendedReadIdleTimeout())),
                text);
        assertTrue(text.contains("AWS NLB drops flows idle for 350 s: heartbeat interval ≤ 290 s"), text);
        assertTrue(text.contains("no heartbeat is set"), text);
    }

    @Test
    void micrometer_showsTheSameRecord() {
        open(b -> b.readIdleTimeout(Duration.ofSeconds(1)).dryRun(true).timeoutAdvisor(true));
        io.micrometer.core.instrument.simple.SimpleMeterRegistry registry =
                new io.micrometer.core.instrument.simple.SimpleMeterRegistry();
        new IdleReaperMetrics(reaper).bindTo(registry);
        send();
        for (int i = 0; i < 40; i++) {
            ticks(i % 10 == 0 ? 30 : 3); // 30 ticks = 1.5 s: over the 1 s read idle timeout
            send();
        }
        ReaperStats s = reaper.stats();
        assertEquals(40, registry.get("idle.reaper.gaps").functionCounter().count());
        assertEquals(4, registry.get("idle.reaper.gaps.over.read.idle").functionCounter().count());
        assertEquals(s.gapPercentile(0.99).toNanos() / 1e9,
                registry.get("idle.reaper.gap").tag("quantile", "0.99").gauge().value(), 1e-6);
    }

    @Test
    void advise_withNothingRecordedYet_saysSo() {
        open(b -> b.readIdleTimeout(Duration.ofSeconds(5)).timeoutAdvisor(true));
        TimeoutAdvice a = reaper.advise();
        assertEquals(Duration.ZERO, a.recommendedReadIdleTimeout());
        assertTrue(a.toString().contains("nothing to advise yet"), a.toString());
    }

    @Test
    void off_recordsNothing_andAdviseSaysWhatToTurnOn() {
        open(b -> b.readIdleTimeout(Duration.ofSeconds(5)));
        assertNull(wheel.gaps);
        send();
        ticks(10);
        send();
        assertEquals(0, reaper.stats().gaps());
        assertEquals(Duration.ZERO, reaper.stats().gapPercentile(0.99));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> reaper.advise());
        assertEquals("advise() needs the timeout advisor: build the reaper with timeoutAdvisor(true), which records "
                + "the gaps between inbound messages", e.getMessage());
    }

    @Test
    void builderAndStatsRules_haveExactMessages() {
        IllegalStateException twice = assertThrows(IllegalStateException.class,
                () -> IdleReaper.builder().timeoutAdvisor(true).timeoutAdvisor(false));
        assertTrue(twice.getMessage().startsWith("timeoutAdvisor"), twice.getMessage());
        open(b -> b.timeoutAdvisor(true));
        IllegalArgumentException q = assertThrows(IllegalArgumentException.class,
                () -> reaper.stats().gapPercentile(1.5));
        assertEquals("quantile: 1.5 (expected 0 to 1)", q.getMessage());
    }

    @Test
    void histogram_quantileAndTop_onAKnownRecord() {
        long[] g = new long[GapHistogram.SLOTS];
        g[1] = 10; // 1 tick
        g[4] = 80; // 8 to 15
        g[7] = 10; // 64 to 127
        assertEquals(1, GapHistogram.quantileTicks(g, 0.05), 1e-9);
        assertEquals(8 + 0.5 * 7, GapHistogram.quantileTicks(g, 0.5), 1e-9);
        assertEquals(64 + 63, GapHistogram.quantileTicks(g, 1.0), 1e-9);
        assertEquals(7, GapHistogram.topBucket(g));
    }
}
