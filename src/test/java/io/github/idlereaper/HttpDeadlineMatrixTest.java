package io.github.idlereaper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.DefaultChannelId;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The HTTP timers as deadlines, deterministically (time pushed in by hand): each HTTP timer alone and next to every
 * idle timer and the heartbeat, in each HTTP traffic pattern. A reap comes no earlier than the first deadline the
 * traffic arms and at most one tick resolution after it; a pattern that arms none is never reaped; and a request in
 * flight holds every idle timer off.
 */
class HttpDeadlineMatrixTest {

    private static final Duration RES = Duration.ofMillis(100);
    private static final long STEP = RES.toNanos() / 2;
    private static final long MS = 1_000_000L;
    /** The heartbeat: interval 300 ms, timeout 100 ms, 2 misses: reaped 500 ms after the last inbound byte. */
    private static final long HB_BOUND = 500 * MS;
    private static final long WATCH = 6_000 * MS;

    enum Timer { KEEPALIVE, HEADER, BODY, READ, WRITE, ALL, HEARTBEAT }

    /** What the client does from the start. */
    enum Traffic {
        /** A whole request at the start, answered at once, then nothing. Arms keep-alive and every idle timer. */
        IDLE_AFTER_RESPONSE,
        /** A request's first bytes at the start, then one header byte every tick, never the end. Arms the header timer. */
        SLOWLORIS,
        /** Headers and part of a body at the start, then nothing. Arms the body timer. */
        BODY_STOPS,
        /** A whole request at the start that the host never answers, and nothing more. Arms no HTTP timer. */
        IN_FLIGHT
    }

    private final FakeTicker ticker = new FakeTicker();

    static Stream<Arguments> configurations() {
        List<Arguments> all = new ArrayList<>();
        Timer[] http = {Timer.KEEPALIVE, Timer.HEADER, Timer.BODY};
        for (Timer t : http) {
            for (Traffic traffic : Traffic.values()) {
                all.add(Arguments.of(Map.of(t, 1_000L), traffic));
                for (Timer other : Timer.values()) {
                    if (other == t) {
                        continue;
                    }
                    long[] others = other == Timer.HEARTBEAT ? new long[] {0} : new long[] {700, 3_000};
                    for (long otherMs : others) {
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
        DeadlineMatrixTest.Result r = run(timers, traffic, first == null ? WATCH : armedAt.get(first) + 2 * RES.toNanos());
        if (first == null) {
            assertNull(r.reason, "nothing armed, yet reaped: " + r);
            return;
        }
        long due = armedAt.get(first);
        assertEquals(reasonOf(first), r.reason, "the first armed deadline decides: " + armedAt);
        assertTrue(r.at >= due, "early by " + (due - r.at) / MS + " ms: " + r);
        assertTrue(r.at <= due + RES.toNanos(), "late by " + (r.at - due) / MS + " ms: " + r);
    }

    /** The deadlines (ns after the start) the traffic arms. */
    private static Map<Timer, Long> armed(Map<Timer, Long> timers, Traffic traffic) {
        Map<Timer, Long> at = new EnumMap<>(Timer.class);
        boolean idleArmed = traffic == Traffic.IDLE_AFTER_RESPONSE; // otherwise a request is in flight: held off
        for (Map.Entry<Timer, Long> e : timers.entrySet()) {
            long d = e.getValue() * MS;
            switch (e.getKey()) {
                case KEEPALIVE:
                    if (traffic == Traffic.IDLE_AFTER_RESPONSE) {
                        at.put(Timer.KEEPALIVE, d);
                    }
                    break;
                case HEADER:
                    if (traffic == Traffic.SLOWLORIS) {
                        at.put(Timer.HEADER, d);
                    }
                    break;
                case BODY:
                    if (traffic == Traffic.BODY_STOPS) {
                        at.put(Timer.BODY, d);
                    }
                    break;
                case HEARTBEAT:
                    // Pings run while busy too; a peer trickling bytes answers them.
                    if (traffic != Traffic.SLOWLORIS) {
                        at.put(Timer.HEARTBEAT, HB_BOUND);
                    }
                    break;
                default:
                    if (idleArmed) {
                        at.put(e.getKey(), d);
                    }
            }
        }
        return at;
    }

    private static ReapReason reasonOf(Timer t) {
        switch (t) {
            case KEEPALIVE:
                return ReapReason.KEEPALIVE_TIMEOUT;
            case HEADER:
                return ReapReason.REQUEST_HEADER_TIMEOUT;
            case BODY:
                return ReapReason.REQUEST_BODY_TIMEOUT;
            case READ:
                return ReapReason.READ_IDLE;
            case WRITE:
                return ReapReason.WRITE_IDLE;
            case ALL:
                return ReapReason.ALL_IDLE;
            default:
                return ReapReason.HEARTBEAT_TIMEOUT;
        }
    }

    /** The host: answers every request at its end, unless told not to. */
    private static final class Host extends ChannelInboundHandlerAdapter {
        final boolean answers;

        Host(boolean answers) {
            this.answers = answers;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            boolean end = msg instanceof LastHttpContent;
            ReferenceCountUtil.release(msg);
            if (end && answers) {
                DefaultFullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                        Unpooled.copiedBuffer("ok", StandardCharsets.US_ASCII));
                res.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, 2);
                ctx.writeAndFlush(res);
            }
        }
    }

    private DeadlineMatrixTest.Result run(Map<Timer, Long> timers, Traffic traffic, long until) {
        DeadlineMatrixTest.Result r = new DeadlineMatrixTest.Result();
        long[] start = new long[1];
        IdleReaper.Builder b = IdleReaper.builder().tickResolution(RES).ticker(ticker).goodbyeTimeout(Duration.ZERO)
                .http().maxRequestsPerConnection(0)
                .listener((c, e) -> {
                    if (r.reason == null) {
                        r.reason = e.reason();
                        r.at = ticker.read() - start[0];
                    }
                });
        boolean keepAlive = false;
        boolean header = false;
        boolean body = false;
        for (Map.Entry<Timer, Long> e : timers.entrySet()) {
            Duration d = Duration.ofMillis(e.getValue());
            switch (e.getKey()) {
                case KEEPALIVE:
                    b.keepAliveTimeout(d);
                    keepAlive = true;
                    break;
                case HEADER:
                    b.requestHeaderTimeout(d);
                    header = true;
                    break;
                case BODY:
                    b.requestBodyTimeout(d);
                    body = true;
                    break;
                case READ:
                    b.readIdleTimeout(d);
                    break;
                case WRITE:
                    b.writeIdleTimeout(d);
                    break;
                case ALL:
                    b.allIdleTimeout(d);
                    break;
                default:
                    b.heartbeat(Duration.ofMillis(300), Duration.ofMillis(100), 2, new DeadlineMatrixTest.Ping());
            }
        }
        // The HTTP timers not under test are off, so that only the ones configured can decide.
        if (!keepAlive) {
            b.keepAliveTimeout(Duration.ZERO);
        }
        if (!header) {
            b.requestHeaderTimeout(Duration.ZERO);
        }
        if (!body) {
            b.requestBodyTimeout(Duration.ZERO);
        }
        IdleReaper reaper = b.build();
        EmbeddedChannel parent = new EmbeddedChannel();
        EmbeddedChannel ch = new EmbeddedChannel(parent, DefaultChannelId.newInstance(), false, false);
        try {
            io.netty.channel.ChannelHandler h = reaper.newHandler();
            ch.pipeline().addLast(IdleReaper.HANDLER_NAME, h);
            ch.pipeline().addLast("codec", new HttpServerCodec());
            ch.pipeline().addLast("host", new Host(traffic != Traffic.IN_FLIGHT));
            DeadlineMatrixTest.register(ch);
            reaper.addWatchers(ch, h);
            LoopWheel wheel = reaper.core().wheelFor(ch.eventLoop());
            ticker.advanceNanos(STEP / 3);
            start[0] = ticker.read();
            switch (traffic) {
                case IDLE_AFTER_RESPONSE:
                case IN_FLIGHT:
                    inbound(ch, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
                    break;
                case SLOWLORIS:
                    inbound(ch, "GET / HTTP/1.1\r\nHost: t\r\n");
                    break;
                default:
                    inbound(ch, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n0123456789");
            }
            DeadlineMatrixTest.drain(ch);
            long next = (Math.floorDiv(ticker.read(), STEP) + 1) * STEP;
            while (ch.isActive() && ticker.read() - start[0] < until) {
                ticker.advanceNanos(next - ticker.read());
                next += STEP;
                wheel.advance(ticker.read());
                ch.runPendingTasks();
                DeadlineMatrixTest.drain(ch);
                if (!ch.isActive()) {
                    break;
                }
                if (traffic == Traffic.SLOWLORIS) {
                    inbound(ch, "X");
                }
            }
        } finally {
            ch.finishAndReleaseAll();
            parent.finishAndReleaseAll();
        }
        return r;
    }

    private static void inbound(EmbeddedChannel ch, String s) {
        ch.writeInbound(Unpooled.copiedBuffer(s, StandardCharsets.US_ASCII));
        Object m;
        while ((m = ch.readInbound()) != null) {
            ReferenceCountUtil.release(m);
        }
    }

}
