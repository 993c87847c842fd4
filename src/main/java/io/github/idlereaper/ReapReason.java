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
    PING_ABUSE("ping abuse");

    private final String label;

    ReapReason(String label) {
        this.label = label;
    }

    /** A short lower-case label for log lines, for example {@code "read idle"}. */
    public String label() {
        return label;
    }
}
