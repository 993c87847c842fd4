package io.github.idlereaper;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2ConnectionAdapter;
import io.netty.handler.codec.http2.Http2ConnectionHandler;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Stream;

/**
 * The HTTP layer's view of an HTTP/2 connection: a listener on the connection of the pipeline's
 * {@link Http2ConnectionHandler} ({@code Http2FrameCodec} is one) that tells the {@link HttpCompanion} how many
 * streams are open, and when the peer opens a stream, which of its streams that is. Kept apart from the companion so
 * that an HTTP/1.1-only server needs no HTTP/2 codec on its class path. One per HTTP/2 connection.
 */
final class Http2Streams extends Http2ConnectionAdapter {

    private final HttpCompanion http;
    private final Http2Connection connection;

    private Http2Streams(HttpCompanion http, Http2Connection connection) {
        this.http = http;
        this.connection = connection;
    }

    /** Starts following the streams of {@code p}'s HTTP/2 connection handler; false when there is none. */
    static boolean watch(HttpCompanion http, ChannelPipeline p) {
        ChannelHandlerContext ctx = p.context(Http2ConnectionHandler.class);
        if (ctx == null) {
            return false;
        }
        Http2Connection c = ((Http2ConnectionHandler) ctx.handler()).connection();
        c.addListener(new Http2Streams(http, c));
        http.streams(c.numActiveStreams()); // a stream an h2c upgrade opened before the listener came
        return true;
    }

    @Override
    public void onStreamActive(Http2Stream stream) {
        http.streams(connection.numActiveStreams());
        int id = stream.id();
        if (connection.remote().isValidStreamId(id)) {
            // The peer's streams are numbered 1, 3, 5, ... (a server's peer) or 2, 4, 6, ...: the ordinal of this one.
            http.streamOpened(id, (id + 1) >>> 1);
        }
    }

    @Override
    public void onStreamClosed(Http2Stream stream) {
        http.streams(connection.numActiveStreams());
    }

    /** The PING that follows the first of a retirement's two GOAWAYs: "idle-reaper" in hex speak, roughly. */
    static final long RETIRE_PING = 0x1D1E_4EA9_E400_0001L;

    /**
     * A retirement's GOAWAYs, as gRPC's server sends them for its max connection age: first GOAWAY NO_ERROR with last
     * stream id 2³¹−1 and a PING, so the peer stops opening streams and none it opened meanwhile is refused; then,
     * {@link Retirement#H2_SECOND_GOAWAY_NANOS} after {@code due}, GOAWAY with the last stream the peer opened.
     * Returns when to look again for the second, or {@code Long.MAX_VALUE} once both went out (or a GOAWAY of the
     * HTTP layer's did), or there is no HTTP/2 handler.
     */
    static long retire(Channel ch, long due, long now) {
        ChannelHandlerContext ctx = ch.pipeline().context(Http2ConnectionHandler.class);
        if (ctx == null) {
            return Long.MAX_VALUE;
        }
        Http2ConnectionHandler h = (Http2ConnectionHandler) ctx.handler();
        Http2Connection c = h.connection();
        long second = due + Retirement.H2_SECOND_GOAWAY_NANOS;
        if (!c.goAwaySent()) {
            h.goAway(ctx, Integer.MAX_VALUE, Http2Error.NO_ERROR.code(), Unpooled.EMPTY_BUFFER, ctx.newPromise());
            h.encoder().writePing(ctx, false, RETIRE_PING, ctx.newPromise());
            ctx.flush();
            return second;
        }
        if (c.remote().lastStreamKnownByPeer() != Integer.MAX_VALUE) {
            return Long.MAX_VALUE;
        }
        if (now - second < 0) {
            return second;
        }
        h.goAway(ctx, c.remote().lastStreamCreated(), Http2Error.NO_ERROR.code(), Unpooled.EMPTY_BUFFER,
                ctx.newPromise());
        ctx.flush();
        return Long.MAX_VALUE;
    }

    /**
     * Writes and flushes GOAWAY NO_ERROR through {@code ch}'s connection handler, with {@code lastStreamId} (-1: the
     * last the peer opened); null when there is no handler or a GOAWAY went out already.
     */
    static ChannelFuture goAway(Channel ch, int lastStreamId) {
        ChannelHandlerContext ctx = ch.pipeline().context(Http2ConnectionHandler.class);
        if (ctx == null) {
            return null;
        }
        Http2ConnectionHandler h = (Http2ConnectionHandler) ctx.handler();
        if (h.connection().goAwaySent()) {
            return null;
        }
        int last = lastStreamId >= 0 ? lastStreamId : h.connection().remote().lastStreamCreated();
        // Through the handler, so its connection records the GOAWAY: its graceful close then waits for the open
        // streams (up to the id sent) and sends no second one.
        ChannelFuture f = h.goAway(ctx, last, Http2Error.NO_ERROR.code(), Unpooled.EMPTY_BUFFER, ctx.newPromise());
        ctx.flush();
        return f;
    }
}
