package io.github.idlereaper;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandler;
import io.netty.channel.ChannelOutboundHandler;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelPromise;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestDecoder;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseEncoder;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.net.SocketAddress;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP layer of one server connection ({@link IdleReaper.Builder#http()}): a small handler right after the
 * host's HTTP codec that sees decoded requests and the responses written to them, and keeps the HTTP timers as
 * deadlines of the channel's one {@link ReaperHandler} wheel entry.
 *
 * <p><b>HTTP/1.1.</b> A request is in flight from its first byte (seen by the reaper's handler, first in the
 * pipeline, through {@link ReaperHandler#HTTP_WAIT}) until the last content of its response was written and then
 * flushed; pipelined requests count. While one is, the companion holds one unit of the handler's busy count, so
 * the idle timers hold off (write stall still applies). The phases and their deadlines:
 * <ul>
 *   <li>{@link #NONE}: no HTTP codec in the pipeline yet (TLS before ALPN): the accept plus the header timeout,
 *       closed without a response;</li>
 *   <li>{@link #WAIT}: no request begun. The connection's first: the accept plus the header timeout, closed
 *       without a response. Later ones: the flush of the last response plus the keep-alive timeout, counted only
 *       once no flushed byte waits;</li>
 *   <li>{@link #HEAD}: the first byte plus the header timeout, a deadline that bytes do not extend; 408;</li>
 *   <li>{@link #BODY}: the later of the end of the headers (or a {@code 100 Continue}) and the last inbound byte,
 *       plus the body timeout; 408 unless the response began.</li>
 * </ul>
 * A header or body deadline waits while responses to earlier (pipelined) requests are still in flight: a response
 * in progress is never cut for another request's sake.
 *
 * <p><b>HTTP/2</b> ({@link #H2}): busy while any stream is open, as gRPC's {@code maxConnectionIdle} defines it;
 * otherwise the keep-alive timeout from the moment the last stream closed, and a GOAWAY NO_ERROR. Streams are
 * followed through {@link Http2Streams}, a listener on the connection handler's connection.
 *
 * <p><b>Pipelines that change.</b> An h2c upgrade, h2c prior knowledge and TLS ALPN rebuild the pipeline after the
 * connection opened. The companion looks again at every user event (those three each fire one) and after a
 * {@code 101 Switching Protocols} it let through: an HTTP/2 connection handler moves it to {@link #H2}; a 101
 * without one (WebSocket) stops the HTTP timers for good ({@link #OFF}), and the heartbeat takes over.
 *
 * <p>It implements the handler interfaces itself, without Netty's adapter, so that it holds only its five fields:
 * 32 bytes per connection. Confined to the channel's event loop.
 */
final class HttpCompanion implements ChannelInboundHandler, ChannelOutboundHandler {

    private static final Logger log = LoggerFactory.getLogger(IdleReaper.class);

    /** Whether Netty's HTTP/2 codec is on the class path (the layer needs only the HTTP/1.1 one). */
    private static final boolean H2_PRESENT = present("io.netty.handler.codec.http2.Http2ConnectionHandler");

    // Phases, bits 0..2 of `bits`.
    static final int NONE = 0;
    static final int WAIT = 1;
    static final int HEAD = 2;
    static final int BODY = 3;
    static final int OFF = 4;
    static final int H2 = 5;
    static final int PHASE = 7;
    // Flags.
    /** The connection's first request: {@link #WAIT} counts from the accept, with the header timeout. */
    static final int FIRST = 1 << 3;
    /** Holds one unit of the reaper handler's busy count. */
    static final int HELD = 1 << 4;
    /** A response's last content was written: in flight until the next flush. */
    static final int FLUSH_PENDING = 1 << 5;
    /** The response to the oldest request in flight has begun: no 408 can be written any more. */
    static final int STARTED = 1 << 6;
    /** A 1xx response's content follows: its end is not a response's end. */
    static final int INFORMATIONAL = 1 << 7;
    /** The response being written is the last this connection serves ({@link ReapReason#MAX_REQUESTS}). */
    static final int LAST = 1 << 8;
    /** A 101 went out: look again once the pipeline changed. */
    static final int UPGRADING = 1 << 9;
    /** HTTP/2: a stream is open. */
    static final int STREAMS = 1 << 10;
    /** Data came before any codec was found: the companion looks again after the read. */
    static final int LOOKING = 1 << 11;
    /**
     * The connection retires (its age, a drain): the response in flight or the next says {@code Connection: close}
     * and is its last.
     */
    static final int RETIRE = 1 << 12;
    /** Responses to decoded requests not yet written to their end (pipelining), from bit 13. */
    static final int OUT_SHIFT = 13;
    static final int OUT_ONE = 1 << OUT_SHIFT;
    static final int OUT_MAX = -1 >>> OUT_SHIFT;

    final ReaperHandler reaper;
    /** What the reaper handler's {@code core} field held before this companion took its place. */
    Object base;
    /** The wheel stamp from which the current phase's deadline counts. */
    int stamp;
    /** Phase, flags, responses outstanding. */
    int bits;
    /**
     * HTTP/1.1: requests decoded so far (saturating). HTTP/2: the id of the peer's stream that reached the limit,
     * for the GOAWAY.
     */
    int requests;

    private HttpCompanion(ReaperHandler reaper, Object base, int stamp) {
        this.reaper = reaper;
        this.base = base;
        this.stamp = stamp;
        this.bits = NONE | FIRST;
    }

    /**
     * Adds a companion to {@code ch}'s pipeline for {@code h}, right after the host's HTTP codec (last when there is
     * none yet), and hangs it on the handler. Once per channel, at setup.
     */
    static void install(ReaperHandler h, Channel ch, String name) {
        ChannelPipeline p = ch.pipeline();
        if (h.http() != null) {
            return;
        }
        HttpCompanion c = new HttpCompanion(h, h.coreField(), h.wheel.stamp);
        h.coreField(c);
        String anchor = h1Anchor(p);
        if (anchor != null) {
            p.addAfter(anchor, name, c);
        } else {
            p.addLast(name, c);
            h.state |= ReaperHandler.HTTP_WAIT; // the first bytes tell whether a codec came (see noCodec)
        }
        c.look(p);
    }

    // ---------------------------------------------------------------- where the codec is

    /** The name of the last HTTP/1.1 server codec handler in {@code p}, or null. */
    private static String h1Anchor(ChannelPipeline p) {
        String last = null;
        for (Map.Entry<String, ChannelHandler> e : p) {
            ChannelHandler h = e.getValue();
            if (h instanceof HttpServerCodec || h instanceof HttpRequestDecoder || h instanceof HttpResponseEncoder) {
                last = e.getKey();
            }
        }
        return last;
    }

    /**
     * Looks at the pipeline again: HTTP/2 now (prior knowledge, an h2c upgrade, ALPN h2), or an HTTP/1.1 codec
     * that arrived (ALPN http/1.1), after which the companion moves. Not on a hot path: at setup, user events and
     * after a 101.
     */
    private void look(ChannelPipeline p) {
        int phase = bits & PHASE;
        if (phase == H2 || (phase == OFF && (bits & UPGRADING) == 0)) {
            return;
        }
        if (H2_PRESENT && Http2Streams.watch(this, p)) {
            enter(H2);
            return;
        }
        if ((bits & UPGRADING) != 0) {
            bits &= ~UPGRADING; // a 101 to something else than HTTP/2: the HTTP timers stay off
            return;
        }
        if (phase == NONE) {
            String anchor = h1Anchor(p);
            if (anchor == null) {
                return;
            }
            ChannelHandlerContext mine = p.context(this);
            if (mine != null && !anchor.equals(nameBefore(p, mine.name()))) {
                String name = mine.name();
                p.remove(this);
                p.addAfter(anchor, name, this);
            }
            enter(WAIT);
        }
    }

    private static String nameBefore(ChannelPipeline p, String name) {
        String before = null;
        for (Map.Entry<String, ChannelHandler> e : p) {
            if (e.getKey().equals(name)) {
                return before;
            }
            before = e.getKey();
        }
        return null;
    }

    /** Moves to {@code phase}: WAIT (a codec found: the first request's wait), H2 (streams from now on) or OFF. */
    private void enter(int phase) {
        int b = (bits & ~(PHASE | (OUT_MAX << OUT_SHIFT) | FLUSH_PENDING | STARTED | LAST | INFORMATIONAL)) | phase;
        if (phase == WAIT) {
            bits = b; // FIRST and the accept's stamp stay
            reaper.state |= ReaperHandler.HTTP_WAIT;
            visitAt(reaper.wheel.nextTickStart()); // the visit works out the first request's deadline
            return;
        }
        reaper.state &= ~ReaperHandler.HTTP_WAIT;
        bits = b & ~(FIRST | UPGRADING);
        stamp = reaper.wheel.stamp;
        hold();
        if (phase == H2 && (bits & STREAMS) == 0) {
            visitIn(keepAliveNanos());
        }
    }

    // ---------------------------------------------------------------- inbound

    /** The first inbound byte since {@link ReaperHandler#HTTP_WAIT} was armed: a request begins. */
    void firstByte(int now) {
        int phase = bits & PHASE;
        if (phase == NONE && (bits & LOOKING) == 0) {
            noCodec();
            return;
        }
        if (phase != WAIT) {
            return;
        }
        int b = bits;
        bits = (b & ~PHASE) | HEAD;
        if ((b & FIRST) == 0) {
            stamp = now; // the first request's header deadline counts from the accept
        }
        hold();
        visitIn(settings().header);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        int b = bits;
        int phase = b & PHASE;
        if (phase >= WAIT && phase <= BODY) {
            if ((reaper.state & ReaperHandler.REAPING) != 0) {
                // After a 408 or the last response: what the peer still sends is read and dropped.
                ReferenceCountUtil.release(msg);
                return;
            }
            if (msg instanceof HttpRequest) {
                request(msg);
            } else if (msg instanceof LastHttpContent && phase == BODY) {
                wait(bits);
            }
        }
        ctx.fireChannelRead(msg);
    }

    /**
     * The first bytes came before any HTTP codec was found. Look again after this read (a port-unification handler
     * may have added one): with a codec, go on; with TLS still to negotiate, wait for its event; otherwise the
     * pipeline is not HTTP, and the HTTP timers stop on this connection (they cannot see requests, and would close
     * a healthy one), with one WARN per reaper.
     */
    private void noCodec() {
        bits |= LOOKING; // once
        Channel ch = reaper.ctx.channel();
        try {
            ch.eventLoop().execute(() -> {
                look(ch.pipeline());
                if ((bits & PHASE) == NONE && ch.pipeline().get(io.netty.handler.ssl.SslHandler.class) == null
                        && ch.isActive()) {
                    enter(OFF);
                    reaper.core().warnNoHttpCodec(ch);
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException shuttingDown) {
            // the loop is shutting down, and the channel with it
        }
    }

    /** A request's headers were decoded. */
    private void request(Object msg) {
        int b = bits;
        if (requests != Integer.MAX_VALUE) {
            requests++;
        }
        if ((b >>> OUT_SHIFT) != OUT_MAX) {
            b += OUT_ONE;
        }
        if ((b >>> OUT_SHIFT) == 1) {
            b &= ~STARTED;
        }
        b &= ~FIRST;
        if (msg instanceof LastHttpContent) {
            wait(b);
            return;
        }
        bits = (b & ~PHASE) | BODY;
        stamp = reaper.wheel.stamp;
        hold();
        visitIn(settings().body);
    }

    /** The request was read to its end: wait for the next one's first byte. */
    private void wait(int b) {
        bits = (b & ~PHASE) | WAIT;
        reaper.state |= ReaperHandler.HTTP_WAIT;
        hold();
    }

    // ---------------------------------------------------------------- outbound

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        int phase = bits & PHASE;
        if (phase >= WAIT && phase <= BODY) {
            boolean end = msg instanceof LastHttpContent;
            if (msg instanceof HttpResponse && !response((HttpResponse) msg)) {
                end = false; // a 1xx, or a 101
            }
            if (end) {
                responseEnd();
            }
        }
        ctx.write(msg, promise);
    }

    /** A response's head; false for an informational one (whose end ends nothing). */
    private boolean response(HttpResponse r) {
        int code = r.status().code();
        if (code < 200) {
            if (code == 101) {
                switchingProtocols();
            } else {
                if (code == 100 && (bits & PHASE) == BODY) {
                    stamp = reaper.wheel.stamp; // the client may send its body from now on
                }
                if (!(r instanceof LastHttpContent)) {
                    bits |= INFORMATIONAL;
                }
            }
            return false;
        }
        int b = bits;
        int out = b >>> OUT_SHIFT;
        b |= STARTED;
        int max = settings().maxRequests;
        if ((b & RETIRE) != 0 && out > 0) {
            b |= LAST;
            try {
                HttpUtil.setKeepAlive(r, false);
            } catch (UnsupportedOperationException readOnly) {
                // The host's headers cannot change: the close after the flush still comes.
            }
        } else if (max > 0 && out > 0 && requests - out + 1 >= max) {
            if (!reaper.core().lifecycle().dryRun) {
                b |= LAST;
                try {
                    HttpUtil.setKeepAlive(r, false);
                } catch (UnsupportedOperationException readOnly) {
                    // The host's headers cannot change: the close after the flush still comes.
                }
            } else if (requests - out + 1 == max) {
                b |= LAST; // a dry run reports the limit once, and changes no header
            }
        }
        bits = b;
        return true;
    }

    private void responseEnd() {
        int b = bits;
        if ((b & INFORMATIONAL) != 0) {
            bits = b & ~INFORMATIONAL;
            return;
        }
        if ((b >>> OUT_SHIFT) == 0) {
            return; // no request of ours is waiting for it (a 408, or a response the codec rejected)
        }
        bits = ((b - OUT_ONE) | FLUSH_PENDING) & ~STARTED;
    }

    @Override
    public void flush(ChannelHandlerContext ctx) {
        ctx.flush();
        if ((bits & FLUSH_PENDING) != 0) {
            flushed();
        }
    }

    /** A response's end was flushed: it is done, and the keep-alive wait may start. */
    private void flushed() {
        int b = bits & ~FLUSH_PENDING;
        bits = b;
        if ((b & (LAST | RETIRE)) == (LAST | RETIRE)) {
            Retirement.reapNow(reaper);
            return;
        }
        if ((b & LAST) != 0) {
            int max = settings().maxRequests;
            reaper.reapNow(ReapReason.MAX_REQUESTS, 0, 0, max, max);
            if (!reaper.core().lifecycle().dryRun) {
                return;
            }
            bits = b &= ~LAST; // a dry run only reported it: the connection goes on
        }
        if ((b >>> OUT_SHIFT) == 0) {
            int phase = b & PHASE;
            if (phase == WAIT) {
                stamp = reaper.wheel.stamp;
                visitIn(keepAliveNanos());
            } else if (phase == HEAD || phase == BODY) {
                visitAt(reaper.wheel.nextTickStart()); // a deadline that waited for this response may have passed
            }
        }
        hold();
    }

    /** A 101 went out: the HTTP timers stop; after the pipeline changed, HTTP/2 may take over. */
    private void switchingProtocols() {
        enter(OFF);
        bits |= UPGRADING;
        Channel ch = reaper.ctx.channel();
        try {
            ch.eventLoop().execute(() -> look(ch.pipeline()));
        } catch (java.util.concurrent.RejectedExecutionException shuttingDown) {
            // the loop is shutting down, and the channel with it
        }
    }

    // ---------------------------------------------------------------- HTTP/2

    /** The number of open streams changed. */
    void streams(int open) {
        int b = bits;
        if ((open > 0) == ((b & STREAMS) != 0)) {
            return;
        }
        if (open > 0) {
            bits = b | STREAMS;
        } else {
            bits = b & ~STREAMS;
            stamp = reaper.wheel.stamp;
            visitIn(keepAliveNanos());
            if ((reaper.state & ReaperHandler.REAPING) != 0 && reaper.ctx.channel().isActive()) {
                // GOAWAY went out and the last stream is done: flush its end, then close.
                reaper.ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
            }
        }
        hold();
    }

    /** The peer opened its {@code ordinal}th stream, {@code id}. */
    void streamOpened(int id, int ordinal) {
        int max = settings().maxRequests;
        if (max > 0 && (ordinal == max || ordinal > max && !reaper.core().lifecycle().dryRun)
                && (reaper.state & ReaperHandler.REAPING) == 0) {
            requests = id;
            reaper.reapNow(ReapReason.MAX_REQUESTS, 0, 0, max, max);
        }
    }

    // ---------------------------------------------------------------- the deadlines

    /** Takes or gives back the busy unit, as the phase asks. */
    private void hold() {
        int b = bits;
        int phase = b & PHASE;
        boolean want = phase == H2 ? (b & STREAMS) != 0
                : phase == HEAD || phase == BODY || (b >>> OUT_SHIFT) != 0 || (b & FLUSH_PENDING) != 0;
        if (want == ((b & HELD) != 0) || phase == NONE) {
            return;
        }
        if (want) {
            bits = b | HELD;
            reaper.busy();
        } else {
            bits = b & ~HELD;
            reaper.idle();
        }
    }

    /** Brings the handler's visit to {@code timeout} after the next tick starts; zero (disabled) does nothing. */
    private void visitIn(long timeout) {
        if (timeout > 0) {
            visitAt(reaper.wheel.nextTickStart() + timeout);
        }
    }

    /** Brings the handler's visit to {@code deadline}'s tick, or the next one; never postpones it. */
    private void visitAt(long deadline) {
        if ((reaper.state & (ReaperHandler.IN_WHEEL | ReaperHandler.REAPING)) == ReaperHandler.IN_WHEEL) {
            reaper.wheel.visitBy(reaper, deadline);
        }
    }

    private HttpSettings settings() {
        return reaper.core().http();
    }

    /** The keep-alive timeout in effect: shrunk under resource pressure, like the idle timers. */
    private long keepAliveNanos() {
        ReaperCore c = reaper.core();
        return PressureScale.scaled(c.http().keepAlive, c.timeoutScale());
    }

    /**
     * The current phase's deadline, or {@link Long#MAX_VALUE} for none; {@code waiting} when flushed bytes wait
     * (no keep-alive wait runs then). Called at the handler's visits.
     */
    long deadline(LoopWheel w, long now, boolean waiting) {
        HttpSettings s = settings();
        int b = bits;
        int out = b >>> OUT_SHIFT;
        switch (b & PHASE) {
            case NONE:
                return s.header > 0 ? w.upperBound(stamp) + s.header : keepAlive(w, now, keepAliveNanos(), waiting);
            case WAIT:
                if (out != 0 || (b & FLUSH_PENDING) != 0) {
                    return Long.MAX_VALUE;
                }
                return (b & FIRST) != 0 && s.header > 0 ? w.upperBound(stamp) + s.header
                        : keepAlive(w, now, keepAliveNanos(), waiting);
            case HEAD:
                return out != 0 || s.header == 0 ? Long.MAX_VALUE : w.upperBound(stamp) + s.header;
            case BODY:
                if (out > 1 || s.body == 0) {
                    return Long.MAX_VALUE;
                }
                int last = LoopWheel.later(stamp, reaper.liveStamp) ? stamp : reaper.liveStamp;
                return w.upperBound(last) + s.body;
            case H2:
                return (b & STREAMS) != 0 ? Long.MAX_VALUE : keepAlive(w, now, keepAliveNanos(), waiting);
            default:
                return Long.MAX_VALUE;
        }
    }

    /**
     * The keep-alive deadline: from the stamp, which moves on to every visit that finds flushed bytes still waiting,
     * so that the wait counts from when the last response left (within a tick), not from when it was flushed. Not
     * from outbound progress: the acknowledgements a codec writes on its own (HTTP/2 PING and SETTINGS acks) are
     * not activity. While bytes wait the visit comes every tick.
     */
    private long keepAlive(LoopWheel w, long now, long keepAlive, boolean waiting) {
        if (keepAlive == 0) {
            return Long.MAX_VALUE;
        }
        long at = w.upperBound(stamp) + keepAlive;
        if (waiting || (at - now <= 0 && pending())) {
            stamp = w.stamp;
            return now + w.tickNanos();
        }
        return at;
    }

    /** Whether flushed or written bytes wait in the channel's outbound buffer. At a keep-alive deadline only. */
    private boolean pending() {
        io.netty.channel.ChannelOutboundBuffer buf = reaper.ctx.channel().unsafe().outboundBuffer();
        return buf != null && buf.totalPendingWriteBytes() > 0;
    }

    /** The reason {@link #deadline} stands for. */
    ReapReason reason() {
        int b = bits;
        switch (b & PHASE) {
            case NONE:
                return settings().header > 0 ? ReapReason.REQUEST_HEADER_TIMEOUT : ReapReason.KEEPALIVE_TIMEOUT;
            case WAIT:
                return (b & FIRST) != 0 && settings().header > 0 ? ReapReason.REQUEST_HEADER_TIMEOUT
                        : ReapReason.KEEPALIVE_TIMEOUT;
            case HEAD:
                return ReapReason.REQUEST_HEADER_TIMEOUT;
            case BODY:
                return ReapReason.REQUEST_BODY_TIMEOUT;
            default:
                return ReapReason.KEEPALIVE_TIMEOUT;
        }
    }

    /** The limit of {@link #reason()}. */
    long limit(ReapReason r) {
        HttpSettings s = settings();
        return r == ReapReason.REQUEST_HEADER_TIMEOUT ? s.header
                : r == ReapReason.REQUEST_BODY_TIMEOUT ? s.body : keepAliveNanos();
    }

    /** A new wheel (the channel moved to another loop): the phase's clock restarts there, late rather than early. */
    void restart(int now) {
        stamp = now;
    }

    // ---------------------------------------------------------------- goodbyes

    /**
     * Says goodbye for {@code reason} in HTTP's words, writing and flushing it: {@code 408 Request Timeout} with
     * {@code Connection: close} for a header or body timeout once some of the request arrived and no response began;
     * the flush of the last response for {@link ReapReason#MAX_REQUESTS} (HTTP/1.1); GOAWAY on HTTP/2 (the last
     * stream id at the limit for max requests, the last the peer opened otherwise). Null when HTTP has no word for it
     * (a keep-alive close, a protocol other than HTTP after an upgrade, an HTTP/2 goodbye already sent).
     */
    ChannelFuture goodbye(ChannelHandlerContext reaperCtx, ReapReason reason) {
        int b = bits;
        int phase = b & PHASE;
        if (phase == H2) {
            return Http2Streams.goAway(reaperCtx.channel(), reason == ReapReason.MAX_REQUESTS ? requests : -1);
        }
        if (phase < WAIT || phase > BODY) {
            return null;
        }
        if (reason == ReapReason.MAX_REQUESTS
                || (b & LAST) != 0 && (reason == ReapReason.MAX_AGE || reason == ReapReason.DRAIN)) {
            return reaperCtx.writeAndFlush(Unpooled.EMPTY_BUFFER);
        }
        boolean answer = (reason == ReapReason.REQUEST_HEADER_TIMEOUT && phase == HEAD)
                || (reason == ReapReason.REQUEST_BODY_TIMEOUT && phase == BODY && (b & STARTED) == 0);
        // A header timeout answers only with no response in flight; a body timeout only while its own request is
        // the one in flight, unanswered (a host may answer before it read the body).
        if (!answer || (b & FLUSH_PENDING) != 0 || (b >>> OUT_SHIFT) != (phase == BODY ? 1 : 0)) {
            return null;
        }
        ChannelHandlerContext mine = reaperCtx.pipeline().context(this);
        if (mine == null) {
            return null;
        }
        FullHttpResponse timeout = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                HttpResponseStatus.REQUEST_TIMEOUT, Unpooled.EMPTY_BUFFER);
        timeout.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE)
                .setInt(HttpHeaderNames.CONTENT_LENGTH, 0);
        // From here, so that the codec's encoder ahead of the companion encodes it and no host handler sees it.
        return mine.writeAndFlush(timeout);
    }

    /**
     * The connection retires from {@code due} (its age, a drain), and is told so: HTTP/1.1 marks the response in
     * flight, or the next, as the last ({@code Connection: close}); HTTP/2 sends its two GOAWAYs
     * ({@link Http2Streams#retire}). Returns when to look again, or {@code Long.MAX_VALUE}.
     */
    long retire(long due, long now) {
        int b = bits;
        int phase = b & PHASE;
        if (phase == H2) {
            return Http2Streams.retire(reaper.ctx.channel(), due, now);
        }
        if (phase >= WAIT && phase <= BODY) {
            bits = b | RETIRE;
        }
        return Long.MAX_VALUE;
    }

    /** HTTP/2's goodbye for a reason that HTTP itself did not decide (idle timers, heartbeat), when no one else said one. */
    ChannelFuture fallbackGoodbye(Channel ch) {
        return (bits & PHASE) == H2 ? Http2Streams.goAway(ch, -1) : null;
    }

    /**
     * What closes the channel once the goodbye is flushed. After an HTTP/1.1 response (a 408, the last response),
     * a lingering close as nginx's: the output is shut (FIN), so the peer reads the whole response and then the
     * end, and what it still sends is read and dropped until it closes or the goodbye timeout runs out; a plain
     * close would answer those bytes with a RST, which may destroy the response before the peer read it.
     */
    ChannelFutureListener closer(ReapReason reason) {
        int phase = bits & PHASE;
        if (phase == H2) {
            // Netty's own graceful close would not wait for the open streams (Http2FrameCodec's default
            // gracefulShutdownTimeoutMillis is 0): the last stream's end closes instead (see streams), or the
            // goodbye timeout.
            return f -> {
                if (!f.isSuccess() || (bits & STREAMS) == 0) {
                    f.channel().close();
                }
            };
        }
        boolean h1 = phase >= WAIT && phase <= BODY;
        if (!h1 || reason == ReapReason.KEEPALIVE_TIMEOUT) {
            return ChannelFutureListener.CLOSE;
        }
        return f -> {
            Channel ch = f.channel();
            if (f.isSuccess() && ch instanceof DuplexChannel && ch.isActive()) {
                ((DuplexChannel) ch).shutdownOutput();
            } else {
                ch.close();
            }
        };
    }

    // ---------------------------------------------------------------- the rest of the handler interfaces

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        ctx.fireUserEventTriggered(evt);
        if ((bits & PHASE) != H2 && ctx.channel().isActive()) {
            // h2c prior knowledge, an h2c upgrade and TLS ALPN each end with an event; a pipeline already torn
            // down is left alone.
            try {
                look(ctx.pipeline());
            } catch (RuntimeException e) {
                log.warn("{} the HTTP layer could not follow the pipeline's change; its timers stay as they were",
                        ctx.channel(), e);
            }
        }
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
    }

    /**
     * After a 408 or the last response, in the lingering close: the peer's RST (an I/O error on the read) is one way
     * the lingering close ends, as its FIN is; like what it still sends, it goes no further (DEBUG), and the channel
     * closes. Every other exception passes through.
     */
    @Override
    @SuppressWarnings("deprecation")
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        int phase = bits & PHASE;
        if (phase >= WAIT && phase <= BODY && (reaper.state & ReaperHandler.REAPING) != 0
                && cause instanceof java.io.IOException) {
            if (log.isDebugEnabled()) {
                log.debug("{} I/O error in the lingering close: {}", ctx.channel(), cause.toString());
            }
            ctx.close();
            return;
        }
        ctx.fireExceptionCaught(cause);
    }

    @Override
    public void channelRegistered(ChannelHandlerContext ctx) {
        ctx.fireChannelRegistered();
    }

    @Override
    public void channelUnregistered(ChannelHandlerContext ctx) {
        ctx.fireChannelUnregistered();
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        ctx.fireChannelActive();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        ctx.fireChannelInactive();
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        ctx.fireChannelReadComplete();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void bind(ChannelHandlerContext ctx, SocketAddress localAddress, ChannelPromise promise) {
        ctx.bind(localAddress, promise);
    }

    @Override
    public void connect(ChannelHandlerContext ctx, SocketAddress remote, SocketAddress local, ChannelPromise p) {
        ctx.connect(remote, local, p);
    }

    @Override
    public void disconnect(ChannelHandlerContext ctx, ChannelPromise promise) {
        ctx.disconnect(promise);
    }

    @Override
    public void close(ChannelHandlerContext ctx, ChannelPromise promise) {
        ctx.close(promise);
    }

    @Override
    public void deregister(ChannelHandlerContext ctx, ChannelPromise promise) {
        ctx.deregister(promise);
    }

    @Override
    public void read(ChannelHandlerContext ctx) {
        ctx.read();
    }

    private static boolean present(String className) {
        try {
            Class.forName(className, false, HttpCompanion.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException | LinkageError e) {
            return false;
        }
    }

    @Override
    public String toString() {
        return "HttpCompanion(phase " + (bits & PHASE) + ", " + (bits >>> OUT_SHIFT) + " in flight, " + requests
                + " requests)";
    }
}
