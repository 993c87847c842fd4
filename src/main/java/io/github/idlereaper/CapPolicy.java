package io.github.idlereaper;

/**
 * What a reaper does with a new connection when it already watches {@link IdleReaper.Builder#maxConnections} of
 * them. See docs/lifecycle.md.
 */
public enum CapPolicy {
    /**
     * Refuse the newcomer: it is closed with a RST before the host's handlers see it ({@link ReapReason#REJECTED}),
     * as nginx's {@code limit_conn} and HAProxy's {@code maxconn} refuse one; the connections already open are kept.
     */
    REJECT,
    /**
     * Let the newcomer in and evict the most idle connection of its event loop instead ({@link ReapReason#EVICTED},
     * with its protocol's goodbye): among the connections the loop's wheel visits next, the one whose last
     * application message is oldest, provided it is not busy, has nothing waiting to be flushed, is not already
     * closing and has been idle for at least a second. With no such connection, or when the loop's
     * {@link IdleReaper.Builder#closeRate close rate} has no token, the newcomer is refused as with {@link #REJECT}.
     */
    EVICT_IDLEST
}
