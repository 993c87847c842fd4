package io.github.idlereaper.protocol;

import io.github.idlereaper.HeartbeatProtocol;
import io.github.idlereaper.ReapReason;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http2.DefaultHttp2PingFrame;
import io.netty.handler.codec.http2.Http2ConnectionHandler;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2PingFrame;
import java.nio.charset.StandardCharsets;

/**
 * HTTP/2 heartbeats, in both {@link Http2FrameCodec} (with or without a multiplexer) and plain
 * {@link Http2ConnectionHandler} pipelines, server or client. The ping is a PING frame (in a frame-codec pipeline
 * a {@link DefaultHttp2PingFrame} through the codec; otherwise the encoded frame, which the connection handler
 * passes through: PING has no stream or flow-control state). Netty's peer acknowledges it on its own. Until the
 * pipeline speaks HTTP/2 (ALPN or an h2c upgrade still pending) no ping is sent.
 *
 * <p>The goodbye is GOAWAY through the connection handler, with the last stream id the peer opened: NO_ERROR, or
 * ENHANCE_YOUR_CALM with debug data {@code too_many_pings} for {@link ReapReason#PING_ABUSE}, as gRPC sends. The
 * peer's pings are {@link Http2PingFrame}s that are not acknowledgements (grpc-java#12417 counted ACKs); they are
 * seen as messages in frame-codec pipelines, where the watch goes right after the codec; PING frames, acks
 * included, are heartbeat frames there (liveness, not activity). A plain connection handler delivers pings to its
 * frame listener instead, so ping-abuse enforcement, and telling pings from activity, need the frame codec.
 *
 * <p>Immutable and thread-safe; use {@link #INSTANCE}.
 */
public final class Http2Heartbeat implements HeartbeatProtocol {

    /** The one instance. */
    public static final Http2Heartbeat INSTANCE = new Http2Heartbeat();

    /** The opaque data of the reaper's pings: "idlereap". */
    public static final long PING_CONTENT = 0x69646c6572656170L;

    private static final int FRAME_HEADER = 9;
    private static final byte PING = 0x6;

    private Http2Heartbeat() {
    }

    @Override
    public Object ping(Channel channel) {
        ChannelHandlerContext ctx = channel.pipeline().context(Http2ConnectionHandler.class);
        if (ctx == null) {
            return null;
        }
        if (ctx.handler() instanceof Http2FrameCodec) {
            return new DefaultHttp2PingFrame(PING_CONTENT);
        }
        ByteBuf frame = channel.alloc().buffer(FRAME_HEADER + 8);
        frame.writeMedium(8).writeByte(PING).writeByte(0).writeInt(0).writeLong(PING_CONTENT);
        return frame;
    }

    @Override
    public Object goodbye(Channel channel, ReapReason reason) {
        ChannelHandlerContext ctx = channel.pipeline().context(Http2ConnectionHandler.class);
        if (ctx == null) {
            return null;
        }
        Http2ConnectionHandler h = (Http2ConnectionHandler) ctx.handler();
        if (h.connection().goAwaySent()) {
            return null;
        }
        boolean abuse = reason == ReapReason.PING_ABUSE;
        ByteBuf debug = abuse ? Unpooled.copiedBuffer("too_many_pings", StandardCharsets.US_ASCII)
                : Unpooled.EMPTY_BUFFER;
        int lastStreamId = h.connection().remote().lastStreamCreated();
        // Through the handler, so its connection records the GOAWAY and its own close does not send another.
        h.goAway(ctx, lastStreamId, (abuse ? Http2Error.ENHANCE_YOUR_CALM : Http2Error.NO_ERROR).code(), debug,
                ctx.newPromise());
        // The reaper writes and flushes this from the tail, which flushes the GOAWAY.
        return Unpooled.EMPTY_BUFFER;
    }

    @Override
    public boolean isPeerPing(Object msg) {
        return msg instanceof Http2PingFrame && !((Http2PingFrame) msg).ack();
    }

    @Override
    public boolean recognizesPeerPings() {
        return true;
    }

    /** PING frames, acknowledgements included: liveness, not activity. */
    @Override
    public boolean isHeartbeat(Object msg) {
        return msg instanceof Http2PingFrame;
    }

    /** Needs {@code io.netty:netty-codec-http2}. */
    @Override
    public void checkAvailable() {
        Codecs.require(this, "io.netty:netty-codec-http2", "io.netty.handler.codec.http2.Http2FrameCodec");
    }

    /** Right after the frame codec, ahead of a multiplexer or the host's handlers. */
    @Override
    public String placeAfter(ChannelPipeline pipeline) {
        ChannelHandlerContext ctx = pipeline.context(Http2FrameCodec.class);
        return ctx == null ? null : ctx.name();
    }

    @Override
    public String toString() {
        return "Http2Heartbeat";
    }
}
