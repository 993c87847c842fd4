package io.github.idlereaper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Layer 2: every timer is a deadline, tested alone and next to every other timer, in every traffic pattern that
 * triggers one of them: the idle timers, write stall, the heartbeat, the half-close timeout and the age. The bound: a reap comes no earlier than the first deadline the traffic arms, and no later
 * than one tick resolution after it, whatever the other timers are; and a pattern that arms no deadline is never
 * reaped. Time is pushed in by hand.
 */
class DeadlineMatrixTest {

    private static final Duration RES = Duration.ofMillis(100);
    private static final long STEP = RES.toNanos() / 2; // the wheel's tick
    private static final long MS = 1_000_000L;
    /** The heartbeat: interval 300 ms, timeout 100 ms, 2 misses: a silent peer is reaped 500 ms after its last byte. */
    private static final long HB_BOUND = 500 * MS;
    /** When the stall pattern's write meets a peer that reads nothing, after the start. */
    private static final long STALL_START = 200 * MS;
    /** How long a pattern that arms nothing is watched. */
    private static final long WATCH = 6_000 * MS;

    /**
     * In the order the handler breaks a tie between deadlines at the same moment: the idle timers, then the
     * half-close timeout, then the age (looked at only when no timeout has run out), then the heartbeat.
     */
    enum Timer { READ, WRITE, ALL, STALL, HALF_CLOSE, AGE, HEARTBEAT }

    /** What the peer does after the start: which deadlines it arms. */
    enum Traffic {
        /** Nothing comes in; the server keeps writing, and it drains. Arms read idle and the heartbeat. */
        SILENT_IN,
        /** The peer keeps sending; the server writes nothing. Arms write idle. */
        SILENT_OUT,
        /** Nothing either way. Arms read, write and all idle, and the heartbeat. */
        SILENT,
        /** The peer keeps sending; the server's one write meets a peer that stopped reading. Arms write stall. */
        STALLED,
        /**
         * The peer's first byte, then its FIN (it shut its output); the server writes nothing. Arms the half-close
         * timeout, read, write and all idle, and the heartbeat.
         */
        FIN
    }

    /** A channel whose peer can stop reading: flushed messages then stay in the outbound buffer. */
    static final class StallableChannel extends EmbeddedChannel {
        boolean stalled;
        /** While stalled, the next write takes one message (the socket took a little). */
        boolean takeOne;

        StallableChannel() {
            super(false, false);
        }

        @Override
        protected void doWrite(ChannelOutboundBuffer in) throws Exception {
            if (!stalled) {
                super.doWrite(in);
            } else if (takeOne && in.current() != null) {
                takeOne = false;
                in.remove();
            }
        }
    }

    private final FakeTicker ticker = new FakeTicker();

    static Stream<Arguments> configurations() {
        List<Arguments> all = new ArrayList<>();
        for (Timer t : Timer.values()) {
            for (Traffic traffic : Traffic.values()) {
                all.add(Arguments.of(Map.of(t, 1_000L), traffic));
            }
        }
        for (Timer t : Timer.values()) {
            for (Timer other : Timer.values()) {
                if (other == t || other == Timer.HEARTBEAT) {
                    // The heartbeat's bound is fixed (500 ms): it is next to every timer as t's partner.
                    continue;
                }
                for (long otherMs : new long[] {700, 3_000}) {
                    for (Traffic traffic : Traffic.values()) {
                        all.add(Arguments.of(Map.of(t, 1_000L, other, otherMs), traffic));
                    }
                }
            }
        }
        return all.stream();
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("configurations")
    void reapedAtTheFirstArmedDeadline_neverEarly_atMostOneTickLate(Map<Timer, Long> timers, Traffic traffic) {
        Map<Timer, Long> armedAt = armed(timers, traffic);
        Timer first = null;
        for (Map.Entry<Timer, Long> e : armedAt.entrySet()) {
            if (first == null || e.getValue() < armedAt.get(first)) {
                first = e.getKey();
            }
        }
        Result r = run(timers, traffic, first == null ? WATCH : armedAt.get(first) + 2 * RES.toNanos());
        if (first == null) {
            assertNull(r.reason, "nothing armed, yet reaped: " + r);
            return;
        }
        long due = armedAt.get(first);
        assertEquals(reasonOf(first), r.reason, "the first armed deadline decides: " + armedAt);
        assertTrue(r.at >= due, "early by " + (due - r.at) / MS + " ms: " + r);
        assertTrue(r.at <= due + RES.toNanos(), "late by " + (r.at - due) / MS + " ms: " + r);
    }

    /** The deadlines (ns after the start) that the traffic arms, for the configured timers. */
    private static Map<Timer, Long> armed(Map<Timer, Long> timers, Traffic traffic) {
        Map<Timer, Long> at = new EnumMap<>(Timer.class);
        for (Map.Entry<Timer, Long> e : timers.entrySet()) {
            long d = e.getValue() * MS;
            switch (e.getKey()) {
                case READ:
                    if (traffic == Traffic.SILENT_IN || traffic == Traffic.SILENT || traffic == Traffic.FIN) {
                        at.put(Timer.READ, d);
                    }
                    break;
                case WRITE:
                    if (traffic == Traffic.SILENT_OUT || traffic == Traffic.SILENT || traffic == Traffic.FIN) {
                        at.put(Timer.WRITE, d);
                    }
                    break;
                case ALL:
                    if (traffic == Traffic.SILENT || traffic == Traffic.FIN) {
                        at.put(Timer.ALL, d);
                    }
                    break;
                case HALF_CLOSE:
                    if (traffic == Traffic.FIN) {
                        at.put(Timer.HALF_CLOSE, d);
                    }
                    break;
                case AGE:
                    at.put(Timer.AGE, d); // a deadline from the accept, whatever the traffic
                    break;
                case STALL:
                    if (traffic == Traffic.STALLED) {
                        at.put(Timer.STALL, STALL_START + d);
                    }
                    break;
                default:
                    if (traffic == Traffic.SILENT_IN || traffic == Traffic.SILENT || traffic == Traffic.FIN) {
                        at.put(Timer.HEARTBEAT, HB_BOUND);
                    }
            }
        }
        return at;
    }

    private static ReapReason reasonOf(Timer t) {
        switch (t) {
            case READ:
                return ReapReason.READ_IDLE;
            case WRITE:
                return ReapReason.WRITE_IDLE;
            case ALL:
                return ReapReason.ALL_IDLE;
            case STALL:
                return ReapReason.WRITE_STALL;
            case HALF_CLOSE:
                return ReapReason.HALF_CLOSED;
            case AGE:
                return ReapReason.MAX_AGE;
            default:
                return ReapReason.HEARTBEAT_TIMEOUT;
        }
    }

    /** A text ping; the peer never answers in these patterns unless it sends anyway. */
    static final class Ping implements HeartbeatProtocol {
        @Override
        public Object ping(io.netty.channel.Channel channel) {
            return Unpooled.copiedBuffer("PING\n", StandardCharsets.US_ASCII);
        }
    }

    static final class Result {
        ReapReason reason;
        long at;

        @Override
        public String toString() {
            return reason == null ? "not reaped" : reason + " at " + at / MS + " ms";
        }
    }

    private Result run(Map<Timer, Long> timers, Traffic traffic, long until) {
        return run(timers, traffic, until, -1);
    }

    /**
     * Runs one pattern. With {@code idleAt} of zero or more, the channel is marked busy at the start and idle
     * {@code idleAt} ns after it (never, if that is past the end).
     */
    private Result run(Map<Timer, Long> timers, Traffic traffic, long until, long idleAt) {
        Result r = new Result();
        long[] start = new long[1];
        IdleReaper.Builder b = IdleReaper.builder().tickResolution(RES).ticker(ticker).goodbyeTimeout(Duration.ZERO)
                .listener((c, e) -> {
                    if (r.reason == null) {
                        r.reason = e.reason();
                        r.at = ticker.read() - start[0];
                    }
                });
        for (Map.Entry<Timer, Long> e : timers.entrySet()) {
            Duration d = Duration.ofMillis(e.getValue());
            switch (e.getKey()) {
                case READ:
                    b.readIdleTimeout(d);
                    break;
                case WRITE:
                    b.writeIdleTimeout(d);
                    break;
                case ALL:
                    b.allIdleTimeout(d);
                    break;
                case STALL:
                    b.writeStallTimeout(d);
                    break;
                case HALF_CLOSE:
                    b.halfCloseTimeout(d);
                    break;
                case AGE:
                    b.maxConnectionAge(d).maxConnectionAgeJitter(0);
                    break;
                default:
                    b.heartbeat(Duration.ofMillis(300), Duration.ofMillis(100), 2, new Ping());
            }
        }
        IdleReaper reaper = b.build();
        StallableChannel ch = new StallableChannel();
        try {
            ch.pipeline().addFirst(IdleReaper.HANDLER_NAME, reaper.newHandler());
            register(ch);
            LoopWheel wheel = reaper.core().wheelFor(ch.eventLoop());
            // Start a little into a tick, as real traffic does, with a byte each way.
            ticker.advanceNanos(STEP / 3);
            start[0] = ticker.read();
            inbound(ch);
            outbound(ch);
            if (traffic == Traffic.FIN) {
                ch.pipeline().fireUserEventTriggered(io.netty.channel.socket.ChannelInputShutdownEvent.INSTANCE);
            }
            if (idleAt >= 0) {
                IdleReaper.markBusy(ch);
            }
            boolean idleMarked = false;
            boolean stallWritten = false;
            long next = (Math.floorDiv(ticker.read(), STEP) + 1) * STEP;
            while (ch.isActive() && ticker.read() - start[0] < until) {
                ticker.advanceNanos(next - ticker.read());
                next += STEP;
                wheel.advance(ticker.read());
                ch.runPendingTasks();
                drain(ch);
                if (!ch.isActive()) {
                    break;
                }
                long since = ticker.read() - start[0];
                if (idleAt >= 0 && !idleMarked && since >= idleAt) {
                    IdleReaper.markIdle(ch);
                    idleMarked = true;
                }
                if (traffic == Traffic.SILENT_OUT || traffic == Traffic.STALLED) {
                    inbound(ch);
                }
                if (traffic == Traffic.SILENT_IN) {
                    outbound(ch);
                }
                if (traffic == Traffic.STALLED && !stallWritten && since + STEP > STALL_START) {
                    // The stall starts between ticks, while the entry is parked for another deadline.
                    ticker.advanceNanos(start[0] + STALL_START - ticker.read());
                    ch.stalled = true;
                    ch.writeAndFlush(Unpooled.wrappedBuffer(new byte[64 * 1024]));
                    stallWritten = true;
                }
            }
        } finally {
            ch.stalled = false;
            ch.finishAndReleaseAll();
        }
        return r;
    }

    static void register(EmbeddedChannel ch) {
        try {
            ch.register();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    private static void inbound(EmbeddedChannel ch) {
        ch.writeInbound(Unpooled.wrappedBuffer(new byte[] {1}));
        Object m;
        while ((m = ch.readInbound()) != null) {
            ReferenceCountUtil.release(m);
        }
    }

    private static void outbound(StallableChannel ch) {
        ch.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {2}));
        drain(ch);
    }

    static void drain(EmbeddedChannel ch) {
        Object m;
        while ((m = ch.readOutbound()) != null) {
            ReferenceCountUtil.release(m);
        }
    }

    @Test
    void stallWhileBusy_isStillReapedAtItsDeadline() {
        Result r = run(Map.of(Timer.STALL, 1_000L, Timer.READ, 700L), Traffic.STALLED, 10_000 * MS, Long.MAX_VALUE);
        assertEquals(ReapReason.WRITE_STALL, r.reason, "busy holds the idle timers, never the stall");
        assertTrue(r.at >= STALL_START + 1_000 * MS && r.at <= STALL_START + 1_000 * MS + RES.toNanos(), r.toString());
    }

    @Test
    void markIdle_whileAStallIsTimed_doesNotPostponeIt() {
        // The case: markIdle re-placed the entry at the first idle deadline (20 s), past the stall's.
        Result r = run(Map.of(Timer.STALL, 1_000L, Timer.READ, 20_000L), Traffic.STALLED, 30_000 * MS, 600 * MS);
        assertEquals(ReapReason.WRITE_STALL, r.reason);
        assertTrue(r.at >= STALL_START + 1_000 * MS && r.at <= STALL_START + 1_000 * MS + RES.toNanos(), r.toString());
    }

    @Test
    void progressNoFlushSaw_isSeenWithinATick_soTheStallIsNotLate() {
        // A long stall timeout, and the socket taking a little between visits (as when the kernel frees room and
        // the transport writes on its own): that progress must be seen within a tick, not an eighth of 30 s.
        try (StallRig rig = new StallRig(b -> b.writeStallTimeout(Duration.ofSeconds(30)))) {
            rig.ch.write(Unpooled.wrappedBuffer(new byte[1024]));
            rig.ch.writeAndFlush(Unpooled.wrappedBuffer(new byte[1024]));
            long start = rig.ticker.read();
            long progressAt = -1;
            for (int i = 0; i < 800 && rig.ch.isActive(); i++) {
                rig.tick();
                if (progressAt < 0 && rig.ticker.read() - start >= 3_900 * MS) {
                    rig.ticker.advanceNanos(STEP / 5); // just after the tick's visit
                    progressAt = rig.ticker.read();
                    rig.ch.takeOne = true;
                    rig.ch.unsafe().flush(); // the transport's own write, no pipeline flush
                }
            }
            assertEquals(ReapReason.WRITE_STALL, rig.reaps.get(0).reason());
            long after = rig.ticker.read() - progressAt;
            assertTrue(after >= 30_000 * MS && after <= 30_000 * MS + RES.toNanos(),
                    "reaped " + after / MS + " ms after the last progress");
        }
    }

    @Test
    void writeFlushedLater_theStallRunsFromTheFlush_notFromTheWrite() {
        try (StallRig rig = new StallRig(b -> b.writeStallTimeout(Duration.ofSeconds(1)))) {
            long start = rig.ticker.read();
            rig.ch.write(Unpooled.wrappedBuffer(new byte[1024])); // written now, flushed 800 ms later
            long flushedAt = -1;
            for (int i = 0; i < 100 && rig.ch.isActive(); i++) {
                rig.tick();
                if (flushedAt < 0 && rig.ticker.read() - start >= 800 * MS) {
                    flushedAt = rig.ticker.read();
                    rig.ch.flush();
                }
            }
            assertEquals(ReapReason.WRITE_STALL, rig.reaps.get(0).reason());
            long after = rig.ticker.read() - flushedAt;
            assertTrue(after >= 1_000 * MS && after <= 1_000 * MS + RES.toNanos(),
                    "reaped " + after / MS + " ms after the flush");
            long stalled = rig.reaps.get(0).idleFor().toMillis();
            assertTrue(stalled >= 1_000 && stalled <= 1_000 + RES.toMillis(),
                    "the stall it reports runs from the flush: " + rig.reaps.get(0).message());
        }
    }

    @Test
    void stallAlone_startingLongAfterTheLastVisit_isReapedWithinATickOfItsTimeout() {
        // The case: writeStallTimeout(1s) alone closed a stall 25.6 s after it began.
        Result r = run(Map.of(Timer.STALL, 1_000L), Traffic.STALLED, 10_000 * MS);
        assertEquals(ReapReason.WRITE_STALL, r.reason);
        assertTrue(r.at >= STALL_START + 1_000 * MS && r.at <= STALL_START + 1_000 * MS + RES.toNanos(), r.toString());
    }
}
