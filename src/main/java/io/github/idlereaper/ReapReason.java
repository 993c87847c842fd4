package io.github.idlereaper;

/**
 * Why the reaper closed a connection. Every close that idle-reaper performs carries exactly one reason, in the
 * {@link ReapEvent}, in the {@link ReapListener} callback and in {@link ReaperStats}.
 */
public enum ReapReason {
    /** No inbound bytes for the read idle timeout. */
    READ_IDLE("read idle"),
    /** No outbound progress (no write by the application and no bytes leaving the socket) for the write idle timeout. */
    WRITE_IDLE("write idle"),
    /** Neither inbound bytes nor outbound progress for the all idle timeout. */
    ALL_IDLE("all idle"),
    /**
     * Flushed bytes waited in the outbound buffer with no flush progress for the write-stall timeout: the peer
     * stopped reading.
     */
    WRITE_STALL("write stall"),
    /**
     * The kernel gave up on the peer: TCP keepalive probes went unanswered, or sent data stayed unacknowledged for
     * TCP_USER_TIMEOUT (or the host's tcp_retries2), and the socket failed with ETIMEDOUT ("Connection timed out").
     * The connection is already gone in the kernel; the reaper classifies the failure, fires the {@link ReapEvent},
     * tells the listener, passes the exception on and closes the channel. In the event, {@link ReapEvent#idleFor()}
     * is the time since the last inbound byte and {@link ReapEvent#limit()} is the longest the kernel layer the
     * reaper configured may take (zero when it configured none). A failure seen first by a write whose bytes were
     * still queued in Netty fails that write's promise instead, and is not counted here.
     *
     * @see IdleReaper.Builder#tcpKeepAlive(java.time.Duration, java.time.Duration, int)
     * @see IdleReaper.Builder#tcpUserTimeout(java.time.Duration)
     */
    DEAD_PEER("dead peer"),
    /**
     * The heartbeat's pings went unanswered: after a ping nothing at all came in within the heartbeat timeout, for
     * maxMissed pings in a row. In the event, {@link ReapEvent#limit()} is the heartbeat timeout and
     * {@link ReapEvent#count()} of {@link ReapEvent#of()} the pings missed.
     *
     * @see IdleReaper.Builder#heartbeat(java.time.Duration, java.time.Duration, int, HeartbeatProtocol)
     */
    HEARTBEAT_TIMEOUT("heartbeat timeout"),
    /**
     * The peer pinged more often than {@link IdleReaper.Builder#permitPeerPings(java.time.Duration)} permits, more
     * than {@link IdleReaper.Builder#PEER_PING_STRIKES} times. In the event, {@link ReapEvent#idleFor()} is the
     * gap before the last ping, {@link ReapEvent#limit()} the permitted interval and {@link ReapEvent#count()} the
     * strikes.
     */
    PING_ABUSE("ping abuse"),
    /**
     * HTTP: no request began within the keep-alive timeout after the last response was flushed (HTTP/1.1), or no
     * stream was open for that long (HTTP/2, which says goodbye with GOAWAY NO_ERROR). Closed without a response.
     *
     * @see IdleReaper.Builder#keepAliveTimeout(java.time.Duration)
     */
    KEEPALIVE_TIMEOUT("keep-alive timeout"),
    /**
     * HTTP/1.1: a request's headers did not complete within the request header timeout of its first byte (or, for
     * a connection's first request, of the accept). Answered {@code 408 Request Timeout} with
     * {@code Connection: close} when some of the request had arrived; closed without a response otherwise.
     *
     * @see IdleReaper.Builder#requestHeaderTimeout(java.time.Duration)
     */
    REQUEST_HEADER_TIMEOUT("request header timeout"),
    /**
     * HTTP/1.1: a request body made no progress for the request body timeout. Answered {@code 408 Request Timeout}
     * with {@code Connection: close} unless the response had already begun.
     *
     * @see IdleReaper.Builder#requestBodyTimeout(java.time.Duration)
     */
    REQUEST_BODY_TIMEOUT("request body timeout"),
    /**
     * HTTP: the connection served the most requests allowed. HTTP/1.1: the last response carried
     * {@code Connection: close}, and the connection closed once it was flushed. HTTP/2: GOAWAY with the last stream
     * id the peer opened, and a close once the open streams finished (within the goodbye timeout). In the event,
     * {@link ReapEvent#count()} and {@link ReapEvent#of()} are the limit.
     *
     * @see IdleReaper.Builder#maxRequestsPerConnection(int)
     */
    MAX_REQUESTS("max requests"),
    /**
     * The peer shut its output (a FIN: {@code shutdown(SHUT_WR)}, a half-close) and the connection then had no
     * outbound activity and no work in flight for the half-close timeout, like HAProxy's {@code timeout client-fin}.
     * Only channels that allow half-closure see it ({@code ChannelOption.ALLOW_HALF_CLOSURE}); Netty closes the
     * others itself at the FIN.
     *
     * @see IdleReaper.Builder#halfCloseTimeout(java.time.Duration)
     */
    HALF_CLOSED("half-closed"),
    /**
     * The connection reached its age limit ({@link IdleReaper.Builder#maxConnectionAge}, jittered), was told to go
     * in its protocol's words, and was closed when its work in flight was done or the grace ran out. In the event,
     * {@link ReapEvent#idleFor()} is the connection's age and {@link ReapEvent#limit()} its jittered limit.
     *
     * @see IdleReaper.Builder#maxConnectionAge(java.time.Duration)
     */
    MAX_AGE("max age"),
    /**
     * The reaper was drained ({@link IdleReaper#drain}): the connection got its goodbye and was closed when its work
     * in flight was done or the grace ran out. In the event, {@link ReapEvent#idleFor()} is the time since the drain
     * began and {@link ReapEvent#limit()} the grace.
     */
    DRAIN("drain"),
    /**
     * The reaper was at its {@link IdleReaper.Builder#maxConnections connection cap} with
     * {@link CapPolicy#EVICT_IDLEST}, and a new connection took this one's place: it was the most idle of its event
     * loop, and was closed with its protocol's goodbye. In the event, {@link ReapEvent#idleFor()} is how long it had
     * no application activity, {@link ReapEvent#count()} the connections open and {@link ReapEvent#of()} the cap.
     */
    EVICTED("evicted"),
    /**
     * A new connection was refused, closed with a RST before the host's handlers saw it: the reaper was at its
     * {@link IdleReaper.Builder#maxConnections connection cap} ({@link CapPolicy#REJECT}, or no connection could be
     * evicted), or its address at {@link IdleReaper.Builder#maxConnectionsPerAddress}. In the event,
     * {@link ReapEvent#count()} is the connections open (from that address) and {@link ReapEvent#of()} the limit.
     */
    REJECTED("rejected"),
    /**
     * Resource pressure was at or above {@link IdleReaper.Builder#evictUnderPressure}'s level when a new connection
     * came, and this one, the most idle of its event loop (not busy, quiet for at least a second), was closed with its
     * goodbye to keep a reserve. In the event, {@link ReapEvent#idleFor()} is how long it had no application
     * activity, {@link ReapEvent#count()} the pressure and {@link ReapEvent#of()} the level, in percent.
     */
    PRESSURE("resource pressure");

    private final String label;

    ReapReason(String label) {
        this.label = label;
    }

    /**
     * A short lower-case label for log lines, for example {@code "read idle"}.
     *
     * @return a short lower-case label for log lines, for example {@code "read idle"}
     */
    public String label() {
        return label;
    }
}
