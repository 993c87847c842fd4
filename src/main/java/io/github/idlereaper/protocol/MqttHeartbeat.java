package io.github.idlereaper.protocol;

import io.github.idlereaper.HeartbeatProtocol;
import io.github.idlereaper.IdleReaper;
import io.github.idlereaper.IdleTimeouts;
import io.github.idlereaper.ReapReason;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.mqtt.MqttConnectMessage;
import io.netty.handler.codec.mqtt.MqttDecoder;
import io.netty.handler.codec.mqtt.MqttMessage;
import io.netty.handler.codec.mqtt.MqttMessageBuilders;
import io.netty.util.AttributeKey;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * MQTT 3.1.1 and 5 keep-alive enforcement. A server never pings an MQTT client, so on a server this protocol
 * sends no pings; instead its companion, right after the host's {@link MqttDecoder}, reads the keep-alive the
 * client declares in CONNECT and sets the channel's read idle timeout to 1.5 times it [MQTT-3.1.2-24], with
 * {@link IdleReaper#overrideTimeouts}: a client that sends no control packet (PINGREQ included) for that long is
 * reaped with {@link ReapReason#READ_IDLE}. A keep-alive of 0 leaves the reaper's configured timeouts in place. Use it
 * with a read idle timeout for clients that never send CONNECT:
 *
 * <pre>{@code
 * IdleReaper.builder()
 *         .readIdleTimeout(Duration.ofSeconds(60))      // before CONNECT, and for keep-alive 0
 *         .heartbeat(Duration.ZERO, Duration.ZERO, 1, MqttHeartbeat.INSTANCE)
 *         .build();
 * }</pre>
 *
 * <p>MQTT's keep-alive counts every control packet, PINGREQ included [MQTT-3.1.2-23], so this protocol recognises
 * no heartbeat frames: every packet is activity.
 *
 * <p>On a client (a channel without a parent) the ping is PINGREQ, so {@code install(Bootstrap)} keeps a client
 * connection alive with a real heartbeat interval. The goodbye, for MQTT 5 only, is DISCONNECT with reason code
 * 0x8D (keep alive timeout) after an idle or heartbeat reap, 0x9C (use another server) at the connection's max age,
 * 0x8B (server shutting down) in a drain and 0x89 (server busy) for an eviction at the connection cap or under
 * resource pressure; MQTT 3.1.1 has no server DISCONNECT.
 *
 * <p>Immutable and thread-safe; use {@link #INSTANCE}.
 */
public final class MqttHeartbeat implements HeartbeatProtocol {

    /** The one instance. */
    public static final MqttHeartbeat INSTANCE = new MqttHeartbeat();

    /** MQTT 5's DISCONNECT reason code "Keep Alive timeout". */
    public static final byte KEEP_ALIVE_TIMEOUT = (byte) 0x8D;
    /** MQTT 5's DISCONNECT reason code "Server shutting down", said for a drain. */
    public static final byte SERVER_SHUTTING_DOWN = (byte) 0x8B;
    /**
     * MQTT 5's DISCONNECT reason code "Use another server", said at the connection's max age: the client should
     * reconnect, perhaps elsewhere, which is what an age limit is for (rebalancing); the server is not going away.
     */
    public static final byte USE_ANOTHER_SERVER = (byte) 0x9C;
    /**
     * MQTT 5's DISCONNECT reason code "Server busy", said to a connection evicted at the reaper's connection cap:
     * the server is short of room, not shutting down, and the client is not at fault (0x97, Quota exceeded, would
     * blame its own usage); a client backs off before it reconnects.
     */
    public static final byte SERVER_BUSY = (byte) 0x89;

    /** The protocol level the client's CONNECT declared (4 for 3.1.1, 5 for 5). */
    static final AttributeKey<Integer> VERSION = AttributeKey.valueOf(MqttHeartbeat.class, "version");

    private MqttHeartbeat() {
    }

    @Override
    public Object ping(Channel channel) {
        return channel.parent() == null ? MqttMessage.PINGREQ : null;
    }

    @Override
    public Object goodbye(Channel channel, ReapReason reason) {
        Integer version = channel.attr(VERSION).get();
        if (version == null || version < 5 || channel.parent() == null) {
            return null;
        }
        if (reason == ReapReason.READ_IDLE || reason == ReapReason.ALL_IDLE
                || reason == ReapReason.HEARTBEAT_TIMEOUT) {
            return MqttMessageBuilders.disconnect().reasonCode(KEEP_ALIVE_TIMEOUT).build();
        }
        if (reason == ReapReason.MAX_AGE) {
            return MqttMessageBuilders.disconnect().reasonCode(USE_ANOTHER_SERVER).build();
        }
        if (reason == ReapReason.DRAIN) {
            return MqttMessageBuilders.disconnect().reasonCode(SERVER_SHUTTING_DOWN).build();
        }
        if (reason == ReapReason.EVICTED || reason == ReapReason.PRESSURE) {
            return MqttMessageBuilders.disconnect().reasonCode(SERVER_BUSY).build();
        }
        return null;
    }

    /** Needs {@code io.netty:netty-codec-mqtt}. */
    @Override
    public void checkAvailable() {
        Codecs.require(this, "io.netty:netty-codec-mqtt", "io.netty.handler.codec.mqtt.MqttDecoder");
    }

    @Override
    public ChannelHandler companion(Channel channel) {
        return channel.parent() == null ? null : new KeepAlive();
    }

    /** Right after the host's decoder, where CONNECT is a decoded message. */
    @Override
    public String placeAfter(ChannelPipeline pipeline) {
        ChannelHandlerContext ctx = pipeline.context(MqttDecoder.class);
        return ctx == null ? null : ctx.name();
    }

    /**
     * The read idle timeout a CONNECT keep-alive of {@code keepAliveSeconds} enforces: one and a half times it.
     *
     * @param keepAliveSeconds the keep-alive a client's CONNECT asked for, in seconds
     * @return one and a half times the keep-alive
     */
    public static Duration readIdleFor(int keepAliveSeconds) {
        return Duration.ofMillis(keepAliveSeconds * 1500L);
    }

    @Override
    public String toString() {
        return "MqttHeartbeat";
    }

    /**
     * Reads CONNECT once, overrides the channel's read idle timeout, and leaves the pipeline. A keep-alive the
     * channel cannot take (one and a half times it shorter than the heartbeat's bound, interval + timeout ×
     * maxMissed) keeps the channel's timeouts, with a WARN: the client chose the value, so it must not throw.
     */
    static final class KeepAlive extends ChannelInboundHandlerAdapter {
        private static final Logger log = LoggerFactory.getLogger(IdleReaper.class);

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof MqttConnectMessage) {
                MqttConnectMessage connect = (MqttConnectMessage) msg;
                Channel ch = ctx.channel();
                ch.attr(VERSION).set(connect.variableHeader().version());
                int keepAlive = connect.variableHeader().keepAliveTimeSeconds();
                if (keepAlive > 0) {
                    IdleTimeouts current = IdleReaper.channelTimeouts(ch);
                    try {
                        IdleReaper.overrideTimeouts(ch,
                                current.toBuilder().readIdle(readIdleFor(keepAlive)).build());
                    } catch (IllegalArgumentException e) {
                        log.warn("{} MQTT keep-alive of {} s cannot be enforced ({}); keeping read idle {}", ch,
                                keepAlive, e.getMessage(), current.readIdle());
                    }
                }
                ctx.pipeline().remove(this);
            }
            ctx.fireChannelRead(msg);
        }
    }
}
