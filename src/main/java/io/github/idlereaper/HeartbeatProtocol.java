package io.github.idlereaper;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelPipeline;

/**
 * How a heartbeat speaks one application protocol: the ping the reaper sends to a quiet peer, the goodbye it sends
 * before a close, how to recognise heartbeat frames (the peer's pings, and pongs), and an optional companion
 * handler that sees decoded messages. The reaper's core stays protocol-agnostic: it never parses a pong, because
 * any inbound byte after a ping proves the peer alive.
 *
 * <p><b>Liveness is not activity.</b> Any inbound byte proves the peer alive (the heartbeat uses that). Only
 * application messages prove the connection is in use (the idle timers use that). A protocol that recognises its
 * heartbeat frames ({@link #isHeartbeat}) lets the reaper tell the two apart, so that a peer that only answers
 * pings is alive but idle: a watch right after {@link #placeAfter} stamps activity for every decoded message that
 * is not a heartbeat frame. Without that (no recognition, or no handler to watch after), every byte counts as
 * both.
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
 *     public boolean recognizesPeerPings() {
 *         return true;
 *     }
 *     public boolean isHeartbeat(Object msg) {         // the peer's pings and its answers to ours
 *         return "PING".equals(msg) || "+PONG".equals(msg);
 *     }
 *     public String placeAfter(ChannelPipeline p) {    // the watch goes right after the StringDecoder
 *         return "string";
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
     *
     * @param channel the channel
     * @return a new ping, or null when the channel cannot take one yet
     */
    Object ping(Channel channel);

    /**
     * Returns the last message to write before the reaper closes the channel for {@code reason}, or null for none
     * (the default). It is flushed within the reaper's goodbye timeout. Not asked for
     * {@link ReapReason#WRITE_STALL}: a peer that stopped reading would not read it.
     *
     * @param channel the channel
     * @param reason why the channel is reaped
     * @return the goodbye, or null for none
     */
    default Object goodbye(Channel channel, ReapReason reason) {
        return null;
    }

    /**
     * Whether an inbound, decoded message is a ping from the peer (never an acknowledgement of ours). With
     * {@link IdleReaper.Builder#permitPeerPings(java.time.Duration)}, a peer that pings more often counts strikes
     * and is reaped with {@link ReapReason#PING_ABUSE}; and, through the default {@link #isHeartbeat}, the peer's
     * pings are not activity. The default recognises none.
     *
     * @param msg an inbound, decoded message
     * @return whether {@code msg} is a ping from the peer
     */
    default boolean isPeerPing(Object msg) {
        return false;
    }

    /**
     * Whether {@link #isPeerPing} recognises anything, so that
     * {@link IdleReaper.Builder#permitPeerPings(java.time.Duration)} can be enforced; {@code build()} refuses that
     * option with a protocol that answers false. The default is false.
     *
     * @return whether {@link #isPeerPing} recognises anything
     */
    default boolean recognizesPeerPings() {
        return false;
    }

    /**
     * Whether a decoded message, inbound or outbound, is a heartbeat frame of this protocol: a ping or a pong
     * (acknowledgements included). Such frames prove liveness and are not activity: they do not reset the idle
     * timers (unless {@link IdleReaper.Builder#heartbeatIsActivity(boolean)}). The default is
     * {@link #isPeerPing}. A protocol whose keep-alive packets are activity by its own rules (MQTT's PINGREQ) leaves
     * both false.
     *
     * @param msg a decoded message, inbound or outbound
     * @return whether {@code msg} is a ping or a pong of this protocol
     */
    default boolean isHeartbeat(Object msg) {
        return isPeerPing(msg);
    }

    /**
     * Whether {@link #isHeartbeat} recognises anything, so that the reaper can keep liveness apart from activity on
     * this protocol's channels. The default is {@link #recognizesPeerPings()}.
     *
     * @return whether {@link #isHeartbeat} recognises anything
     */
    default boolean recognizesHeartbeats() {
        return recognizesPeerPings();
    }

    /**
     * Checks that what this protocol needs at run time (typically one of Netty's optional codec modules) is on the
     * class path; {@code build()} calls it, so that a missing module fails there, by name, rather than closing every
     * connection with a {@link NoClassDefFoundError}. The default checks nothing.
     *
     * @throws IllegalStateException naming what is missing
     */
    default void checkAvailable() {
    }

    /**
     * Returns a handler the reaper adds to each new channel's pipeline, right after {@link #placeAfter}, or null
     * for none (the default). It sees decoded messages, for example to read the keep-alive an MQTT CONNECT
     * declares and change the channel's timeouts with {@link IdleReaper#overrideTimeouts}.
     *
     * @param channel the new channel
     * @return the companion handler, or null for none
     */
    default ChannelHandler companion(Channel channel) {
        return null;
    }

    /**
     * The name of the handler after which the reaper puts its per-channel watchers (the peer-ping counter and the
     * {@link #companion}) once the host's own initializer has run: typically the protocol's decoder. Null (the
     * default), or a name not in the pipeline, puts them last.
     *
     * @param pipeline the channel's pipeline, as the host's initializer left it
     * @return the name of the handler to follow, or null to go last
     */
    default String placeAfter(ChannelPipeline pipeline) {
        return null;
    }
}
