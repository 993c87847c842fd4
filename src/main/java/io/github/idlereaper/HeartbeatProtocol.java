package io.github.idlereaper;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelPipeline;

/**
 * How a heartbeat speaks one application protocol: the ping the reaper sends to a quiet peer, the goodbye it sends
 * before a close, how to recognise the peer's own pings, and an optional companion handler that sees decoded
 * messages. The reaper's core stays protocol-agnostic: it never parses a pong, because any inbound byte after a
 * ping proves the peer alive.
 *
 * <p>Built-in protocols live in {@code io.github.idlereaper.protocol} (WebSocket, HTTP/2, MQTT, line and bytes). A
 * custom one takes a few lines:
 * <pre>{@code
 * HeartbeatProtocol redisLike = new HeartbeatProtocol() {
 *     public Object ping(Channel ch) {
 *         return Unpooled.copiedBuffer("PING\r\n", StandardCharsets.US_ASCII);
 *     }
 *     public boolean isPeerPing(Object msg) {          // after the host's line decoder and StringDecoder
 *         return "PING".equals(msg);
 *     }
 * };
 * }</pre>
 *
 * <p>Every method is called on the channel's event loop. Implementations must be thread-safe (one instance serves
 * every channel of a reaper) and should keep no per-channel state outside the channel (use its attributes).
 * Messages returned are written from the tail of the pipeline, so the host's encoders apply; the reaper owns
 * them from then on (Netty releases them if the write fails).
 */
public interface HeartbeatProtocol {

    /**
     * Returns a new ping to write to the peer, or null when the channel cannot take one yet (for example a
     * WebSocket whose handshake is not complete); the reaper asks again after the next interval. A message that
     * holds a buffer must be a fresh one each call.
     */
    Object ping(Channel channel);

    /**
     * Returns the last message to write before the reaper closes the channel for {@code reason}, or null for none
     * (the default). It is flushed within the reaper's goodbye timeout. Not asked for
     * {@link ReapReason#WRITE_STALL}: a peer that stopped reading would not read it.
     */
    default Object goodbye(Channel channel, ReapReason reason) {
        return null;
    }

    /**
     * Whether an inbound, decoded message is a ping from the peer (never an acknowledgement of ours). Used only
     * with {@link IdleReaper.Builder#permitPeerPings(java.time.Duration)}: a peer that pings more often counts
     * strikes, and is reaped with {@link ReapReason#PING_ABUSE}. The default recognises none.
     */
    default boolean isPeerPing(Object msg) {
        return false;
    }

    /**
     * Returns a handler the reaper adds to each new channel's pipeline, right after {@link #placeAfter}, or null
     * for none (the default). It sees decoded messages, for example to read the keep-alive an MQTT CONNECT
     * declares and change the channel's timeouts with {@link IdleReaper#overrideTimeouts}.
     */
    default ChannelHandler companion(Channel channel) {
        return null;
    }

    /**
     * The name of the handler after which the reaper puts its per-channel watchers (the peer-ping counter and the
     * {@link #companion}) once the host's own initializer has run: typically the protocol's decoder. Null (the
     * default), or a name not in the pipeline, puts them last.
     */
    default String placeAfter(ChannelPipeline pipeline) {
        return null;
    }
}
