package io.github.idlereaper.protocol;

import io.github.idlereaper.HeartbeatProtocol;
import io.github.idlereaper.ReapReason;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import java.nio.charset.Charset;
import java.util.Arrays;
import java.util.Objects;

/**
 * A heartbeat for custom text or binary protocols: the ping is a fixed payload such as {@code PING\r\n}, written as
 * a fresh buffer from the channel's allocator; any inbound byte afterwards proves the peer alive, so the peer may
 * answer {@code PONG}, or anything at all. Optionally a goodbye payload before a close, and the peer's own ping
 * for {@link io.github.idlereaper.IdleReaper.Builder#permitPeerPings ping-abuse enforcement}, recognised as a
 * decoded {@link CharSequence} (after a {@code StringDecoder}) or a {@link ByteBuf} (after a frame decoder) with
 * exactly the given content.
 *
 * <pre>{@code
 * LineHeartbeat redis = LineHeartbeat.of("PING\r\n", US_ASCII).recognizing("PING").withGoodbye("-ERR idle\r\n");
 * }</pre>
 *
 * <p>Immutable and thread-safe.
 */
public final class LineHeartbeat implements HeartbeatProtocol {

    private final byte[] ping;
    private final byte[] goodbye;
    private final String peerPing;
    private final byte[] peerPingBytes;
    private final String handlerAfter;

    private LineHeartbeat(byte[] ping, byte[] goodbye, String peerPing, byte[] peerPingBytes, String handlerAfter) {
        this.ping = ping;
        this.goodbye = goodbye;
        this.peerPing = peerPing;
        this.peerPingBytes = peerPingBytes;
        this.handlerAfter = handlerAfter;
    }

    /**
     * Pings with {@code line} encoded in {@code charset}, exactly as given (include the line ending).
     *
     * @throws NullPointerException if an argument is null
     * @throws IllegalArgumentException if {@code line} is empty
     */
    public static LineHeartbeat of(String line, Charset charset) {
        Objects.requireNonNull(line, "line");
        Objects.requireNonNull(charset, "charset");
        return ofBytes(line.getBytes(charset));
    }

    /**
     * Pings with {@code payload} (copied).
     *
     * @throws NullPointerException if {@code payload} is null
     * @throws IllegalArgumentException if {@code payload} is empty
     */
    public static LineHeartbeat ofBytes(byte[] payload) {
        Objects.requireNonNull(payload, "payload");
        if (payload.length == 0) {
            throw new IllegalArgumentException("ping payload must not be empty");
        }
        return new LineHeartbeat(payload.clone(), null, null, null, null);
    }

    /** A copy that writes {@code line}, in UTF-8, before every close except a write stall. */
    public LineHeartbeat withGoodbye(String line) {
        Objects.requireNonNull(line, "line");
        return new LineHeartbeat(ping, line.getBytes(java.nio.charset.StandardCharsets.UTF_8), peerPing,
                peerPingBytes, handlerAfter);
    }

    /**
     * A copy that recognises the peer's pings: a decoded message equal to {@code message}, either a
     * {@link CharSequence} or a {@link ByteBuf} holding its UTF-8 bytes (without a line ending, as a line decoder
     * strips it).
     */
    public LineHeartbeat recognizing(String message) {
        Objects.requireNonNull(message, "message");
        return new LineHeartbeat(ping, goodbye, message, message.getBytes(java.nio.charset.StandardCharsets.UTF_8),
                handlerAfter);
    }

    /**
     * A copy whose peer-ping watch goes right after the handler named {@code name} (typically the host's
     * {@code StringDecoder}), rather than last.
     */
    public LineHeartbeat watchAfter(String name) {
        Objects.requireNonNull(name, "name");
        return new LineHeartbeat(ping, goodbye, peerPing, peerPingBytes, name);
    }

    @Override
    public Object ping(Channel channel) {
        return channel.alloc().buffer(ping.length).writeBytes(ping);
    }

    @Override
    public Object goodbye(Channel channel, ReapReason reason) {
        return goodbye == null ? null : channel.alloc().buffer(goodbye.length).writeBytes(goodbye);
    }

    @Override
    public boolean isPeerPing(Object msg) {
        if (peerPing == null) {
            return false;
        }
        if (msg instanceof CharSequence) {
            return peerPing.contentEquals((CharSequence) msg);
        }
        if (msg instanceof ByteBuf) {
            ByteBuf b = (ByteBuf) msg;
            if (b.readableBytes() != peerPingBytes.length) {
                return false;
            }
            int at = b.readerIndex();
            for (int i = 0; i < peerPingBytes.length; i++) {
                if (b.getByte(at + i) != peerPingBytes[i]) {
                    return false;
                }
            }
            return true;
        }
        return false;
    }

    @Override
    public String placeAfter(io.netty.channel.ChannelPipeline pipeline) {
        return handlerAfter;
    }

    @Override
    public String toString() {
        return "LineHeartbeat(" + printable(ping) + (goodbye != null ? ", goodbye " + printable(goodbye) : "")
                + (peerPing != null ? ", recognizing " + peerPing : "") + ")";
    }

    private static String printable(byte[] b) {
        StringBuilder sb = new StringBuilder();
        for (byte x : b) {
            if (x >= 0x20 && x < 0x7f) {
                sb.append((char) x);
            } else {
                sb.append(String.format("\\x%02x", x & 0xff));
            }
        }
        return sb.toString();
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof LineHeartbeat)) {
            return false;
        }
        LineHeartbeat l = (LineHeartbeat) o;
        return Arrays.equals(ping, l.ping) && Arrays.equals(goodbye, l.goodbye) && Objects.equals(peerPing, l.peerPing)
                && Objects.equals(handlerAfter, l.handlerAfter);
    }

    @Override
    public int hashCode() {
        return Objects.hash(Arrays.hashCode(ping), Arrays.hashCode(goodbye), peerPing, handlerAfter);
    }
}
