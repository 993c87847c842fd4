package io.github.idlereaper;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * The TCP keepalive and TCP_USER_TIMEOUT values in effect on one socket, as read back from the kernel through the
 * channel's transport. A value the transport cannot read is empty: NIO, for example, has no TCP_USER_TIMEOUT.
 *
 * <p>Get one with {@link IdleReaper#tcpSettings(io.netty.channel.Channel)} for a channel, or per transport from
 * {@link ReaperStats#tcpSettings()}.
 *
 * <p>Instances are immutable and thread-safe.
 */
public final class TcpSettings {

    private final String transport;
    private final boolean keepAlive;
    private final Duration keepAliveIdle;
    private final Duration keepAliveInterval;
    private final int keepAliveCount;
    private final Duration userTimeout;

    /** Values that could not be read are null, or a negative count. */
    TcpSettings(String transport, boolean keepAlive, Duration keepAliveIdle, Duration keepAliveInterval,
            int keepAliveCount, Duration userTimeout) {
        this.transport = Objects.requireNonNull(transport, "transport");
        this.keepAlive = keepAlive;
        this.keepAliveIdle = keepAliveIdle;
        this.keepAliveInterval = keepAliveInterval;
        this.keepAliveCount = keepAliveCount;
        this.userTimeout = userTimeout;
    }

    /**
     * The transport that read the values: {@code nio}, {@code epoll}, {@code io_uring}, {@code kqueue}, or the
     * channel's class name.
     *
     * @return the transport that read the values
     */
    public String transport() {
        return transport;
    }

    /**
     * Whether SO_KEEPALIVE is on. When it is off, the keepalive values below are kept but not used.
     *
     * @return whether SO_KEEPALIVE is on
     */
    public boolean keepAlive() {
        return keepAlive;
    }

    /**
     * TCP_KEEPIDLE: how long the connection must be silent before the first probe.
     *
     * @return TCP_KEEPIDLE: how long the connection must be silent before the first probe
     */
    public Optional<Duration> keepAliveIdle() {
        return Optional.ofNullable(keepAliveIdle);
    }

    /**
     * TCP_KEEPINTVL: the time between two probes.
     *
     * @return TCP_KEEPINTVL: the time between two probes
     */
    public Optional<Duration> keepAliveInterval() {
        return Optional.ofNullable(keepAliveInterval);
    }

    /**
     * TCP_KEEPCNT: how many unanswered probes make the kernel give up.
     *
     * @return TCP_KEEPCNT: how many unanswered probes make the kernel give up
     */
    public OptionalInt keepAliveCount() {
        return keepAliveCount < 0 ? OptionalInt.empty() : OptionalInt.of(keepAliveCount);
    }

    /**
     * TCP_USER_TIMEOUT: how long data may stay unacknowledged before the kernel gives up. {@link Duration#ZERO}
     * means the kernel's default (net.ipv4.tcp_retries2) applies.
     *
     * @return TCP_USER_TIMEOUT: how long data may stay unacknowledged before the kernel gives up
     */
    public Optional<Duration> userTimeout() {
        return Optional.ofNullable(userTimeout);
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof TcpSettings)) {
            return false;
        }
        TcpSettings t = (TcpSettings) o;
        return transport.equals(t.transport) && keepAlive == t.keepAlive && keepAliveCount == t.keepAliveCount
                && Objects.equals(keepAliveIdle, t.keepAliveIdle)
                && Objects.equals(keepAliveInterval, t.keepAliveInterval) && Objects.equals(userTimeout, t.userTimeout);
    }

    @Override
    public int hashCode() {
        return Objects.hash(transport, keepAlive, keepAliveIdle, keepAliveInterval, keepAliveCount, userTimeout);
    }

    /**
     * For example
     * {@code "epoll: SO_KEEPALIVE on, TCP_KEEPIDLE 60s, TCP_KEEPINTVL 10s, TCP_KEEPCNT 6, TCP_USER_TIMEOUT 30000ms"}.
     */
    @Override
    public String toString() {
        return transport + ": SO_KEEPALIVE " + (keepAlive ? "on" : "off")
                + ", TCP_KEEPIDLE " + (keepAliveIdle == null ? "unknown" : keepAliveIdle.getSeconds() + "s")
                + ", TCP_KEEPINTVL " + (keepAliveInterval == null ? "unknown" : keepAliveInterval.getSeconds() + "s")
                + ", TCP_KEEPCNT " + (keepAliveCount < 0 ? "unknown" : String.valueOf(keepAliveCount))
                + ", TCP_USER_TIMEOUT " + (userTimeout == null ? "unknown" : userTimeout.toMillis() + "ms");
    }
}
