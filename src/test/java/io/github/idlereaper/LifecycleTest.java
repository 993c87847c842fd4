package io.github.idlereaper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The lifecycle layer with time pushed in by hand: the half-close timeout (alone, next to the idle timers, with work
 * in flight and outbound writes) and the dry run (reported once per idle episode, nothing closed), plus the builder
 * rules with their exact messages.
 */
class LifecycleTest {

    private static final Duration RES = Duration.ofMillis(100);
    private static final long STEP = RES.toNanos() / 2;
    private static final long MS = 1_000_000L;

    private final FakeTicker ticker = new FakeTicker();
    private final List<ReapEvent> reaps = new ArrayList<>();
    private final List<Long> reapTimes = new ArrayList<>();
    private final List<ReapEvent> pipelineEvents = new ArrayList<>();
    private IdleReaper reaper;
    private EmbeddedChannel ch;
    private LoopWheel wheel;
    private long start;

    private void open(Consumer<IdleReaper.Builder> config) {
        IdleReaper.Builder b = IdleReaper.builder().tickResolution(RES).ticker(ticker).goodbyeTimeout(Duration.ZERO)
                .listener((c, e) -> {
                    reaps.add(e);
                    reapTimes.add(ticker.read() - start);
                });
        config.accept(b);
        reaper = b.build();
        ch = new EmbeddedChannel();
        ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ReferenceCountUtil.release(msg);
            }

            @Override
            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                if (evt instanceof ReapEvent) {
                    pipelineEvents.add((ReapEvent) evt);
                }
            }
        });
        io.netty.channel.ChannelHandler h = reaper.newHandler();
        ch.pipeline().addFirst(IdleReaper.HANDLER_NAME, h);
        wheel = reaper.core().wheelFor(ch.eventLoop());
        ticker.advanceNanos(STEP / 3);
        start = ticker.read();
    }

    @AfterEach
    void finish() {
        if (ch != null) {
            ch.finishAndReleaseAll();
        }
    }

    /** Advances one wheel tick at a time; {@code each} runs after each tick, with the time since the start in ms. */
    private void advance(Duration d, java.util.function.LongConsumer each) {
        long end = ticker.read() + d.toNanos();
        long next = (Math.floorDiv(ticker.read(), STEP) + 1) * STEP;
        while (next <= end && ch.isActive()) {
            ticker.advanceNanos(next - ticker.read());
            next += STEP;
            wheel.advance(ticker.read());
            ch.runPendingTasks();
            Object m;
            while ((m = ch.readOutbound()) != null) {
                ReferenceCountUtil.release(m);
            }
            if (ch.isActive()) {
                each.accept((ticker.read() - start) / MS);
            }
        }
    }

    private void advance(Duration d) {
        advance(d, t -> { });
    }

    private void send(String text) {
        ch.writeInbound(Unpooled.copiedBuffer(text, StandardCharsets.US_ASCII));
    }

    private void write(String text) {
        ch.writeAndFlush(Unpooled.copiedBuffer(text, StandardCharsets.US_ASCII));
    }

    /** The peer's FIN, as Netty reports it on a channel that allows half-closure; returns its time in ms. */
    private long fin() {
        ch.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        return (ticker.read() - start) / MS;
    }

    private long nowMs() {
        return (ticker.read() - start) / MS;
    }

    private void assertReapedOnce(ReapReason reason, long fromMs) {
        assertEquals(List.of(reason), reaps.stream().map(ReapEvent::reason).toList(), "reaps");
        long at = reapTimes.get(0) / MS;
        assertTrue(at >= fromMs && at <= fromMs + RES.toMillis(), "reaped at " + at + " ms, bound [" + fromMs + ", "
                + (fromMs + RES.toMillis()) + "]");
    }

    // ---------------------------------------------------------------- half-close

    @Test
    void halfClose_reapsAtTheTimeoutAfterTheFin_neverBefore() {
        open(b -> b.halfCloseTimeout(Duration.ofSeconds(1)));
        send("hello");
        advance(Duration.ofMillis(730));
        long fin = fin();
        advance(Duration.ofSeconds(3));
        assertReapedOnce(ReapReason.HALF_CLOSED, fin + 1_000);
        assertEquals(Duration.ofSeconds(1), reaps.get(0).limit());
        assertFalse(ch.isActive(), "closed");
    }

    @Test
    void halfClose_withoutTheOption_nothingHappens() {
        open(b -> b.readIdleTimeout(Duration.ZERO));
        fin();
        advance(Duration.ofSeconds(5));
        assertTrue(reaps.isEmpty(), "not reaped: " + reaps);
        assertTrue(ch.isActive());
    }

    @Test
    void halfClose_outboundWritesRestartIt() {
        open(b -> b.halfCloseTimeout(Duration.ofSeconds(1)));
        long fin = fin();
        long[] last = {fin};
        int[] n = {0};
        advance(Duration.ofSeconds(4), t -> {
            if (t - fin <= 2_000 && ++n[0] % 8 == 0) { // the server still answers, every 400 ms for 2 s
                write("part");
                last[0] = t;
            }
        });
        assertTrue(last[0] >= fin + 1_600, "wrote until " + last[0]);
        assertReapedOnce(ReapReason.HALF_CLOSED, last[0] + 1_000);
    }

    @Test
    void halfClose_workInFlightHoldsItOff_andItRunsFromTheEndOfTheWork() {
        open(b -> b.halfCloseTimeout(Duration.ofSeconds(1)));
        fin();
        IdleReaper.markBusy(ch);
        advance(Duration.ofSeconds(3));
        assertTrue(reaps.isEmpty(), "busy is not idle: " + reaps);
        IdleReaper.markIdle(ch);
        long done = nowMs();
        advance(Duration.ofSeconds(3));
        assertReapedOnce(ReapReason.HALF_CLOSED, done + 1_000);
    }

    @Test
    void halfClose_nextToReadIdle_theEarlierDeadlineWins() {
        open(b -> b.halfCloseTimeout(Duration.ofSeconds(1)).readIdleTimeout(Duration.ofSeconds(3)));
        send("x");
        advance(Duration.ofMillis(500));
        long fin = fin();
        advance(Duration.ofSeconds(5));
        assertReapedOnce(ReapReason.HALF_CLOSED, fin + 1_000);
    }

    @Test
    void halfClose_nextToReadIdle_readIdleFirstWhenItComesFirst() {
        open(b -> b.halfCloseTimeout(Duration.ofSeconds(3)).readIdleTimeout(Duration.ofSeconds(1)));
        advance(Duration.ofMillis(500));
        fin();
        advance(Duration.ofSeconds(5));
        assertReapedOnce(ReapReason.READ_IDLE, 1_000);
    }

    @Test
    void halfClose_aSecondFin_doesNotMoveTheDeadline() {
        open(b -> b.halfCloseTimeout(Duration.ofSeconds(1)));
        long fin = fin();
        advance(Duration.ofMillis(600));
        fin();
        advance(Duration.ofSeconds(3));
        assertReapedOnce(ReapReason.HALF_CLOSED, fin + 1_000);
    }

    // ---------------------------------------------------------------- dry run

    @Test
    void dryRun_reportsOncePerIdleEpisode_andClosesNothing() {
        open(b -> b.readIdleTimeout(Duration.ofSeconds(1)).dryRun(true));
        advance(Duration.ofSeconds(5));
        assertReapedOnce(ReapReason.READ_IDLE, 1_000);
        assertTrue(reaps.get(0).dryRun(), "marked as a dry run");
        assertTrue(ch.isActive(), "nothing closed");
        assertTrue(ch.outboundMessages().isEmpty(), "no goodbye");
        send("in use again");
        long used = nowMs();
        advance(Duration.ofSeconds(5));
        assertEquals(2, reaps.size(), "a second episode, reported once: " + reaps);
        long at = reapTimes.get(1) / MS;
        assertTrue(at >= used + 1_000 && at <= used + 1_000 + RES.toMillis(), "second at " + at);
        assertEquals(2, pipelineEvents.size(), "the event went down the pipeline too");
        assertTrue(pipelineEvents.stream().allMatch(ReapEvent::dryRun));
        ReaperStats stats = reaper.stats();
        assertEquals(2, stats.wouldReap(ReapReason.READ_IDLE));
        assertEquals(0, stats.reapedTotal(), "nothing counted as reaped");
        assertTrue(stats.toString().contains("wouldReap="), stats.toString());
    }

    @Test
    void dryRun_trafficShorterThanTheTimeout_isNeverReported() {
        open(b -> b.readIdleTimeout(Duration.ofSeconds(1)).dryRun(true));
        int[] n = {0};
        advance(Duration.ofSeconds(5), t -> {
            if (++n[0] % 14 == 0) { // every 700 ms
                send("x");
            }
        });
        assertTrue(reaps.isEmpty(), "healthy: " + reaps);
    }

    @Test
    void dryRun_halfClose_isReportedAndTheChannelStays() {
        open(b -> b.halfCloseTimeout(Duration.ofSeconds(1)).dryRun(true));
        long fin = fin();
        advance(Duration.ofSeconds(4));
        assertReapedOnce(ReapReason.HALF_CLOSED, fin + 1_000);
        assertTrue(reaps.get(0).dryRun());
        assertTrue(ch.isActive());
    }

    @Test
    void dryRun_eventSaysSo() {
        ReapEvent e = new ReapEvent(ReapReason.READ_IDLE, 2_000 * MS, 1_000 * MS).asDryRun();
        assertEquals("ReapEvent(dry run: read idle for 2000ms (limit 1000ms))", e.toString());
    }

    // ---------------------------------------------------------------- max connection age

    @Test
    void age_reapsAnActiveConnectionAtItsAge_neverBefore() {
        open(b -> b.maxConnectionAge(Duration.ofSeconds(2)).maxConnectionAgeJitter(0)
                .readIdleTimeout(Duration.ofSeconds(1)));
        int[] n = {0};
        advance(Duration.ofSeconds(5), t -> {
            if (++n[0] % 4 == 0) {
                send("traffic"); // every 200 ms: healthy, and still retired at its age
            }
        });
        assertReapedOnce(ReapReason.MAX_AGE, 2_000);
        assertEquals(Duration.ofSeconds(2), reaps.get(0).limit());
        assertTrue(reaps.get(0).idleFor().compareTo(Duration.ofSeconds(2)) >= 0, reaps.toString());
    }

    @Test
    void age_jitter_staysWithinItsFractionEitherWay() {
        // The draw at the bottom and at the top of the jitter's range: 0.8 and 1.2 times the age.
        for (boolean top : new boolean[] {false, true}) {
            reaps.clear();
            reapTimes.clear();
            open(b -> b.maxConnectionAge(Duration.ofSeconds(2)).maxConnectionAgeJitter(0.2));
            reaper.core().jitter(bound -> top ? bound - 1 : 0);
            ch.close();
            ch.finishAndReleaseAll();
            ch = new EmbeddedChannel();
            ch.pipeline().addFirst(IdleReaper.HANDLER_NAME, reaper.newHandler());
            wheel = reaper.core().wheelFor(ch.eventLoop());
            start = ticker.read();
            advance(Duration.ofSeconds(4));
            assertReapedOnce(ReapReason.MAX_AGE, top ? 2_400 : 1_600);
        }
    }

    @Test
    void age_workInFlight_mayFinishWithinTheGrace() {
        open(b -> b.maxConnectionAge(Duration.ofSeconds(1)).maxConnectionAgeJitter(0)
                .maxConnectionAgeGrace(Duration.ofSeconds(2)));
        IdleReaper.markBusy(ch);
        advance(Duration.ofMillis(1_600));
        assertTrue(reaps.isEmpty(), "busy at its age: the grace runs");
        IdleReaper.markIdle(ch);
        long done = nowMs();
        advance(Duration.ofSeconds(2));
        assertReapedOnce(ReapReason.MAX_AGE, done);
    }

    @Test
    void age_theGraceBoundsBusyConnections() {
        open(b -> b.maxConnectionAge(Duration.ofSeconds(1)).maxConnectionAgeJitter(0)
                .maxConnectionAgeGrace(Duration.ofSeconds(2)));
        IdleReaper.markBusy(ch);
        advance(Duration.ofSeconds(5));
        assertReapedOnce(ReapReason.MAX_AGE, 3_000);
    }

    @Test
    void age_nextToTheIdleTimers_theIdleTimerFirstWhenItComesFirst() {
        open(b -> b.maxConnectionAge(Duration.ofSeconds(3)).maxConnectionAgeJitter(0)
                .readIdleTimeout(Duration.ofSeconds(1)));
        advance(Duration.ofSeconds(5));
        assertReapedOnce(ReapReason.READ_IDLE, 1_000);
    }

    @Test
    void age_aloneOnItsFastPath_visitsWithoutItsChannelLife_andStillComesOnTime() {
        // No override, no HTTP, no heartbeat: the handler keeps the age's due tick in pingTick (AGE_STAMP).
        open(b -> b.maxConnectionAge(Duration.ofSeconds(3)).maxConnectionAgeJitter(0)
                .readIdleTimeout(Duration.ofMillis(500)));
        ReaperHandler h = (ReaperHandler) ch.pipeline().get(IdleReaper.HANDLER_NAME);
        assertTrue((h.state & ReaperHandler.AGE_STAMP) != 0, "on the fast path");
        int[] n = {0};
        advance(Duration.ofSeconds(4), t -> {
            if (++n[0] % 2 == 0) {
                send("traffic"); // every 100 ms: many visits before the age, each on the fast path
            }
        });
        assertReapedOnce(ReapReason.MAX_AGE, 3_000);
    }

    @Test
    void age_anOverrideOrAHeartbeatMidLife_leaveTheFastPath_andTheAgeStillComesOnTime() {
        for (int variant = 0; variant < 2; variant++) {
            reaps.clear();
            reapTimes.clear();
            if (ch != null) {
                ch.finishAndReleaseAll();
            }
            open(b -> b.maxConnectionAge(Duration.ofSeconds(3)).maxConnectionAgeJitter(0));
            ReaperHandler h = (ReaperHandler) ch.pipeline().get(IdleReaper.HANDLER_NAME);
            advance(Duration.ofSeconds(1));
            if (variant == 0) {
                IdleReaper.overrideTimeouts(ch, IdleTimeouts.builder().readIdle(Duration.ofSeconds(10)).build());
            } else {
                IdleReaper.overrideHeartbeat(ch, Heartbeat.of(Duration.ofMillis(400), Duration.ofMillis(200), 2,
                        io.github.idlereaper.protocol.LineHeartbeat.of("PING", StandardCharsets.US_ASCII)));
            }
            ch.runPendingTasks();
            assertEquals(0, h.state & ReaperHandler.AGE_STAMP, "an override leaves the fast path");
            int[] n = {0};
            advance(Duration.ofSeconds(3), t -> {
                if (++n[0] % 2 == 0) {
                    send("PONG"); // answers the pings, if any
                }
            });
            assertReapedOnce(ReapReason.MAX_AGE, 3_000);
        }
    }

    @Test
    void age_inADryRun_isReportedOnce() {
        open(b -> b.maxConnectionAge(Duration.ofSeconds(1)).maxConnectionAgeJitter(0).dryRun(true));
        advance(Duration.ofSeconds(5));
        assertReapedOnce(ReapReason.MAX_AGE, 1_000);
        assertTrue(reaps.get(0).dryRun());
        assertTrue(ch.isActive());
    }

    // ---------------------------------------------------------------- drain

    @Test
    void drain_closesAnIdleConnectionAtOnce_andCompletesTheFuture() {
        open(b -> b.readIdleTimeout(Duration.ofSeconds(30)));
        advance(Duration.ofMillis(300));
        long began = nowMs();
        java.util.concurrent.CompletableFuture<Void> done = reaper.drain(Duration.ofSeconds(5));
        assertTrue(done == reaper.drain(Duration.ofSeconds(1)), "a second call returns the drain under way");
        assertFalse(done.isDone());
        advance(Duration.ofSeconds(1));
        assertReapedOnce(ReapReason.DRAIN, began);
        assertTrue(done.isDone(), "the last connection closed");
        assertEquals(Duration.ofSeconds(5), reaps.get(0).limit());
    }

    @Test
    void drain_waitsForWorkInFlight_withinTheGrace() {
        open(b -> b.readIdleTimeout(Duration.ofSeconds(30)));
        IdleReaper.markBusy(ch);
        long began = nowMs();
        java.util.concurrent.CompletableFuture<Void> done = reaper.drain(Duration.ofSeconds(2));
        advance(Duration.ofMillis(1_200));
        assertTrue(reaps.isEmpty() && !done.isDone(), "busy: its work may finish");
        IdleReaper.markIdle(ch);
        long idleAt = nowMs();
        advance(Duration.ofSeconds(3));
        assertReapedOnce(ReapReason.DRAIN, idleAt);
        assertTrue(done.isDone());
        assertTrue(idleAt - began < 2_000);
    }

    @Test
    void drain_theGraceBoundsBusyConnections() {
        open(b -> b.readIdleTimeout(Duration.ofSeconds(30)));
        IdleReaper.markBusy(ch);
        long began = nowMs();
        reaper.drain(Duration.ofSeconds(2));
        advance(Duration.ofSeconds(4));
        assertReapedOnce(ReapReason.DRAIN, began + 2_000);
    }

    @Test
    void drain_spreadsTheGoodbyesOverItsWindow() {
        open(b -> b.readIdleTimeout(Duration.ofSeconds(60)).drainSpread(Duration.ofSeconds(2)));
        List<EmbeddedChannel> more = new ArrayList<>();
        List<LoopWheel> wheels = new ArrayList<>();
        for (int i = 0; i < 60; i++) {
            EmbeddedChannel c = new EmbeddedChannel();
            c.pipeline().addFirst(IdleReaper.HANDLER_NAME, reaper.newHandler());
            more.add(c);
            wheels.add(reaper.core().wheelFor(c.eventLoop()));
        }
        long began = ticker.read();
        reaper.drain(Duration.ZERO);
        long end = began + Duration.ofSeconds(3).toNanos();
        while (ticker.read() < end) {
            ticker.advanceNanos(STEP);
            for (int i = 0; i < more.size(); i++) {
                more.get(i).runPendingTasks();
                wheels.get(i).advance(ticker.read());
                more.get(i).runPendingTasks();
            }
            wheel.advance(ticker.read());
            ch.runPendingTasks();
        }
        List<Long> at = reapTimes.stream().map(t -> (t - (began - start)) / MS).sorted().toList();
        assertEquals(61, at.size(), "every connection drained: " + at);
        assertTrue(at.get(0) >= 0 && at.get(at.size() - 1) <= 2_000 + RES.toMillis(), "within the window: " + at);
        long distinct = at.stream().map(t -> t / 500).distinct().count();
        assertTrue(distinct >= 4, "spread over the window, not in one burst: " + at);
        assertTrue(more.stream().noneMatch(EmbeddedChannel::isActive));
        more.forEach(EmbeddedChannel::finishAndReleaseAll);
    }

    // ---------------------------------------------------------------- resource pressure

    /** The pressure the injected source reports. */
    private final double[] pressure = {0};

    private void openUnderPressure(Consumer<IdleReaper.Builder> config) {
        open(b -> config.accept(b.reduceTimeoutsUnderPressure(0.7, 0.9, 0.1).pressureSource(() -> pressure[0])));
    }

    /** {@code limit} at the floor scale of minScale 0.1: ceil(0.1 × 1024) = 103/1024 of it. */
    private static long atFloor(Duration limit) {
        return PressureScale.scaled(limit.toNanos(), 103);
    }

    @Test
    void pressure_atSaturation_readIdleShrinksToItsFloor_neverBefore() {
        pressure[0] = 1.0;
        openUnderPressure(b -> b.readIdleTimeout(Duration.ofSeconds(10)));
        advance(Duration.ofSeconds(4));
        long floor = atFloor(Duration.ofSeconds(10));
        assertReapedOnce(ReapReason.READ_IDLE, floor / MS);
        assertEquals(Duration.ofNanos(floor), reaps.get(0).limit(), "the limit in effect");
        assertEquals(103 / 1024.0, reaper.stats().timeoutScale(), 1e-9);
        assertEquals(1.0, reaper.stats().pressure(), 1e-9);
    }

    @Test
    void pressure_none_theConfiguredTimeoutHolds() {
        openUnderPressure(b -> b.readIdleTimeout(Duration.ofSeconds(2)));
        advance(Duration.ofSeconds(4));
        assertReapedOnce(ReapReason.READ_IDLE, 2_000);
        assertEquals(1.0, reaper.stats().timeoutScale(), 1e-9);
    }

    @Test
    void pressure_thatRisesLater_bringsTheParkedVisitSooner_notAtTheOldDeadline() {
        openUnderPressure(b -> b.readIdleTimeout(Duration.ofSeconds(10)));
        advance(Duration.ofSeconds(3));
        assertTrue(reaps.isEmpty());
        long rose = nowMs();
        pressure[0] = 0.95;
        advance(Duration.ofSeconds(3));
        // Idle for 3 s, past the shrunk limit (about 1 s): reaped at the next sample (within a second), in the
        // visit that the fallen scale brought forward, not at 10 s.
        assertEquals(List.of(ReapReason.READ_IDLE), reaps.stream().map(ReapEvent::reason).toList());
        long at = reapTimes.get(0) / MS;
        assertTrue(at >= rose && at <= rose + 1_000 + RES.toMillis(), "reaped at " + at + " ms, pressure at " + rose);
    }

    @Test
    void pressure_betweenThresholdAndSaturation_scalesLinearly_inSixteenths_withHysteresis() {
        PressureScale p = new PressureScale(() -> 0, 0.7, 0.9, 0.1, 0, 0);
        assertEquals(PressureScale.ONE, p.step(0.5));
        assertEquals(PressureScale.ONE, p.step(0.7));
        // 0.8: halfway, 0.1 + 0.9 × 0.5 = 0.55 of the timeouts, rounded down to a sixteenth: 0.5.
        assertEquals(512, p.step(0.8));
        assertEquals(103, p.step(0.9), "the floor, 0.1, rounded up to a 1024th");
        assertEquals(103, p.step(1.5));
        assertFalse(p.apply(0.69), "below the threshold");
        assertEquals(PressureScale.ONE, p.scale());
        assertTrue(p.apply(0.8), "entered: the scale fell");
        assertEquals(512, p.scale());
        assertFalse(p.apply(0.79), "a little less pressure does not raise it (hysteresis)");
        assertEquals(512, p.scale());
        assertFalse(p.apply(0.72));
        assertEquals(p.step(0.77), p.scale(), "raised only as far as a pressure five points higher allows");
        assertFalse(p.apply(0.66), "still under: five points below the threshold to leave");
        assertEquals(p.step(0.71), p.scale());
        assertFalse(p.apply(0.64));
        assertEquals(PressureScale.ONE, p.scale(), "left");
        assertFalse(p.apply(Double.NaN));
        assertEquals(0, p.pressure());
    }

    @Test
    void pressure_logsOneWarnEntering_andOneInfoLeaving() {
        java.io.ByteArrayOutputStream captured = new java.io.ByteArrayOutputStream();
        java.io.PrintStream err = System.err;
        System.setErr(new java.io.PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            PressureScale p = new PressureScale(() -> 0, 0.7, 0.9, 0.1, 0, 0);
            for (double x : new double[] {0.5, 0.75, 0.95, 0.8, 0.68, 0.9, 0.6, 0.3, 0.6}) {
                p.apply(x);
            }
        } finally {
            System.setErr(err);
        }
        String log = captured.toString(StandardCharsets.UTF_8);
        assertEquals(1, log.split("WARN io.github.idlereaper.IdleReaper - IdleReaper under resource pressure 0.75: "
                + "idle timeouts now 75 % of their configured values \\(threshold 0.7, saturation 0.9, floor 10 %\\)",
                -1).length - 1, log);
        assertEquals(1, log.split("INFO io.github.idlereaper.IdleReaper - IdleReaper no longer under resource "
                + "pressure \\(0.60\\)", -1).length - 1, log);
        assertEquals(2, log.lines().count(), "nothing else: " + log);
    }

    @Test
    void pressure_shrinksTheHalfCloseTimeoutToo() {
        pressure[0] = 1.0;
        openUnderPressure(b -> b.halfCloseTimeout(Duration.ofSeconds(10)));
        advance(Duration.ofMillis(300));
        long fin = fin();
        advance(Duration.ofSeconds(3));
        assertReapedOnce(ReapReason.HALF_CLOSED, fin + atFloor(Duration.ofSeconds(10)) / MS);
    }

    @Test
    void pressure_aSourceThatThrows_isReadAsNone() {
        open(b -> b.readIdleTimeout(Duration.ofSeconds(2)).reduceTimeoutsUnderPressure(0.5, 1, 0.5)
                .pressureSource(() -> {
                    throw new IllegalStateException("no signal");
                }));
        advance(Duration.ofSeconds(3));
        assertReapedOnce(ReapReason.READ_IDLE, 2_000);
    }

    // ---------------------------------------------------------------- the builder's rules

    private static String message(Class<? extends Throwable> type, org.junit.jupiter.api.function.Executable e) {
        return assertThrows(type, e).getMessage();
    }

    @Test
    void options_exactMessages() {
        assertEquals("halfCloseTimeout must not be negative: PT-1S", message(IllegalArgumentException.class,
                () -> IdleReaper.builder().halfCloseTimeout(Duration.ofSeconds(-1))));
        assertEquals("halfCloseTimeout must be at most PT720H: PT720H0.001S", message(IllegalArgumentException.class,
                () -> IdleReaper.builder().halfCloseTimeout(Duration.ofDays(30).plusMillis(1))));
        assertEquals("halfCloseTimeout", message(NullPointerException.class,
                () -> IdleReaper.builder().halfCloseTimeout(null)));
        assertEquals("halfCloseTimeout was already set to PT5S", message(IllegalStateException.class,
                () -> IdleReaper.builder().halfCloseTimeout(Duration.ofSeconds(5)).halfCloseTimeout(Duration.ZERO)));
        assertEquals("halfCloseTimeout (PT0.005S) must not be shorter than tickResolution (PT0.01S)",
                message(IllegalArgumentException.class, () -> IdleReaper.builder()
                        .tickResolution(Duration.ofMillis(10)).halfCloseTimeout(Duration.ofMillis(5)).build()));
        assertEquals("dryRun was already set to true", message(IllegalStateException.class,
                () -> IdleReaper.builder().dryRun(true).dryRun(false)));
        assertEquals("maxConnectionAge must not be negative: PT-1S", message(IllegalArgumentException.class,
                () -> IdleReaper.builder().maxConnectionAge(Duration.ofSeconds(-1))));
        assertEquals("maxConnectionAge (PT0.005S) must not be shorter than tickResolution (PT0.01S)",
                message(IllegalArgumentException.class, () -> IdleReaper.builder()
                        .tickResolution(Duration.ofMillis(10)).maxConnectionAge(Duration.ofMillis(5)).build()));
        assertEquals("maxConnectionAgeJitter must be between 0.0 and 0.5: 0.6", message(
                IllegalArgumentException.class, () -> IdleReaper.builder().maxConnectionAgeJitter(0.6)));
        assertEquals("maxConnectionAgeJitter must be between 0.0 and 0.5: NaN", message(
                IllegalArgumentException.class, () -> IdleReaper.builder().maxConnectionAgeJitter(Double.NaN)));
        assertEquals("maxConnectionAgeJitter was already set to 0.2", message(IllegalStateException.class,
                () -> IdleReaper.builder().maxConnectionAgeJitter(0.2).maxConnectionAgeJitter(0.1)));
        assertEquals("maxConnectionAgeGrace must be at most PT720H: PT720H0.001S", message(
                IllegalArgumentException.class,
                () -> IdleReaper.builder().maxConnectionAgeGrace(Duration.ofDays(30).plusMillis(1))));
        assertEquals("maxConnectionAgeGrace needs maxConnectionAge: call maxConnectionAge(...) too", message(
                IllegalStateException.class,
                () -> IdleReaper.builder().maxConnectionAgeGrace(Duration.ofSeconds(5)).build()));
        assertEquals("maxConnectionAgeJitter needs maxConnectionAge: call maxConnectionAge(...) too", message(
                IllegalStateException.class, () -> IdleReaper.builder().maxConnectionAgeJitter(0).build()));
        assertEquals("drainSpread must not be negative: PT-1S", message(IllegalArgumentException.class,
                () -> IdleReaper.builder().drainSpread(Duration.ofSeconds(-1))));
        assertEquals("closeRate perSecond must be between 1 and 1000000: 0", message(IllegalArgumentException.class,
                () -> IdleReaper.builder().closeRate(0, 1)));
        assertEquals("closeRate burst must be between 1 and 1000000: 1000001", message(
                IllegalArgumentException.class, () -> IdleReaper.builder().closeRate(10, 1_000_001)));
        assertEquals("closeRate was already set to 10/s, burst 5", message(IllegalStateException.class,
                () -> IdleReaper.builder().closeRate(10, 5).closeRate(20, 5)));
        assertEquals("reduceTimeoutsUnderPressure threshold must be above 0 and below 1: 1.0", message(
                IllegalArgumentException.class, () -> IdleReaper.builder().reduceTimeoutsUnderPressure(1, 1, 0.5)));
        assertEquals("reduceTimeoutsUnderPressure saturation must be above the threshold (0.8) and at most 1: 0.7",
                message(IllegalArgumentException.class,
                        () -> IdleReaper.builder().reduceTimeoutsUnderPressure(0.8, 0.7, 0.5)));
        assertEquals("reduceTimeoutsUnderPressure minScale must be between 0.01 and 0.99: 0.0", message(
                IllegalArgumentException.class, () -> IdleReaper.builder().reduceTimeoutsUnderPressure(0.5, 0.9, 0)));
        assertEquals("reduceTimeoutsUnderPressure was already set to 0.5, 0.9, 0.2", message(
                IllegalStateException.class, () -> IdleReaper.builder().reduceTimeoutsUnderPressure(0.5, 0.9, 0.2)
                        .reduceTimeoutsUnderPressure(0.6, 0.9, 0.2)));
        assertEquals("pressureSource needs reduceTimeoutsUnderPressure: call reduceTimeoutsUnderPressure(...) too",
                message(IllegalStateException.class, () -> IdleReaper.builder().pressureSource(() -> 0).build()));
        assertEquals("evictUnderPressure needs reduceTimeoutsUnderPressure: call reduceTimeoutsUnderPressure(...) "
                + "too", message(IllegalStateException.class, () -> IdleReaper.builder().evictUnderPressure(0.9)
                        .build()));
        assertEquals("evictUnderPressure (0.6) must be at least the reduceTimeoutsUnderPressure threshold (0.7)",
                message(IllegalArgumentException.class, () -> IdleReaper.builder()
                        .reduceTimeoutsUnderPressure(0.7, 0.9, 0.1).evictUnderPressure(0.6).build()));
        assertEquals("evictUnderPressure must be above 0 and at most 1: 1.5", message(IllegalArgumentException.class,
                () -> IdleReaper.builder().evictUnderPressure(1.5)));
        assertEquals("source", message(NullPointerException.class, () -> IdleReaper.builder().pressureSource(null)));
        assertEquals("grace must not be negative: PT-1S", message(IllegalArgumentException.class,
                () -> IdleReaper.builder().build().drain(Duration.ofSeconds(-1))));
    }

    @Test
    void theDefaultTick_takesTheHalfCloseTimeoutIntoAccount() {
        assertEquals(Duration.ofMillis(200),
                IdleReaper.builder().halfCloseTimeout(Duration.ofSeconds(2)).build().tickResolution());
        assertEquals(Duration.ofMillis(200), IdleReaper.builder().readIdleTimeout(Duration.ofSeconds(10))
                .halfCloseTimeout(Duration.ofSeconds(2)).build().tickResolution());
    }
}
