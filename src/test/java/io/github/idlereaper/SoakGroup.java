package io.github.idlereaper;

import java.util.Collections;
import java.util.EnumMap;
import java.util.Map;

/**
 * The soak's population (issue #13, {@link SoakMain}): what each group of clients does, and what the reaper must do
 * with it. A kept group must never be reaped; a doomed group must be reaped for one of its reasons, within its
 * bounds, counted from its anchor. The server's timeouts are in {@link SoakServer}; the bounds here follow from them.
 *
 * <p>Each group runs in its own client JVM in its own network namespace, so the server tells the groups apart by the
 * peer's address, and a vanished group's link can go down alone.
 */
enum SoakGroup {
    /** Application messages every 9 s against a 10 s read idle timeout (0.9 ×), pongs to every ping. */
    ACTIVE(SoakServer.Port.LINE, 4500, Anchor.NONE),
    /** Answers every ping and sends nothing else: alive but idle, reaped by the read idle timer. */
    HEARTBEAT_ONLY(SoakServer.Port.LINE, 1200, Anchor.OPEN, ReapReason.READ_IDLE, 10_000, 10_000),
    /**
     * Never says a word: the heartbeat finds it. A peer that sent nothing is first pinged at a random point of its
     * first interval, so the bound runs from timeout × maxMissed to interval + timeout × maxMissed after the open.
     * One in four closes with an RST as the goodbye arrives. When its loop lags, each of the heartbeat's four steps
     * may add the lag while the read idle timer's one step adds it once, so the read idle timer may come first.
     */
    SILENT(SoakServer.Port.LINE, 1200, Anchor.OPEN, reasons(
            ReapReason.HEARTBEAT_TIMEOUT, 4_000, 8_000, ReapReason.READ_IDLE, 10_000, 10_000)),
    /**
     * Talks every 3 s and answers pings, then goes quiet and its link goes down: no FIN, no RST. From its last byte:
     * the heartbeat within 8 s, or the read idle timer first when its last message came more than 2 s before its
     * last pong (its last message is at most 3 s before its last byte, so neither sooner than 7 s nor later than
     * 10 s).
     */
    VANISHED_IDLE(SoakServer.Port.LINE, 1200, Anchor.CLIENT, reasons(
            ReapReason.HEARTBEAT_TIMEOUT, 8_000, 8_000, ReapReason.READ_IDLE, 7_000, 10_000)),
    /**
     * Reads a stream the server writes (4 KiB every 500 ms, work in flight), talks every 3 s, then vanishes: the
     * heartbeat or the write stall, whichever comes first. From its last byte: the link goes down 500 ms later, so
     * the socket's last progress is at least 6.5 s before a stall reap.
     */
    VANISHED_STREAMING(SoakServer.Port.STREAM, 300, Anchor.CLIENT, reasons(
            ReapReason.HEARTBEAT_TIMEOUT, 8_000, 8_000, ReapReason.WRITE_STALL, 6_000, 8_000)),
    /** Reads 4 KiB every 250 ms (16 KiB/s, an 8 KiB receive buffer) of a faster stream, talks every 3 s: kept. */
    SLOW_READER(SoakServer.Port.STREAM, 300, Anchor.NONE),
    /**
     * Reads the stream, then stops reading for good 2 to 6 s in, asks for a 256 KiB burst (more than its window and
     * the server's 64 KiB send buffer hold, so bytes wait in Netty's buffer at once) and goes on talking every 3 s:
     * the write stall, from the moment it stopped.
     */
    STOPPED_READER(SoakServer.Port.STREAM, 300, Anchor.CLIENT, ReapReason.WRITE_STALL, 6_000, 6_000),
    /**
     * Pings every 100 ms, ten times what is permitted: the ping that makes the third strike reaps. From that ping's
     * send, as the client counts strikes the way the server does.
     */
    PING_FLOODER(SoakServer.Port.LINE, 150, Anchor.CLIENT, ReapReason.PING_ABUSE, 0, 0),
    /** Pings every 1.2 s, above the permitted 1 s, and talks every 9 s: kept. */
    PING_POLITE(SoakServer.Port.LINE, 300, Anchor.NONE),
    /** Sends one message and shuts its output (FIN), reading on: reaped after the half-close timeout, from the FIN. */
    HALF_CLOSED(SoakServer.Port.LINE, 700, Anchor.CLIENT, ReapReason.HALF_CLOSED, 5_000, 5_000),
    /**
     * An HTTP/1.1 request every 4.5 s on one connection (from the last request's send; the answer takes
     * milliseconds), against a 5 s keep-alive timeout (0.9 ×): kept.
     */
    HTTP_KEEPALIVE(SoakServer.Port.HTTP, 2000, Anchor.NONE),
    /** One request, then nothing: the keep-alive timeout, from the request's send. */
    HTTP_IDLE(SoakServer.Port.HTTP, 700, Anchor.CLIENT, ReapReason.KEEPALIVE_TIMEOUT, 5_000, 5_000),
    /**
     * A request's headers one byte every 500 ms, from its connect: the header timeout's 408. From the accept, as the
     * first request of a connection counts (docs/http.md, as nginx's {@code client_header_timeout}).
     */
    SLOWLORIS(SoakServer.Port.HTTP, 700, Anchor.OPEN, ReapReason.REQUEST_HEADER_TIMEOUT, 4_000, 4_000),
    /** Requests the server answers after 12 s, back to back, longer than every HTTP timeout: kept. */
    HTTP_LONG(SoakServer.Port.HTTP, 500, Anchor.NONE),
    /** Talks every 3 s until its age, 20 s ± 10 %, from the open. */
    MAX_AGE(SoakServer.Port.AGE, 950, Anchor.OPEN, ReapReason.MAX_AGE, 18_000, 22_000);

    /** Where a doomed connection's clock starts. */
    enum Anchor {
        /** A kept group: no clock. */
        NONE,
        /** The server's accept, as its recorder saw it. */
        OPEN,
        /** An act of the client's, dated by the client just before it (its last byte, its FIN, its first ping). */
        CLIENT
    }

    /** A reason's bounds, in ms from the anchor, before the tick and the slack. */
    static final class Bound {
        final long lowerMillis;
        final long upperMillis;

        Bound(long lowerMillis, long upperMillis) {
            this.lowerMillis = lowerMillis;
            this.upperMillis = upperMillis;
        }
    }

    final SoakServer.Port port;
    /** Its share of every 15,000 connections. */
    final int weight;
    final Anchor anchor;
    /** The reasons a doomed connection may be reaped for, with their bounds; empty for a kept group. */
    final Map<ReapReason, Bound> expected;

    SoakGroup(SoakServer.Port port, int weight, Anchor anchor) {
        this(port, weight, anchor, Collections.emptyMap());
    }

    SoakGroup(SoakServer.Port port, int weight, Anchor anchor, ReapReason reason, long lower, long upper) {
        this(port, weight, anchor, reasons(reason, lower, upper));
    }

    SoakGroup(SoakServer.Port port, int weight, Anchor anchor, Map<ReapReason, Bound> expected) {
        this.port = port;
        this.weight = weight;
        this.anchor = anchor;
        this.expected = expected;
    }

    private static Map<ReapReason, Bound> reasons(Object... reasonLowerUpper) {
        Map<ReapReason, Bound> m = new EnumMap<>(ReapReason.class);
        for (int i = 0; i < reasonLowerUpper.length; i += 3) {
            m.put((ReapReason) reasonLowerUpper[i], new Bound(((Number) reasonLowerUpper[i + 1]).longValue(),
                    ((Number) reasonLowerUpper[i + 2]).longValue()));
        }
        return Collections.unmodifiableMap(m);
    }

    boolean kept() {
        return expected.isEmpty();
    }

    /** Whether its link goes down in waves (the orchestrator's doing, not the client's). */
    boolean vanishes() {
        return this == VANISHED_IDLE || this == VANISHED_STREAMING;
    }

    /** The latest upper bound of its reasons, in ms. */
    long upperMillis() {
        long max = 0;
        for (Bound b : expected.values()) {
            max = Math.max(max, b.upperMillis);
        }
        return max;
    }

    /** This group's share of {@code total} connections, at least 1. */
    int share(int total) {
        return Math.max(1, (int) Math.round((double) weight * total / 15_000));
    }
}
