package io.github.idlereaper.protocol;

import io.github.idlereaper.HeartbeatProtocol;
import io.github.idlereaper.ReapReason;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketClientProtocolHandler;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.netty.handler.codec.http.websocketx.WebSocketFrameEncoder;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolHandler;
import java.util.Map;

/**
 * WebSocket heartbeats, alongside Netty's {@link WebSocketServerProtocolHandler} (or the client's
 * {@link WebSocketClientProtocolHandler}): the ping is a {@link PingWebSocketFrame}, sent only once the handshake
 * has completed (before that the channel speaks plain HTTP, and no ping is sent); Netty's peer answers it with a
 * pong on its own. The goodbye is a {@link CloseWebSocketFrame} 1001 (going away), or 1008 (policy violation)
 * for {@link ReapReason#PING_ABUSE}. The peer's pings are {@link PingWebSocketFrame}s, never pongs; pings and pongs
 * are heartbeat frames (liveness, not activity). The watch goes right in front of Netty's first WebSocket handler,
 * so it sees the upgrade request (activity) and every ping and pong.
 *
 * <p>Immutable and thread-safe; use {@link #INSTANCE}.
 */
public final class WebSocketHeartbeat implements HeartbeatProtocol {

    /** The one instance. */
    public static final WebSocketHeartbeat INSTANCE = new WebSocketHeartbeat();

    /** The package of Netty's WebSocket handlers. */
    private static final String WEBSOCKETX = "io.netty.handler.codec.http.websocketx.";

    private WebSocketHeartbeat() {
    }

    /** Whether the handshake has completed: the frame encoder replaces the HTTP codec only then. */
    private static boolean upgraded(Channel ch) {
        return ch.pipeline().get(WebSocketFrameEncoder.class) != null;
    }

    @Override
    public Object ping(Channel channel) {
        return upgraded(channel) ? new PingWebSocketFrame(channel.alloc().buffer(0)) : null;
    }

    @Override
    public Object goodbye(Channel channel, ReapReason reason) {
        if (!upgraded(channel)) {
            return null;
        }
        switch (reason) {
            case PING_ABUSE:
                return new CloseWebSocketFrame(WebSocketCloseStatus.POLICY_VIOLATION, "too many pings");
            case READ_IDLE:
            case WRITE_IDLE:
            case ALL_IDLE:
            case KEEPALIVE_TIMEOUT:
                return new CloseWebSocketFrame(WebSocketCloseStatus.ENDPOINT_UNAVAILABLE, "idle");
            default:
                // 1001 Going Away: the server ends this connection (its age, a drain, a missed heartbeat).
                return new CloseWebSocketFrame(WebSocketCloseStatus.ENDPOINT_UNAVAILABLE, reason.label());
        }
    }

    @Override
    public boolean isPeerPing(Object msg) {
        return msg instanceof PingWebSocketFrame;
    }

    @Override
    public boolean recognizesPeerPings() {
        return true;
    }

    /** Ping and pong frames: liveness, not activity. */
    @Override
    public boolean isHeartbeat(Object msg) {
        return msg instanceof PingWebSocketFrame || msg instanceof PongWebSocketFrame;
    }

    /** Needs {@code io.netty:netty-codec-http}. */
    @Override
    public void checkAvailable() {
        Codecs.require(this, "io.netty:netty-codec-http", "io.netty.handler.codec.http.websocketx.WebSocketFrame");
    }

    /**
     * Right in front of the first of Netty's WebSocket handlers (the handshake handler that the protocol handler
     * puts ahead of itself, an extension handler, the protocol handler), so that the watch sees the upgrade
     * request (activity) before the handshake consumes it, and every ping and pong after it (the protocol handler
     * answers pings and drops pongs without passing them on).
     */
    @Override
    public String placeAfter(ChannelPipeline pipeline) {
        String before = null;
        String beforeFirstWebSocketHandler = null;
        boolean seenWebSocketHandler = false;
        for (Map.Entry<String, ChannelHandler> e : pipeline) {
            ChannelHandler h = e.getValue();
            if (!seenWebSocketHandler && h.getClass().getName().startsWith(WEBSOCKETX)) {
                seenWebSocketHandler = true;
                beforeFirstWebSocketHandler = before;
            }
            if (h instanceof WebSocketServerProtocolHandler || h instanceof WebSocketClientProtocolHandler) {
                return beforeFirstWebSocketHandler;
            }
            before = e.getKey();
        }
        return null; // no protocol handler: nothing to watch after
    }

    @Override
    public String toString() {
        return "WebSocketHeartbeat";
    }
}
