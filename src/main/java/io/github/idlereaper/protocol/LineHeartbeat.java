package io.github.idlereaper.protocol;

import io.github.idlereaper.HeartbeatProtocol;
import io.github.idlereaper.ReapReason;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelPipeline;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.Map;
import java.util.Objects;

/**
 * A heartbeat for custom text or binary protocols: the ping is a fixed payload such as {@code PING\r\n}, written as
 * a fresh buffer from the channel's allocator; any inbound byte afterwards proves the peer alive, so the peer may
 * answer {@code PONG}, or anything at all.
 *
 * <p>Optional parts, each a copy with one more setting:
 * <ul>
 *   <li>a goodbye before a close, which may name the reason ({@code {reason}} in the text becomes, for example,
 *       {@code ping abuse}), or one text per reason;</li>
 *   <li>recognition of the peer's ping (for {@link io.github.idlereaper.IdleReaper.Builder#permitPeerPings
 *       ping-abuse enforcement}) and of its pong, as decoded messages right after the handler named in
 *       {@link #watchAfter} (typically the host's {@code StringDecoder} or frame decoder): a {@link CharSequence},
 *       or a {@link ByteBuf} with exactly the given content. Recognised pings and pongs prove liveness and are not
 *       activity, so a peer that only answers pings is reaped by the idle timers.</li>
 * </ul>
 *
 * <pre>{@code
 * LineHeartbeat redis = LineHeartbeat.of("PING\r\n", US_ASCII)
 *         .recognizing("PING").recognizingPong("PONG").watchAfter("stringDecoder")
 *         .withGoodbye("-ERR closing: {reason}\r\n");
 * }</pre>
 *
 * <p>Immutable and thread-safe.
 */
public final class LineHeartbeat implements HeartbeatProtocol {

    /** In a goodbye's text, replaced by the reason's label, for example {@code read idle}. */
    public static final String REASON = "{reason}";

    private final byte[] ping;
    /** The goodbye for every reason without its own, or null. */
    private final String goodbye;
    /** Goodbyes for single reasons. */
    private final Map<ReapReason, String> goodbyes;
    private final String peerPing;
    private final String pong;
    private final String handlerAfter;
    /** {@code peerPing} and {@code pong} as UTF-8, to compare with decoded buffers without allocating. */
    private final byte[] peerPingBytes;
    private final byte[] pongBytes;

    private LineHeartbeat(byte[] ping, String goodbye, Map<ReapReason, String> goodbyes, String peerPing,
            String pong, String handlerAfter) {
        this.ping = ping;
        this.goodbye = goodbye;
        this.goodbyes = goodbyes;
        this.peerPing = peerPing;
        this.pong = pong;
        this.handlerAfter = handlerAfter;
        this.peerPingBytes = peerPing == null ? null : peerPing.getBytes(StandardCharsets.UTF_8);
        this.pongBytes = pong == null ? null : pong.getBytes(StandardCharsets.UTF_8);
    }

    /**
     * Pings with {@code line} encoded in {@code charset}, exactly as given (include the line ending).
     *
     * @param line the ping line, with its line ending
     * @param charset the line's encoding
     * @return a protocol that pings with {@code line}
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
     * @param payload the ping's bytes
     * @return a protocol that pings with {@code payload}
     * @throws NullPointerException if {@code payload} is null
     * @throws IllegalArgumentException if {@code payload} is empty
     */
    public static LineHeartbeat ofBytes(byte[] payload) {
        Objects.requireNonNull(payload, "payload");
        if (payload.length == 0) {
            throw new IllegalArgumentException("ping payload must not be empty");
        }
        return new LineHeartbeat(payload.clone(), null, new EnumMap<>(ReapReason.class), null, null, null);
    }

    /**
     * A copy that writes {@code line}, in UTF-8, before every close except a write stall; {@value #REASON} in it
     * becomes the reason's {@link ReapReason#label() label}. A goodbye set for one reason with
     * {@link #withGoodbye(ReapReason, String)} takes precedence.
     *
     * @param line the goodbye line
     * @return a copy with that goodbye
     */
    public LineHeartbeat withGoodbye(String line) {
        Objects.requireNonNull(line, "line");
        return new LineHeartbeat(ping, line, goodbyes, peerPing, pong, handlerAfter);
    }

    /**
     * A copy that writes {@code line}, in UTF-8, before a close for {@code reason} (never for
     * {@link ReapReason#WRITE_STALL}: that peer does not read); {@value #REASON} in it becomes the reason's label.
     *
     * @param reason the reason the goodbye is for
     * @param line the goodbye line
     * @return a copy with that goodbye for {@code reason}
     * @throws IllegalArgumentException for {@link ReapReason#WRITE_STALL}
     */
    public LineHeartbeat withGoodbye(ReapReason reason, String line) {
        Objects.requireNonNull(reason, "reason");
        Objects.requireNonNull(line, "line");
        if (reason == ReapReason.WRITE_STALL) {
            throw new IllegalArgumentException("a write-stall reap sends no goodbye: its peer does not read");
        }
        EnumMap<ReapReason, String> copy = new EnumMap<>(ReapReason.class);
        copy.putAll(goodbyes);
        copy.put(reason, line);
        return new LineHeartbeat(ping, goodbye, copy, peerPing, pong, handlerAfter);
    }

    /**
     * A copy that recognises the peer's pings: a decoded message equal to {@code message}, either a
     * {@link CharSequence} or a {@link ByteBuf} holding its UTF-8 bytes (without a line ending, as a line decoder
     * strips it). Recognition needs {@link #watchAfter} too.
     *
     * @param message the peer's ping, without its line ending
     * @return a copy that recognises the peer's pings
     */
    public LineHeartbeat recognizing(String message) {
        Objects.requireNonNull(message, "message");
        return new LineHeartbeat(ping, goodbye, goodbyes, message, pong, handlerAfter);
    }

    /**
     * A copy that recognises the peer's answer to the ping (for example {@code PONG}), as {@link #recognizing}
     * does: it proves the peer alive and is not activity. Recognition needs {@link #watchAfter} too.
     *
     * @param message the peer's answer, without its line ending
     * @return a copy that recognises the peer's answer
     */
    public LineHeartbeat recognizingPong(String message) {
        Objects.requireNonNull(message, "message");
        return new LineHeartbeat(ping, goodbye, goodbyes, peerPing, message, handlerAfter);
    }

    /**
     * A copy whose watch goes right after the handler named {@code name} (typically the host's
     * {@code StringDecoder}), where it sees decoded messages. Without it nothing is recognised.
     *
     * @param name the name of the host's line decoder in the pipeline
     * @return a copy whose watch follows that handler
     */
    public LineHeartbeat watchAfter(String name) {
        Objects.requireNonNull(name, "name");
        return new LineHeartbeat(ping, goodbye, goodbyes, peerPing, pong, name);
    }

    @Override
    public Object ping(Channel channel) {
        return channel.alloc().buffer(ping.length).writeBytes(ping);
    }

    @Override
    public Object goodbye(Channel channel, ReapReason reason) {
        String text = goodbyes.getOrDefault(reason, goodbye);
        if (text == null || reason == ReapReason.WRITE_STALL) {
            return null;
        }
        byte[] bytes = text.replace(REASON, reason.label()).getBytes(StandardCharsets.UTF_8);
        return channel.alloc().buffer(bytes.length).writeBytes(bytes);
    }

    @Override
    public boolean isPeerPing(Object msg) {
        return peerPing != null && matches(msg, peerPing, peerPingBytes);
    }

    /** Whether the peer's pings are recognised: {@link #recognizing} and {@link #watchAfter} were both given. */
    @Override
    public boolean recognizesPeerPings() {
        return peerPing != null && handlerAfter != null;
    }

    @Override
    public boolean isHeartbeat(Object msg) {
        return isPeerPing(msg) || (pong != null && matches(msg, pong, pongBytes));
    }

    @Override
    public boolean recognizesHeartbeats() {
        return (peerPing != null || pong != null) && handlerAfter != null;
    }

    private static boolean matches(Object msg, String text, byte[] bytes) {
        if (msg instanceof CharSequence) {
            return text.contentEquals((CharSequence) msg);
        }
        if (msg instanceof ByteBuf) {
            ByteBuf b = (ByteBuf) msg;
            if (b.readableBytes() != bytes.length) {
                return false;
            }
            int at = b.readerIndex();
            for (int i = 0; i < bytes.length; i++) {
                if (b.getByte(at + i) != bytes[i]) {
                    return false;
                }
            }
            return true;
        }
        return false;
    }

    @Override
    public String placeAfter(ChannelPipeline pipeline) {
        return handlerAfter;
    }

    @Override
    public String toString() {
        return "LineHeartbeat(" + printable(ping) + (goodbye != null ? ", goodbye " + printable(goodbye) : "")
                + (goodbyes.isEmpty() ? "" : ", goodbyes for " + goodbyes.keySet())
                + (peerPing != null ? ", recognizing " + peerPing : "")
                + (pong != null ? ", pong " + pong : "")
                + (handlerAfter != null ? ", after " + handlerAfter : "") + ")";
    }

    private static String printable(String s) {
        return printable(s.getBytes(StandardCharsets.UTF_8));
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
        return Arrays.equals(ping, l.ping) && Objects.equals(goodbye, l.goodbye) && goodbyes.equals(l.goodbyes)
                && Objects.equals(peerPing, l.peerPing) && Objects.equals(pong, l.pong)
                && Objects.equals(handlerAfter, l.handlerAfter);
    }

    @Override
    public int hashCode() {
        return Objects.hash(Arrays.hashCode(ping), goodbye, goodbyes, peerPing, pong, handlerAfter);
    }
}
