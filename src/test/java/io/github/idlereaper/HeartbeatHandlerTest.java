package io.github.idlereaper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Layer 2: the heartbeat's state machine on an EmbeddedChannel, with time pushed in by hand one wheel tick at a
 * time. Pings and goodbyes are recorded where they leave the pipeline's tail, with the fake time they left at.
 */
class HeartbeatHandlerTest {

    private static final Duration RES = Duration.ofMillis(100);
    private static final Duration STEP = RES.dividedBy(2);
    private static final Duration INTERVAL = Duration.ofSeconds(2);
    private static final Duration TIMEOUT = Duration.ofMillis(500);

    private final FakeTicker ticker = new FakeTicker();
    private final List<ReapEvent> listened = new ArrayList<>();
    /** Each outbound message that reached the tail recorder: "ms text". */
    private final List<String> out = new ArrayList<>();
    private final List<Long> pingTimes = new ArrayList<>();
    /** The time of each channel's first ping. */
    private final java.util.Map<io.netty.channel.Channel, Long> firstPings = new java.util.HashMap<>();
    private final List<EmbeddedChannel> channels = new ArrayList<>();
    private IdleReaper reaper;
    private long start;
    /** The first pings' jitter source, when a test fixes it. */
    private java.util.function.LongUnaryOperator jitter;

    /** A protocol with a text ping and goodbye; ping() answers null until {@code ready}. */
    private static final class Proto implements HeartbeatProtocol {
        boolean ready = true;
        int pingsAsked;

        @Override
        public Object ping(io.netty.channel.Channel channel) {
            pingsAsked++;
            return ready ? Unpooled.copiedBuffer("PING\n", StandardCharsets.US_ASCII) : null;
        }

        @Override
        public Object goodbye(io.netty.channel.Channel channel, ReapReason reason) {
            return Unpooled.copiedBuffer("BYE " + reason + "\n", StandardCharsets.US_ASCII);
        }

        @Override
        public boolean recognizesPeerPings() {
            return true;
        }

        @Override
        public boolean isPeerPing(Object msg) {
            return msg instanceof ByteBuf && ((ByteBuf) msg).toString(StandardCharsets.US_ASCII).equals("PING");
        }
    }

    private final Proto proto = new Proto();

    /** Records what the pipeline writes, at the tail end nearest the socket: after the reaper would be wrong. */
    private final class Recorder extends ChannelOutboundHandlerAdapter {
        @Override
        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
            String text = ((ByteBuf) msg).toString(StandardCharsets.US_ASCII).trim();
            long ms = elapsedMillis();
            out.add(ms + " " + text);
            if (text.equals("PING")) {
                pingTimes.add(ms);
                firstPings.putIfAbsent(ctx.channel(), ms);
            }
            ctx.write(msg, promise);
        }
    }

    private EmbeddedChannel open(Consumer<IdleReaper.Builder> config) {
        if (reaper == null) {
            IdleReaper.Builder b = IdleReaper.builder().tickResolution(RES).ticker(ticker)
                    .listener((c, e) -> listened.add(e));
            config.accept(b);
            reaper = b.build();
            if (jitter != null) {
                reaper.core().jitter(jitter);
            }
            start = ticker.read();
        }
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.pipeline().addLast(new Recorder());
        ChannelHandlerContextHolder.add(ch, reaper);
        channels.add(ch);
        return ch;
    }

    /** Adds the reaper first, and its watchers, as install() does. */
    private static final class ChannelHandlerContextHolder {
        static void add(EmbeddedChannel ch, IdleReaper reaper) {
            io.netty.channel.ChannelHandler h = reaper.newHandler();
            ch.pipeline().addFirst(IdleReaper.HANDLER_NAME, h);
            reaper.addWatchers(ch, h);
        }
    }

    private EmbeddedChannel open() {
        return open(b -> b.heartbeat(INTERVAL, TIMEOUT, 3, proto));
    }

    @AfterEach
    void finish() {
        for (EmbeddedChannel ch : channels) {
            ch.finishAndReleaseAll();
        }
    }

    private void advance(Duration d) {
        for (long n = d.toNanos() / STEP.toNanos(); n > 0; n--) {
            ticker.advance(STEP);
            for (EmbeddedChannel ch : channels) {
                reaper.core().wheelFor(ch.eventLoop()).advance(ticker.read());
                ch.runPendingTasks();
            }
            drainOutbound();
        }
    }

    private void drainOutbound() {
        for (EmbeddedChannel ch : channels) {
            Object m;
            while ((m = ch.readOutbound()) != null) {
                ReferenceCountUtil.release(m);
            }
        }
    }

    private long elapsedMillis() {
        return Duration.ofNanos(ticker.read() - start).toMillis();
    }

    private static void inbound(EmbeddedChannel ch, String text) {
        ch.writeInbound(Unpooled.copiedBuffer(text, StandardCharsets.US_ASCII));
        Object m;
        while ((m = ch.readInbound()) != null) {
            ReferenceCountUtil.release(m);
        }
    }

    private long closesWithin(EmbeddedChannel ch, Duration max) {
        long end = ticker.read() + max.toNanos();
        while (ch.isActive()) {
            assertTrue(ticker.read() < end, "still open after " + max + "; out: " + out);
            advance(STEP);
        }
        return elapsedMillis();
    }

    private static ReaperHandler handler(EmbeddedChannel ch) {
        return ch.pipeline().get(ReaperHandler.class);
    }

    @Test
    void silentPeer_isPingedMaxMissedTimes_thenReapedWithTheNumbers() {
        EmbeddedChannel ch = open();
        long closedAt = closesWithin(ch, Duration.ofSeconds(10));
        assertEquals(3, pingTimes.size(), "three pings, then the reap: " + out);
        long first = pingTimes.get(0);
        assertTrue(first > 0 && first <= INTERVAL.toMillis() + RES.toMillis(), "first ping at " + first);
        for (int i = 1; i < 3; i++) {
            long gap = pingTimes.get(i) - pingTimes.get(i - 1);
            assertTrue(gap >= TIMEOUT.toMillis() && gap <= TIMEOUT.toMillis() + RES.toMillis(),
                    "a miss is declared after the timeout and at most a tick later: gap " + gap);
        }
        long afterLast = closedAt - pingTimes.get(2);
        assertTrue(afterLast >= TIMEOUT.toMillis() && afterLast <= TIMEOUT.toMillis() + RES.toMillis(),
                "reaped " + afterLast + "ms after the last ping");
        long bound = INTERVAL.toMillis() + 3 * TIMEOUT.toMillis() + RES.toMillis();
        assertTrue(closedAt <= bound, "reaped at " + closedAt + "ms, bound " + bound + "ms");
        assertEquals(1, listened.size());
        ReapEvent e = listened.get(0);
        assertEquals(ReapReason.HEARTBEAT_TIMEOUT, e.reason());
        assertEquals("no inbound data within 500ms after ping (3 of 3 missed)", e.message());
        assertEquals(3, e.count());
        assertEquals(3, e.of());
        assertTrue(e.idleFor().compareTo(TIMEOUT) >= 0);
        assertEquals("BYE HEARTBEAT_TIMEOUT", out.get(out.size() - 1).split(" ", 2)[1],
                "the goodbye is the last thing written: " + out);
        assertEquals(1, reaper.stats().reaped(ReapReason.HEARTBEAT_TIMEOUT));
    }

    @Test
    void silentPeers_overTheWholeJitterRange_areAllReapedWithinTheBound_neverEarly() {
        // Every possible first-ping tick, in turn (10 times each over 400 channels), so the latest first ping (the
        // case that breaks a bound with a tick lost per miss) is exercised on every run, deterministically.
        long[] next = {0};
        jitter = bound -> next[0]++ % bound;
        open();
        for (int i = 1; i < 400; i++) {
            open(null);
        }
        java.util.Map<EmbeddedChannel, Long> closedAt = new java.util.HashMap<>();
        for (EmbeddedChannel ch : channels) {
            ch.closeFuture().addListener(f -> closedAt.put(ch, elapsedMillis()));
        }
        long bound = INTERVAL.toMillis() + 3 * TIMEOUT.toMillis() + RES.toMillis();
        advance(Duration.ofMillis(bound + RES.toMillis()));
        assertEquals(channels.size(), closedAt.size(), "every silent peer reaped within " + bound + "ms");
        long latestFirst = 0;
        for (EmbeddedChannel ch : channels) {
            long first = firstPings.get(ch);
            latestFirst = Math.max(latestFirst, first);
            long closed = closedAt.get(ch);
            assertTrue(closed <= bound, "reaped at " + closed + "ms (first ping " + first + "ms), bound " + bound);
            assertTrue(closed - first >= 3 * TIMEOUT.toMillis(), "three full timeouts after the first ping: "
                    + first + " to " + closed);
        }
        assertTrue(latestFirst >= INTERVAL.toMillis() - STEP.toMillis(), "the latest first ping was drawn: "
                + latestFirst);
        assertEquals(channels.size(), reaper.stats().reaped(ReapReason.HEARTBEAT_TIMEOUT));
    }

    @Test
    void missesAreTimedFromTheRealSend_evenWhenTheLoopRunsLate() {
        // Every tick is processed 7 ms late, so each ping leaves 7 ms into its tick: a miss may not come before a
        // full timeout after it, and comes at most one tick later.
        EmbeddedChannel ch = open();
        ticker.advance(Duration.ofMillis(7));
        long closed = closesWithin(ch, Duration.ofSeconds(10));
        assertEquals(3, pingTimes.size(), "out: " + out);
        pingTimes.add(closed);
        for (int i = 1; i < pingTimes.size(); i++) {
            long gap = pingTimes.get(i) - pingTimes.get(i - 1);
            assertTrue(gap >= TIMEOUT.toMillis() && gap <= TIMEOUT.toMillis() + STEP.toMillis(), "gap " + gap);
        }
        assertTrue(listened.get(0).idleFor().compareTo(TIMEOUT) >= 0, "idle for " + listened.get(0).idleFor());
    }

    @Test
    void answeringPeer_isNeverReaped_andAnyInboundByteProvesLife() {
        EmbeddedChannel ch = open();
        int answered = 0;
        for (int i = 0; i < 10 * INTERVAL.toMillis() / STEP.toMillis(); i++) {
            advance(STEP);
            if (pingTimes.size() > answered) {
                answered = pingTimes.size();
                advance(Duration.ofMillis(200));
                assertEquals(1, HeartbeatLogic.pingsOutstanding(handler(ch)), "probing");
                inbound(ch, "not a pong, just bytes");
            }
        }
        assertTrue(ch.isActive(), "out: " + out);
        assertTrue(pingTimes.size() >= 8, "pinged about once per interval: " + pingTimes);
        for (int i = 1; i < pingTimes.size(); i++) {
            long gap = pingTimes.get(i) - pingTimes.get(i - 1);
            assertTrue(gap >= INTERVAL.toMillis(), "pings come an interval after the last inbound byte: " + gap);
        }
        assertEquals(0, reaper.stats().reapedTotal());
    }

    @Test
    void chattyPeer_isPingedAtMostOnce() {
        EmbeddedChannel ch = open();
        for (int i = 0; i < 40; i++) {
            advance(Duration.ofMillis(500));
            inbound(ch, "x");
        }
        assertTrue(pingTimes.size() <= 1, "only the jittered first ping: " + pingTimes);
        assertTrue(ch.isActive());
    }

    @Test
    void firstPings_areSpreadOverTheInterval() {
        long seed = Long.getLong("idlereaper.seed", 20261201L);
        System.out.println("firstPings_areSpreadOverTheInterval: seed " + seed + " (-Didlereaper.seed=N to repeat)");
        java.util.SplittableRandom random = new java.util.SplittableRandom(seed);
        jitter = random::nextLong;
        open(b -> b.heartbeat(INTERVAL, TIMEOUT, 3, proto));
        for (int i = 1; i < 40; i++) {
            open(null);
        }
        advance(INTERVAL.plus(RES));
        assertEquals(40, firstPings.size(), "every connection pinged within the first interval + a tick");
        List<Long> first = new ArrayList<>(firstPings.values());
        long min = first.stream().mapToLong(Long::longValue).min().getAsLong();
        long max = first.stream().mapToLong(Long::longValue).max().getAsLong();
        long distinct = first.stream().distinct().count();
        assertTrue(min > 0, "no ping at registration itself");
        assertTrue(max - min >= INTERVAL.toMillis() / 2, "spread " + min + ".." + max);
        assertTrue(distinct >= 10, "not synchronised: " + first);
    }

    @Test
    void notReady_noPingIsSent_andPingsStartOnceReady() {
        proto.ready = false;
        EmbeddedChannel ch = open();
        advance(Duration.ofSeconds(10));
        assertTrue(proto.pingsAsked >= 3, "asked again every interval");
        assertTrue(pingTimes.isEmpty(), "no ping while not ready");
        assertTrue(ch.isActive(), "never reaped for pings it could not send");
        proto.ready = true;
        long readyAt = elapsedMillis();
        long closedAt = closesWithin(ch, Duration.ofSeconds(10));
        assertTrue(closedAt - readyAt <= INTERVAL.toMillis() + 3 * TIMEOUT.toMillis() + RES.toMillis(),
                "reaped " + (closedAt - readyAt) + "ms after it became ready");
    }

    @Test
    void pingAbuse_flooderIsReapedOnTheThirdStrike_withTheGoodbye() {
        EmbeddedChannel ch = open(b -> b.heartbeat(INTERVAL, TIMEOUT, 3, proto)
                .permitPeerPings(Duration.ofSeconds(1)));
        for (int i = 0; i < 3; i++) {
            inbound(ch, "PING");
            advance(Duration.ofMillis(100));
        }
        assertTrue(ch.isActive(), "two strikes are allowed");
        inbound(ch, "PING");
        advance(STEP);
        assertFalse(ch.isActive(), "the third strike reaps");
        ReapEvent e = listened.get(0);
        assertEquals(ReapReason.PING_ABUSE, e.reason());
        assertEquals("peer pinged again after 100ms, below the permitted 1000ms (3 strikes, 2 allowed)",
                e.message());
        assertTrue(out.get(out.size() - 1).endsWith("BYE PING_ABUSE"), "goodbye before the close: " + out);
    }

    @Test
    void pingAbuse_pingsReadInOnePass_areNotStrikes_butAFlooderStrikesOncePerPass() {
        EmbeddedChannel ch = open(b -> b.heartbeat(INTERVAL, TIMEOUT, 3, proto)
                .permitPeerPings(Duration.ofSeconds(1)));
        // A polite peer's pings that waited in the accept queue, or behind a loop held up, come in one read: how far
        // apart it sent them is not known, so they are not strikes (the soak reaped such peers at 15,000
        // connections before this rule).
        for (int round = 0; round < 3; round++) {
            inboundTogether(ch, "PING", 6);
            advance(Duration.ofMillis(1200));
            inbound(ch, "PING");
            advance(Duration.ofMillis(1200));
        }
        assertTrue(ch.isActive(), "pings read together are no strikes");
        // A flooder whose pings are read together still strikes once per read, from the last ping of the one before.
        for (int pass = 0; pass < 3; pass++) {
            inboundTogether(ch, "PING", 3);
            advance(Duration.ofMillis(100));
        }
        assertTrue(ch.isActive(), "the first read after a permitted gap clears; two strikes are allowed");
        inboundTogether(ch, "PING", 3);
        advance(STEP);
        assertFalse(ch.isActive(), "the third read that comes too soon is the third strike");
        assertEquals(ReapReason.PING_ABUSE, listened.get(0).reason());
    }

    /** {@code n} copies of {@code text} in one read (one {@code channelReadComplete}), as a burst off the socket. */
    private static void inboundTogether(EmbeddedChannel ch, String text, int n) {
        Object[] bufs = new Object[n];
        for (int i = 0; i < n; i++) {
            bufs[i] = Unpooled.copiedBuffer(text, StandardCharsets.US_ASCII);
        }
        ch.writeInbound(bufs);
        Object m;
        while ((m = ch.readInbound()) != null) {
            ReferenceCountUtil.release(m);
        }
    }

    @Test
    void pingAbuse_peerAtThePermittedRate_isNotReaped() {
        EmbeddedChannel ch = open(b -> b.heartbeat(INTERVAL, TIMEOUT, 3, proto)
                .permitPeerPings(Duration.ofSeconds(1)));
        for (int i = 0; i < 30; i++) {
            inbound(ch, "PING");
            advance(Duration.ofSeconds(1));
        }
        assertTrue(ch.isActive());
        // Two quick ones in a row are tolerated, and a permitted one clears them.
        for (int i = 0; i < 5; i++) {
            inbound(ch, "PING");
            advance(Duration.ofMillis(100));
            inbound(ch, "PING");
            advance(Duration.ofMillis(100));
            inbound(ch, "PING");
            advance(Duration.ofSeconds(1));
        }
        assertTrue(ch.isActive());
        assertEquals(0, reaper.stats().reapedTotal());
    }

    @Test
    void overrideHeartbeat_appliesToOneChannel_andDisabledStopsPings() {
        EmbeddedChannel a = open();
        EmbeddedChannel b = open(null);
        IdleReaper.overrideHeartbeat(b, Heartbeat.DISABLED);
        assertEquals(Heartbeat.DISABLED, IdleReaper.channelHeartbeat(b));
        closesWithin(a, Duration.ofSeconds(10));
        assertTrue(b.isActive(), "the other channel has no heartbeat any more");
        advance(Duration.ofSeconds(10));
        assertTrue(b.isActive());
        assertEquals(3, pingTimes.size(), "only channel a pinged, three times before its reap: " + pingTimes);
    }

    @Test
    void overrideTimeouts_changesOneChannelsReadIdle() {
        EmbeddedChannel a = open(b -> b.readIdleTimeout(Duration.ofSeconds(60))
                .heartbeat(Duration.ZERO, Duration.ZERO, 1, proto));
        EmbeddedChannel b = open(null);
        IdleReaper.overrideTimeouts(b, IdleReaper.channelTimeouts(b).toBuilder()
                .readIdle(Duration.ofSeconds(3)).build());
        assertEquals(Duration.ofSeconds(3), IdleReaper.channelTimeouts(b).readIdle());
        assertEquals(Duration.ofSeconds(60), IdleReaper.channelTimeouts(a).readIdle());
        long closedAt = closesWithin(b, Duration.ofSeconds(5));
        assertTrue(closedAt >= 3000 && closedAt <= 3000 + RES.toMillis(), "closed at " + closedAt);
        assertTrue(a.isActive());
        assertEquals(ReapReason.READ_IDLE, listened.get(0).reason());
        // The goodbye goes for every reason the protocol has one for, not only heartbeats.
        assertTrue(out.get(out.size() - 1).endsWith("BYE READ_IDLE"), "out: " + out);
    }

    @Test
    void overrides_thatBreakTheRules_areRejectedOnTheCallersThread() {
        EmbeddedChannel ch = open(b -> b.readIdleTimeout(Duration.ofSeconds(60)).heartbeat(INTERVAL, TIMEOUT, 3,
                proto));
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> IdleReaper.overrideTimeouts(ch, IdleTimeouts.builder().readIdle(Duration.ofSeconds(3)).build()));
        assertEquals("heartbeat interval + timeout × maxMissed (PT3.5S) must not exceed readIdleTimeout (PT3S)",
                e.getMessage());
        e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> IdleReaper.overrideHeartbeat(ch, Heartbeat.of(Duration.ofSeconds(1), Duration.ofMillis(50), 1,
                        proto)));
        assertEquals("heartbeat timeout (PT0.05S) must not be shorter than tickResolution (PT0.1S)", e.getMessage());
        assertEquals(Duration.ofSeconds(60), IdleReaper.channelTimeouts(ch).readIdle(), "unchanged");
    }

    @Test
    void goodbye_channelClosedMidWrite_leaksNothing() {
        EmbeddedChannel ch = open();
        // Close the channel from inside the goodbye's write: the reaper's flush and close then meet a closed
        // channel, and Netty must release what is still queued. PARANOID leak detection checks the class.
        ch.pipeline().addLast(new ChannelOutboundHandlerAdapter() {
            @Override
            public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
                if (((ByteBuf) msg).toString(StandardCharsets.US_ASCII).startsWith("BYE")) {
                    ctx.write(msg, promise);
                    ctx.channel().close();
                    return;
                }
                ctx.write(msg, promise);
            }
        });
        closesWithin(ch, Duration.ofSeconds(10));
        assertEquals(ReapReason.HEARTBEAT_TIMEOUT, listened.get(0).reason());
        assertTrue(out.get(out.size() - 1).endsWith("BYE HEARTBEAT_TIMEOUT"), "the goodbye was written: " + out);
    }

    @Test
    void stallingGoodbye_isForceClosedAfterTheGoodbyeTimeout() {
        EmbeddedChannel ch = open(b -> b.heartbeat(INTERVAL, TIMEOUT, 1, proto)
                .goodbyeTimeout(Duration.ofMillis(300)));
        // Swallow the goodbye's promise: the write never completes, so only the wheel's bound closes the channel.
        ch.pipeline().addLast(new ChannelOutboundHandlerAdapter() {
            @Override
            public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
                if (((ByteBuf) msg).toString(StandardCharsets.US_ASCII).startsWith("BYE")) {
                    ReferenceCountUtil.release(msg);
                    return;
                }
                ctx.write(msg, promise);
            }
        });
        while (listened.isEmpty()) {
            advance(STEP);
        }
        long reapedAt = elapsedMillis();
        assertTrue(ch.isActive(), "waiting for the goodbye");
        long closedAt = closesWithin(ch, Duration.ofSeconds(2));
        assertTrue(closedAt - reapedAt >= 300 && closedAt - reapedAt <= 300 + RES.toMillis(),
                "forced close " + (closedAt - reapedAt) + "ms after the reap");
    }

    @Test
    void handler_withTheHeartbeatField_stillFitsTheMemoryBudget() {
        long size = org.openjdk.jol.info.ClassLayout.parseClass(ReaperHandler.class).instanceSize();
        assertTrue(size <= 64, "ReaperHandler is " + size + " bytes");
    }
}
