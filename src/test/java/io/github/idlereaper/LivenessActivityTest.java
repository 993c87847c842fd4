package io.github.idlereaper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
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
 * Layer 2: liveness (any inbound byte) is not activity (application messages, finished work). The heartbeat reads
 * the first, the idle timers the second. Time is pushed in by hand.
 */
class LivenessActivityTest {

    private static final Duration RES = Duration.ofMillis(100);
    private static final long STEP = RES.toNanos() / 2;
    private static final long MS = 1_000_000L;

    private final FakeTicker ticker = new FakeTicker();
    private final List<ReapEvent> reaps = new ArrayList<>();
    private final List<Long> reapTimes = new ArrayList<>();
    private final List<Long> pingTimes = new ArrayList<>();
    private IdleReaper reaper;
    private EmbeddedChannel ch;
    private LoopWheel wheel;
    private long start;

    /** Pings "PING"; recognises "PING" from the peer and "PONG" as heartbeat frames, after a handler "decoder". */
    private final class Proto implements HeartbeatProtocol {
        final boolean recognizes;

        Proto(boolean recognizes) {
            this.recognizes = recognizes;
        }

        @Override
        public Object ping(io.netty.channel.Channel channel) {
            pingTimes.add(ticker.read() - start);
            return Unpooled.copiedBuffer("PING", StandardCharsets.US_ASCII);
        }

        @Override
        public boolean isPeerPing(Object msg) {
            return recognizes && text(msg).equals("PING");
        }

        @Override
        public boolean recognizesPeerPings() {
            return recognizes;
        }

        @Override
        public boolean isHeartbeat(Object msg) {
            return recognizes && (text(msg).equals("PING") || text(msg).equals("PONG"));
        }

        @Override
        public String placeAfter(ChannelPipeline pipeline) {
            return "decoder";
        }
    }

    private static String text(Object msg) {
        return msg instanceof ByteBuf ? ((ByteBuf) msg).toString(StandardCharsets.US_ASCII) : String.valueOf(msg);
    }

    /** A decoder that keeps bytes until a newline, then passes the line on (without it), as a frame decoder does. */
    private static final class Lines extends io.netty.handler.codec.ByteToMessageDecoder {
        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
            int eol = in.indexOf(in.readerIndex(), in.writerIndex(), (byte) '\n');
            if (eol >= 0) {
                out.add(in.readRetainedSlice(eol - in.readerIndex()));
                in.skipBytes(1);
            }
        }
    }

    private boolean lineDecoder;

    private void open(Consumer<IdleReaper.Builder> config) {
        IdleReaper.Builder b = IdleReaper.builder().tickResolution(RES).ticker(ticker).goodbyeTimeout(Duration.ZERO)
                .listener((c, e) -> {
                    reaps.add(e);
                    reapTimes.add(ticker.read() - start);
                });
        config.accept(b);
        reaper = b.build();
        ch = new EmbeddedChannel();
        ch.pipeline().addLast("decoder", lineDecoder ? new Lines() : new ChannelInboundHandlerAdapter());
        ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ReferenceCountUtil.release(msg);
            }
        });
        io.netty.channel.ChannelHandler h = reaper.newHandler();
        ch.pipeline().addFirst(IdleReaper.HANDLER_NAME, h);
        reaper.addWatchers(ch, h);
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

    /** Advances one wheel tick at a time; {@code each} runs after each tick. */
    private void advance(Duration d, Runnable each) {
        advance(d, each, 0);
    }

    /** The same, with the loop running each tick {@code lateNanos} after it starts. */
    private void advance(Duration d, Runnable each, long lateNanos) {
        long end = ticker.read() + d.toNanos();
        long next = (Math.floorDiv(ticker.read() - lateNanos, STEP) + 1) * STEP + lateNanos;
        while (next <= end && ch.isActive()) {
            ticker.advanceNanos(next - ticker.read());
            next += STEP;
            wheel.advance(ticker.read());
            ch.runPendingTasks();
            drainOutbound();
            if (ch.isActive()) {
                each.run();
            }
        }
    }

    private void drainOutbound() {
        Object m;
        while ((m = ch.readOutbound()) != null) {
            ReferenceCountUtil.release(m);
        }
    }

    private void send(String text) {
        ch.writeInbound(Unpooled.copiedBuffer(text, StandardCharsets.US_ASCII));
    }

    /** Answers every ping that went out since the last look with a PONG. */
    private Runnable answeringPeer() {
        int[] answered = {0};
        return () -> {
            while (answered[0] < pingTimes.size()) {
                answered[0]++;
                send("PONG");
            }
        };
    }

    private HeartbeatProtocol proto(boolean recognizes) {
        return new Proto(recognizes);
    }

    @Test
    void markIdle_isActivityNotLiveness_soASilentPeerIsStillReapedByTheHeartbeat() {
        // The case: a silent peer whose server side does a unit of work every 400 ms was never reaped.
        open(b -> b.heartbeat(Duration.ofMillis(300), Duration.ofMillis(100), 2, proto(false)));
        send("hello");
        int[] n = {0};
        advance(Duration.ofSeconds(5), () -> {
            if (++n[0] % 8 == 0) { // every 400 ms
                IdleReaper.markBusy(ch);
                IdleReaper.markIdle(ch);
            }
        });
        assertEquals(1, reaps.size(), "reaped");
        assertEquals(ReapReason.HEARTBEAT_TIMEOUT, reaps.get(0).reason());
        assertTrue(reapTimes.get(0) <= 500 * MS + RES.toNanos(), "within the heartbeat's bound: " + reapTimes);
    }

    @Test
    void peerThatOnlyAnswersPings_isAliveButIdle_andReapedByReadIdle() {
        open(b -> b.readIdleTimeout(Duration.ofSeconds(1))
                .heartbeat(Duration.ofMillis(300), Duration.ofMillis(100), 2, proto(true)));
        send("hello");
        advance(Duration.ofSeconds(5), answeringPeer());
        assertTrue(pingTimes.size() >= 2, "pinged, and answered: " + pingTimes);
        assertEquals(List.of(ReapReason.READ_IDLE), reaps.stream().map(ReapEvent::reason).toList());
        assertTrue(reapTimes.get(0) >= 1_000 * MS && reapTimes.get(0) <= 1_000 * MS + RES.toNanos(),
                "at the read idle timeout: " + reapTimes);
    }

    @Test
    void heartbeatIsActivity_restoresTheOldRule() {
        open(b -> b.readIdleTimeout(Duration.ofSeconds(1)).heartbeatIsActivity(true)
                .heartbeat(Duration.ofMillis(300), Duration.ofMillis(100), 2, proto(true)));
        send("hello");
        advance(Duration.ofSeconds(5), answeringPeer());
        assertTrue(reaps.isEmpty(), "answered pings keep it open: " + reaps);
    }

    @Test
    void withoutRecognition_everyByteIsBoth_asBefore() {
        open(b -> b.readIdleTimeout(Duration.ofSeconds(1))
                .heartbeat(Duration.ofMillis(300), Duration.ofMillis(100), 2, proto(false)));
        send("hello");
        advance(Duration.ofSeconds(5), answeringPeer());
        assertTrue(reaps.isEmpty(), "a pong it cannot tell from data is activity: " + reaps);
    }

    @Test
    void peersOwnPings_areNotActivity() {
        open(b -> b.readIdleTimeout(Duration.ofSeconds(1)).heartbeat(Duration.ZERO, Duration.ZERO, 1, proto(true)));
        send("hello");
        advance(Duration.ofSeconds(3), () -> send("PING"));
        assertEquals(List.of(ReapReason.READ_IDLE), reaps.stream().map(ReapEvent::reason).toList());
    }

    @Test
    void applicationMessages_areActivity() {
        open(b -> b.readIdleTimeout(Duration.ofSeconds(1))
                .heartbeat(Duration.ofMillis(300), Duration.ofMillis(100), 2, proto(true)));
        advance(Duration.ofSeconds(5), () -> send("data"));
        assertTrue(reaps.isEmpty(), reaps.toString());
        assertTrue(pingTimes.isEmpty(), "a peer that sends is never pinged: " + pingTimes);
    }

    @Test
    void theReapersOwnPings_areNotWriteActivity() {
        open(b -> b.writeIdleTimeout(Duration.ofSeconds(1))
                .heartbeat(Duration.ofMillis(300), Duration.ofMillis(100), 2, proto(false)));
        send("hello");
        advance(Duration.ofSeconds(5), answeringPeer());
        assertTrue(pingTimes.size() >= 2, "pinged: " + pingTimes);
        assertEquals(List.of(ReapReason.WRITE_IDLE), reaps.stream().map(ReapEvent::reason).toList());
        assertTrue(reapTimes.get(0) <= 1_000 * MS + RES.toNanos(), "pings did not push it back: " + reapTimes);
    }

    @Test
    void aLargeFrameStillArriving_isActivity() {
        // A slow upload of one large frame: the decoder keeps its bytes, no message reaches the watch for seconds.
        lineDecoder = true;
        open(b -> b.readIdleTimeout(Duration.ofSeconds(1))
                .heartbeat(Duration.ofMillis(300), Duration.ofMillis(100), 2, proto(true)));
        advance(Duration.ofSeconds(4), () -> send("x"));
        assertTrue(reaps.isEmpty(), "reaped mid-frame: " + reaps);
        advance(Duration.ofSeconds(2), () -> { });
        assertEquals(List.of(ReapReason.HEARTBEAT_TIMEOUT), reaps.stream().map(ReapEvent::reason).toList(),
                "and reaped once it stops (silent: the heartbeat's bound comes first)");
    }

    @Test
    void pongsACodecWritesOnItsOwn_areNotWriteActivity() {
        // Below the watch, a codec answers the peer's PING with PONG itself (an HTTP/2 PING ack, a WebSocket pong).
        open(b -> b.allIdleTimeout(Duration.ofSeconds(1)).heartbeat(Duration.ZERO, Duration.ZERO, 1, proto(true)));
        ch.pipeline().addAfter(IdleReaper.HANDLER_NAME, "autoPong", new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                if (text(msg).equals("PING")) {
                    ctx.writeAndFlush(Unpooled.copiedBuffer("PONG", StandardCharsets.US_ASCII));
                }
                ctx.fireChannelRead(msg);
            }
        });
        send("hello");
        advance(Duration.ofSeconds(3), () -> send("PING"));
        assertEquals(List.of(ReapReason.ALL_IDLE), reaps.stream().map(ReapEvent::reason).toList());
        assertTrue(reapTimes.get(0) <= 1_000 * MS + RES.toNanos(), "at the all idle timeout: " + reapTimes);
    }

    @Test
    void pingWhoseWriteClosesTheChannel_leavesTheWheel() {
        open(b -> b.heartbeat(Duration.ofMillis(300), Duration.ofMillis(100), 2, proto(false)));
        ch.pipeline().addFirst(new io.netty.channel.ChannelOutboundHandlerAdapter() {
            @Override
            public void write(ChannelHandlerContext ctx, Object msg, io.netty.channel.ChannelPromise promise) {
                ReferenceCountUtil.release(msg);
                ctx.close();
            }
        });
        send("hello");
        advance(Duration.ofSeconds(1), () -> { });
        assertEquals(1, pingTimes.size());
        assertTrue(!ch.isActive());
        ReaperHandler h = ch.pipeline().get(ReaperHandler.class);
        assertTrue(h == null || !h.linked(), "not linked back into the wheel");
        assertEquals(0, wheel.size(), "the wheel holds no dead pipeline");
    }

    @Test
    void markIdle_whileAPingIsOutstanding_doesNotEndTheProbe() {
        open(b -> b.heartbeat(Duration.ofMillis(300), Duration.ofMillis(100), 1, proto(false)));
        send("hello");
        advance(Duration.ofMillis(350), () -> { });
        assertEquals(1, pingTimes.size(), "probing");
        IdleReaper.markBusy(ch);
        IdleReaper.markIdle(ch);
        advance(Duration.ofMillis(300), () -> { });
        assertEquals(List.of(ReapReason.HEARTBEAT_TIMEOUT), reaps.stream().map(ReapEvent::reason).toList());
    }

    @Test
    void firstPing_waitsForAWholeIntervalOfSilence_onceThePeerHasSpoken() {
        // The case: a client sending every 10 ms still got a ping at 5 s.
        open(b -> b.heartbeat(Duration.ofMillis(500), Duration.ofMillis(100), 2, proto(false)));
        advance(Duration.ofSeconds(5), () -> send("x"));
        assertTrue(pingTimes.isEmpty(), "pinged a chatty peer at " + pingTimes);
        long quietFrom = ticker.read() - start;
        advance(Duration.ofMillis(700), () -> { });
        assertEquals(2, pingTimes.size(), "the ping, and the one after its miss");
        long gap = pingTimes.get(0) - quietFrom;
        assertTrue(gap >= 500 * MS && gap <= 500 * MS + RES.toNanos(), "ping " + gap / MS + " ms after silence");
    }

    @Test
    void heartbeatReap_reportsTheTimeSinceTheLastPing_withinAnEighthOfATick() {
        open(b -> b.heartbeat(Duration.ofMillis(300), Duration.ofMillis(200), 1, proto(false)));
        send("hello");
        advance(Duration.ofSeconds(2), () -> { }, STEP * 2 / 5); // the loop runs 20 ms into each 50 ms tick
        assertEquals(1, reaps.size());
        long real = reapTimes.get(0) - pingTimes.get(0);
        long reported = reaps.get(0).idleFor().toNanos();
        assertTrue(reported >= 200 * MS, "never below the limit: " + reported);
        assertTrue(reported <= real && real - reported <= STEP / 8 + 1, "real " + real + " reported " + reported);
    }
}
