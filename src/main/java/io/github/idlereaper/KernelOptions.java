package io.github.idlereaper;

import java.time.Duration;

/**
 * The kernel layer a reaper asks for: TCP keepalive (SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT) and
 * TCP_USER_TIMEOUT, validated, in the kernel's units. Zero means "not set": the reaper leaves that option alone, and
 * the kernel's default applies. {@code tcpUserTimeout(Duration.ZERO)} is that: given (so it may not be given again),
 * and not set on any socket.
 *
 * <p>Only JDK types: the command-line doctor uses it, through {@link DetectionSettings}, without Netty on the class
 * path. Immutable and thread-safe.
 */
final class KernelOptions {

    static final KernelOptions NONE = new KernelOptions(0, 0, 0, 0, false);

    /** The Linux ranges (net/ipv4/tcp.c: MAX_TCP_KEEPIDLE, MAX_TCP_KEEPINTVL, MAX_TCP_KEEPCNT). */
    static final Duration MIN_KEEPALIVE = Duration.ofSeconds(1);
    static final Duration MAX_KEEPALIVE = Duration.ofSeconds(32767);
    static final int MAX_KEEPALIVE_COUNT = 127;
    /** A day of unacknowledged data is already far past any useful bound. */
    static final Duration MAX_USER_TIMEOUT = Duration.ofHours(24);

    final int keepAliveIdleSeconds;
    final int keepAliveIntervalSeconds;
    final int keepAliveCount;
    /** TCP_USER_TIMEOUT in milliseconds; 0 when not set (the kernel's default applies). */
    final int userTimeoutMillis;
    /** Whether a user timeout was given, zero included: an option may be given once. */
    private final boolean userTimeoutGiven;

    private KernelOptions(int idleSeconds, int intervalSeconds, int count, int userTimeoutMillis,
            boolean userTimeoutGiven) {
        this.keepAliveIdleSeconds = idleSeconds;
        this.keepAliveIntervalSeconds = intervalSeconds;
        this.keepAliveCount = count;
        this.userTimeoutMillis = userTimeoutMillis;
        this.userTimeoutGiven = userTimeoutGiven;
    }

    /**
     * Returns these options with keepalive set.
     *
     * @throws NullPointerException if {@code idle} or {@code interval} is null
     * @throws IllegalArgumentException if a value is outside the Linux range or not whole seconds
     */
    KernelOptions withKeepAlive(Duration idle, Duration interval, int count) {
        Checks.wholeSeconds("tcpKeepAlive idle", idle, MIN_KEEPALIVE, MAX_KEEPALIVE);
        Checks.wholeSeconds("tcpKeepAlive interval", interval, MIN_KEEPALIVE, MAX_KEEPALIVE);
        Checks.range("tcpKeepAlive count", count, 1, MAX_KEEPALIVE_COUNT);
        return new KernelOptions((int) idle.getSeconds(), (int) interval.getSeconds(), count, userTimeoutMillis,
                userTimeoutGiven);
    }

    /**
     * Returns these options with TCP_USER_TIMEOUT set; {@link Duration#ZERO} means not set (the kernel's default,
     * net.ipv4.tcp_retries2, applies).
     *
     * @throws NullPointerException if {@code timeout} is null
     * @throws IllegalArgumentException if {@code timeout} is negative, not whole milliseconds, or above a day
     */
    KernelOptions withUserTimeout(Duration timeout) {
        Checks.wholeMillis("tcpUserTimeout", timeout, MAX_USER_TIMEOUT);
        return new KernelOptions(keepAliveIdleSeconds, keepAliveIntervalSeconds, keepAliveCount,
                (int) timeout.toMillis(), true);
    }

    boolean keepAliveSet() {
        return keepAliveCount > 0;
    }

    /** Whether a user timeout was given, {@link Duration#ZERO} included: for the rule that it is given once. */
    boolean userTimeoutSet() {
        return userTimeoutGiven;
    }

    /** Whether a user timeout is to be set on each socket: given, and not zero. */
    boolean hasUserTimeout() {
        return userTimeoutMillis > 0;
    }

    boolean any() {
        return keepAliveSet() || hasUserTimeout();
    }

    /** The keepalive as it was given to the builder, for "already set" messages: {@code (PT60S, PT10S, 6)}. */
    String keepAliveText() {
        return "(" + Duration.ofSeconds(keepAliveIdleSeconds) + ", " + Duration.ofSeconds(keepAliveIntervalSeconds)
                + ", " + keepAliveCount + ")";
    }

    Duration userTimeout() {
        return Duration.ofMillis(userTimeoutMillis);
    }

    /**
     * The rule between TCP_USER_TIMEOUT and the write-stall timer: Linux (5.11 and later) applies the user timeout to
     * a receive window that stays closed too, and a slow reader's window closes between its reads; the stall timer,
     * which measures the reader's progress, must judge it first. So an enabled user timeout is at least an enabled
     * {@code writeStallTimeout}.
     *
     * @throws IllegalArgumentException naming both options, their values and the rule
     */
    void checkUserTimeoutCovers(IdleTimeouts t) {
        if (hasUserTimeout() && !t.writeStall().isZero() && userTimeout().compareTo(t.writeStall()) < 0) {
            throw new IllegalArgumentException("tcpUserTimeout (" + userTimeout() + ") is shorter than "
                    + "writeStallTimeout (" + t.writeStall() + "): Linux applies TCP_USER_TIMEOUT to a closed "
                    + "receive window too, so it would drop a slow reader before the stall timer, which measures "
                    + "the reader's progress, could judge it; set tcpUserTimeout to at least writeStallTimeout "
                    + "(docs/tcp-keepalive.md)");
        }
    }

    /**
     * The longest the kernel takes, with these options, to give up on a peer that vanished: keepalive on an idle
     * connection, TCP_USER_TIMEOUT with data unacknowledged, whichever is longer. Zero when neither is set.
     */
    Duration deadPeerLimit() {
        long ms = userTimeoutMillis;
        if (keepAliveSet()) {
            ms = Math.max(ms, keepAliveBoundMillis(keepAliveIdleSeconds * 1000L, keepAliveIntervalSeconds * 1000L,
                    keepAliveCount, userTimeoutMillis));
        }
        return Duration.ofMillis(ms);
    }

    /**
     * When Linux gives up on an idle connection whose peer vanished, counted from the last segment received. The
     * keepalive timer fires at {@code idle}, then every {@code interval}, sending one probe each time. Without a
     * user timeout it gives up at the first firing after {@code count} unanswered probes: idle + interval × count.
     * With TCP_USER_TIMEOUT set, the user timeout replaces the count: it gives up at the first firing, after at
     * least one probe, at which the time since the last segment reaches the user timeout
     * (net/ipv4/tcp_timer.c, tcp_keepalive_timer).
     */
    static long keepAliveBoundMillis(long idleMs, long intervalMs, int count, long userTimeoutMs) {
        if (userTimeoutMs <= 0) {
            return idleMs + intervalMs * count;
        }
        long firings = Math.max(1, ceilDiv(userTimeoutMs - idleMs, intervalMs));
        return idleMs + intervalMs * firings;
    }

    private static long ceilDiv(long a, long b) {
        return a <= 0 ? 0 : (a + b - 1) / b;
    }

    @Override
    public String toString() {
        return "KernelOptions(tcpKeepAlive=" + (keepAliveSet() ? keepAliveText() : "unset") + ", tcpUserTimeout="
                + (hasUserTimeout() ? userTimeout() : "unset") + ")";
    }
}
