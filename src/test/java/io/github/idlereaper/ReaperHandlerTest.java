package io.github.idlereaper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.openjdk.jol.info.ClassLayout;

/** Layer 2: the handler's state machine on an EmbeddedChannel, with the reaper's time pushed in by hand. */
class ReaperHandlerTest {

    private static final Duration RES = Duration.ofMillis(100);
    private static final Duration STEP = RES.dividedBy(2); // the wheel's internal tick

    private final FakeTicker ticker = new FakeTicker();
    private final List<ReapEvent> listened = new ArrayList<>();
    private final List<String> seen = new ArrayList<>();
    private final Host host = new Host();
    private EmbeddedChannel ch;
    private IdleReaper reaper;
    private LoopWheel wheel;
    private long start;

    /** Records, in order, what reaches the host's handler behind the reaper. */
    private final class Host extends ChannelInboundHandlerAdapter {
        String goodbye;

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof ReapEvent) {
                seen.add("event " + ((ReapEvent) evt).reason() + " active=" + ctx.channel().isActive());
                if (goodbye != null) {
                    ctx.writeAndFlush(Unpooled.copiedBuffer(goodbye, StandardCharsets.US_ASCII));
                }
            }
            ctx.fireUserEventTriggered(evt);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ((ByteBuf) msg).release();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            seen.add("inactive");
            ctx.fireChannelInactive();
        }
    }

    private void start(Consumer<IdleReaper.Builder> config) {
        IdleReaper.Builder b = IdleReaper.builder().tickResolution(RES).ticker(ticker).listener((c, e) -> {
            seen.add("listener " + e.reason());
            listened.add(e);
        });
        config.accept(b);
        reaper = b.build();
        ch = new EmbeddedChannel();
        ch.pipeline().addLast(host);
        ch.pipeline().addFirst(IdleReaper.HANDLER_NAME, reaper.newHandler());
        wheel = reaper.core().wheelFor(ch.eventLoop());
        start = ticker.read();
    }

    @AfterEach
    void finish() {
        if (ch != null) {
            ch.finishAndReleaseAll();
        }
    }

    /** Moves time forward one wheel tick at a time, running the wheel and the channel's tasks at each. */
    private void advance(Duration d) {
        for (long n = d.toNanos() / STEP.toNanos(); n > 0; n--) {
            ticker.advance(STEP);
            wheel.advance(ticker.read());
            ch.runPendingTasks();
        }
    }

    private long elapsedMillis() {
        return Duration.ofNanos(ticker.read() - start).toMillis();
    }

    /** Advances until the channel closes, and returns when it did, in ms since start; fails after {@code max}. */
    private long closesWithin(Duration max) {
        long end = ticker.read() + max.toNanos();
        while (ch.isActive()) {
            assertTrue(ticker.read() < end, "still open after " + max);
            advance(STEP);
        }
        return elapsedMillis();
    }

    private void inbound() {
        ch.writeInbound(Unpooled.wrappedBuffer(new byte[] {1}));
    }

    private void outbound() {
        ch.writeOutbound(Unpooled.wrappedBuffer(new byte[] {2}));
        ByteBuf out;
        while ((out = ch.readOutbound()) != null) {
            out.release();
        }
    }

    @Test
    void readIdle_reapsAtTheTimeoutAndNotBefore() {
        start(b -> b.readIdleTimeout(Duration.ofSeconds(1)));
        advance(Duration.ofMillis(1000));
        assertTrue(ch.isActive(), "not reaped at the timeout's first instant");
        long closedAt = closesWithin(Duration.ofSeconds(1));
        assertTrue(closedAt >= 1000 && closedAt <= 1000 + RES.toMillis(), "closed at " + closedAt + "ms");
        assertEquals(1, listened.size());
        ReapEvent e = listened.get(0);
        assertEquals(ReapReason.READ_IDLE, e.reason());
        assertEquals(Duration.ofSeconds(1), e.limit());
        assertTrue(e.idleFor().compareTo(e.limit()) >= 0, "idleFor " + e.idleFor());
        assertEquals("read idle for " + e.idleFor().toMillis() + "ms (limit 1000ms)", e.message());
    }

    @Test
    void readIdle_isRearmedByInboundBytes() {
        start(b -> b.readIdleTimeout(Duration.ofSeconds(1)));
        for (int i = 0; i < 20; i++) {
            advance(Duration.ofMillis(600));
            inbound();
        }
        assertTrue(ch.isActive(), "a byte every 600 ms keeps a 1 s read timeout at bay");
        long lastRead = elapsedMillis();
        long closedAt = closesWithin(Duration.ofSeconds(2));
        assertTrue(closedAt - lastRead >= 1000 && closedAt - lastRead <= 1000 + RES.toMillis(),
                "closed " + (closedAt - lastRead) + "ms after the last read");
    }

    @Test
    void readIdle_isNotRearmedByWrites() {
        start(b -> b.readIdleTimeout(Duration.ofSeconds(1)));
        for (int i = 0; i < 3; i++) {
            advance(Duration.ofMillis(300));
            outbound();
        }
        long closedAt = closesWithin(Duration.ofSeconds(1));
        assertTrue(closedAt <= 1000 + RES.toMillis(), "closed at " + closedAt);
    }

    @Test
    void writeIdle_isRearmedByWritesOnly() {
        start(b -> b.writeIdleTimeout(Duration.ofSeconds(1)));
        for (int i = 0; i < 10; i++) {
            advance(Duration.ofMillis(500));
            outbound();
            inbound();
        }
        assertTrue(ch.isActive());
        long lastWrite = elapsedMillis();
        for (int i = 0; i < 3; i++) {
            advance(Duration.ofMillis(300));
            inbound();
        }
        long closedAt = closesWithin(Duration.ofSeconds(1));
        assertTrue(closedAt - lastWrite >= 1000 && closedAt - lastWrite <= 1000 + RES.toMillis());
        assertEquals(ReapReason.WRITE_IDLE, listened.get(0).reason());
    }

    @Test
    void allIdle_isRearmedByEitherDirection() {
        start(b -> b.allIdleTimeout(Duration.ofSeconds(1)));
        for (int i = 0; i < 10; i++) {
            advance(Duration.ofMillis(700));
            if (i % 2 == 0) {
                inbound();
            } else {
                outbound();
            }
        }
        assertTrue(ch.isActive());
        closesWithin(Duration.ofMillis(1100));
        assertEquals(ReapReason.ALL_IDLE, listened.get(0).reason());
    }

    @Test
    void reapEvent_reachesTheHostBeforeTheCloseAndTheListenerCounts() {
        start(b -> b.readIdleTimeout(Duration.ofSeconds(1)));
        closesWithin(Duration.ofSeconds(2));
        assertEquals(List.of("event READ_IDLE active=true", "listener READ_IDLE", "inactive"), seen);
        ReaperStats stats = reaper.stats();
        assertEquals(1, stats.reaped(ReapReason.READ_IDLE));
        assertEquals(1, stats.reapedTotal());
        assertEquals(0, stats.open());
        assertEquals(1, stats.opened());
    }

    @Test
    void goodbye_writtenInAnswerToTheEventIsFlushedBeforeTheClose() {
        start(b -> b.readIdleTimeout(Duration.ofSeconds(1)));
        ReaperHandler h = ch.pipeline().get(ReaperHandler.class);
        host.goodbye = "bye\n";
        closesWithin(Duration.ofSeconds(2));
        ByteBuf out = ch.readOutbound();
        assertEquals("bye\n", out.toString(StandardCharsets.US_ASCII));
        out.release();
        assertNull(h.prev, "the flush closed the channel at once; nothing is left in the wheel");
        assertEquals(0, wheel.size());
    }

    @Test
    void listener_thatThrows_changesNothing() {
        reaper = null;
        IdleReaper r = IdleReaper.builder().tickResolution(RES).ticker(ticker)
                .readIdleTimeout(Duration.ofSeconds(1))
                .listener((c, e) -> {
                    throw new IllegalStateException("boom");
                }).build();
        ch = new EmbeddedChannel();
        ch.pipeline().addFirst(IdleReaper.HANDLER_NAME, r.newHandler());
        wheel = r.core().wheelFor(ch.eventLoop());
        start = ticker.read();
        closesWithin(Duration.ofSeconds(2));
        assertEquals(1, r.stats().reaped(ReapReason.READ_IDLE));
    }

    @Test
    void busy_holdsTheIdleTimersAndIdleRestartsThemFromNow() {
        start(b -> b.readIdleTimeout(Duration.ofSeconds(1)));
        IdleReaper.markBusy(ch);
        IdleReaper.markBusy(ch); // nested
        advance(Duration.ofSeconds(5));
        assertTrue(ch.isActive(), "busy channels are not reaped for idleness");
        IdleReaper.markIdle(ch);
        advance(Duration.ofSeconds(2));
        assertTrue(ch.isActive(), "still one unit of work in flight");
        IdleReaper.markIdle(ch);
        long idleAt = elapsedMillis();
        advance(Duration.ofMillis(950));
        assertTrue(ch.isActive(), "idle timers restart from the end of the work");
        long closedAt = closesWithin(Duration.ofSeconds(1));
        assertTrue(closedAt - idleAt >= 1000 && closedAt - idleAt <= 1000 + RES.toMillis(),
                "closed " + (closedAt - idleAt) + "ms after markIdle");
    }

    @Test
    void markIdle_withoutBusy_isIgnored() {
        start(b -> b.readIdleTimeout(Duration.ofSeconds(1)));
        IdleReaper.markIdle(ch);
        ReaperHandler h = ch.pipeline().get(ReaperHandler.class);
        assertEquals(0, h.busyCount());
        closesWithin(Duration.ofSeconds(2));
    }

    @Test
    void markBusy_onAChannelWithoutTheReaper_failsLoudly() {
        EmbeddedChannel plain = new EmbeddedChannel();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> IdleReaper.markBusy(plain));
        assertEquals("no IdleReaper handler in the pipeline of " + plain, e.getMessage());
        plain.finishAndReleaseAll();
    }

    @Test
    void updateTimeouts_appliesToOpenConnectionsAtOnce() {
        start(b -> b.readIdleTimeout(Duration.ofMinutes(10)));
        advance(Duration.ofSeconds(2));
        assertTrue(ch.isActive());
        reaper.updateTimeouts(reaper.timeouts().toBuilder().readIdle(Duration.ofSeconds(1)).build());
        ch.runPendingTasks();
        assertFalse(ch.isActive(), "idle for 2 s against a new 1 s timeout: reaped at the next check");
        assertEquals(Duration.ofSeconds(1), listened.get(0).limit());
    }

    @Test
    void updateTimeouts_disablingATimerSparesTheConnection() {
        start(b -> b.readIdleTimeout(Duration.ofSeconds(1)));
        reaper.updateTimeouts(IdleTimeouts.DISABLED);
        advance(Duration.ofSeconds(30));
        assertTrue(ch.isActive());
    }

    @Test
    void close_byThePeer_unregistersFromTheWheel() {
        start(b -> b.readIdleTimeout(Duration.ofSeconds(1)));
        ReaperHandler h = ch.pipeline().get(ReaperHandler.class);
        assertEquals(1, wheel.size());
        assertEquals(1, reaper.stats().open());
        ch.close();
        assertEquals(0, wheel.size());
        assertEquals(0, reaper.stats().open());
        assertNull(h.prev, "the channel's own handler left its bucket");
        assertNull(h.next);
        advance(Duration.ofSeconds(3));
        assertEquals(0, reaper.stats().reapedTotal());
    }

    @Test
    void handlerRemoved_unregistersFromTheWheel() {
        start(b -> b.readIdleTimeout(Duration.ofSeconds(1)));
        ch.pipeline().remove(IdleReaper.HANDLER_NAME);
        assertEquals(0, wheel.size());
        advance(Duration.ofSeconds(3));
        assertTrue(ch.isActive(), "a removed reaper reaps nothing");
    }

    @Test
    void summary_isOncePerMinute_andOnlyWhenSomethingWasReaped() {
        start(b -> b.readIdleTimeout(Duration.ofSeconds(1)));
        ReaperCore core = reaper.core();
        closesWithin(Duration.ofSeconds(2));
        EmbeddedChannel second = new EmbeddedChannel();
        second.pipeline().addFirst(IdleReaper.HANDLER_NAME, reaper.newHandler());
        LoopWheel w2 = core.wheelFor(second.eventLoop());
        for (int i = 0; i < 30 && second.isActive(); i++) {
            ticker.advance(STEP);
            w2.advance(ticker.read());
            second.runPendingTasks();
        }
        assertFalse(second.isActive());
        long now = ticker.read();
        assertNull(core.summary(now), "the minute since the last summary is not over");
        assertEquals("reaped 2 connections in the last 60s (READ_IDLE=2); 0 open",
                core.summary(now + Duration.ofSeconds(61).toNanos()));
        assertNull(core.summary(now + Duration.ofSeconds(62).toNanos()), "once a minute");
        assertNull(core.summary(now + Duration.ofSeconds(200).toNanos()), "nothing reaped since: no line");
        second.finishAndReleaseAll();
    }

    @Test
    void handler_fitsTheMemoryBudget() {
        // The budget: a handler of at most 64 B (DEVELOPERS.md), beside Netty's own 64-byte context.
        long size = ClassLayout.parseClass(ReaperHandler.class).instanceSize();
        assertTrue(size <= 64, "ReaperHandler is " + size + " bytes:\n"
                + ClassLayout.parseClass(ReaperHandler.class).toPrintable());
    }

    @Test
    void handler_addedToASecondChannel_isRefusedThere_andKeepsWorkingInTheFirst() {
        start(b -> b.readIdleTimeout(Duration.ofSeconds(1)));
        io.netty.channel.ChannelHandler h = ch.pipeline().get(IdleReaper.HANDLER_NAME);
        List<Throwable> secondSaw = new ArrayList<>();
        EmbeddedChannel second = new EmbeddedChannel(new ChannelInboundHandlerAdapter() {
            @Override
            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                secondSaw.add(cause);
            }
        });
        second.pipeline().addFirst(h);
        assertNull(second.pipeline().get(ReaperHandler.class), "refused by the second pipeline");
        assertEquals(1, secondSaw.size());
        Throwable why = secondSaw.get(0).getCause(); // Netty wraps it: "handlerAdded() has thrown ...; removed."
        assertTrue(why.getMessage().startsWith("an IdleReaper handler belongs to one channel; it is already in "),
                why.getMessage());
        assertEquals(1, wheel.size(), "the first channel is still watched");
        closesWithin(Duration.ofSeconds(2));
        assertEquals(1, reaper.stats().reaped(ReapReason.READ_IDLE));
        second.finishAndReleaseAll();
    }

    // ---------------------------------------------------------------- a loop held up (issue #9, finding 5)

    /** The loop is held up for {@code d}: one wheel run after it, without the channel's tasks (its I/O pass). */
    private void holdUpLoop(Duration d) {
        ticker.advance(d);
        wheel.advance(ticker.read());
    }

    @Test
    void loopHeldUp_bytesThatArrivedMeanwhile_countBeforeTheReap() {
        start(b -> b.readIdleTimeout(Duration.ofSeconds(1)));
        advance(RES);
        holdUpLoop(Duration.ofMillis(1500));
        // The visit found read idle past, but the loop lagged: the decision waits for one pass of I/O, in which
        // the byte that came during the hold-up is read.
        assertTrue(ch.isActive(), "no reap before the loop's I/O pass");
        ch.writeInbound(Unpooled.wrappedBuffer(new byte[] {1}));
        ch.runPendingTasks();
        assertTrue(ch.isActive(), "the byte read in the I/O pass made the channel active: not idle");
        assertTrue(listened.isEmpty(), listened.toString());
        ReaperStats stats = reaper.stats();
        assertTrue(stats.maxLoopLag().toMillis() >= 1400, stats.toString());
        assertEquals(0, stats.reapsAfterLoopLag());
        // Then it is reaped a whole timeout after that byte, as usual.
        long readAt = elapsedMillis();
        long closedAt = closesWithin(Duration.ofSeconds(2));
        assertTrue(closedAt - readAt >= 1000 && closedAt - readAt <= 1000 + RES.toMillis(), (closedAt - readAt)
                + " ms after the byte");
    }

    @Test
    void loopHeldUp_nothingArrived_reapedAfterOneIoPass_countedAsLate_andTheFirstDeadlineWins() {
        start(b -> b.readIdleTimeout(Duration.ofSeconds(1)).heartbeat(Duration.ofMillis(300),
                Duration.ofMillis(100), 1, (HeartbeatProtocol) c -> Unpooled.wrappedBuffer(new byte[] {9})));
        advance(RES);
        ch.writeInbound(Unpooled.wrappedBuffer(new byte[] {1}));
        long readAt = elapsedMillis();
        // A tick on time after the byte: its stamp's bound is that tick, not the end of the hold-up.
        advance(STEP);
        // A first ping may have gone out before the byte (at a random point of the first interval): not this test's.
        for (Object m; (m = ch.readOutbound()) != null; ) {
            io.netty.util.ReferenceCountUtil.release(m);
        }
        holdUpLoop(Duration.ofMillis(1500));
        assertTrue(ch.isActive(), "no reap before the loop's I/O pass");
        ch.runPendingTasks();
        assertFalse(ch.isActive());
        // Both the ping's time (300 ms) and read idle (1 s) passed during the hold-up: read idle is the first
        // reap deadline crossed, and no probe is owed first (a pong would prove the peer alive, not active).
        assertEquals(1, listened.size());
        assertEquals(ReapReason.READ_IDLE, listened.get(0).reason());
        assertNull(ch.readOutbound(), "no ping was written");
        assertTrue(listened.get(0).idleFor().toMillis() >= 1500 - RES.toMillis(), listened.get(0).toString());
        assertEquals(1, reaper.stats().reapsAfterLoopLag());
        assertTrue(elapsedMillis() - readAt >= 1000);
    }

    @Test
    void loopHeldUpOnce_thenOnTime_reapsAtTheNextTickWithoutWaiting() {
        start(b -> b.readIdleTimeout(Duration.ofSeconds(1)));
        advance(RES);
        holdUpLoop(Duration.ofMillis(700)); // lagging, but nothing is due yet
        advance(Duration.ofMillis(200));
        long closedAt = closesWithin(Duration.ofSeconds(2));
        assertTrue(closedAt >= 1000 && closedAt <= 1000 + RES.toMillis() + STEP.toMillis(), closedAt + " ms");
        assertEquals(0, reaper.stats().reapsAfterLoopLag());
    }
}
