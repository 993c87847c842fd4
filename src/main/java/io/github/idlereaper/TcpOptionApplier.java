package io.github.idlereaper;

import static io.github.idlereaper.TcpOptionLookup.SO_KEEPALIVE;
import static io.github.idlereaper.TcpOptionLookup.TCP_KEEPCNT;
import static io.github.idlereaper.TcpOptionLookup.TCP_KEEPIDLE;
import static io.github.idlereaper.TcpOptionLookup.TCP_KEEPINTVL;
import static io.github.idlereaper.TcpOptionLookup.TCP_USER_TIMEOUT;

import io.netty.channel.Channel;
import io.netty.channel.ChannelConfig;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.SocketChannel;
import java.time.Duration;
import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sets a reaper's {@link KernelOptions} on each TCP channel through the options {@link TcpOptionLookup} found, reads
 * them back, counts the channels where one is not in effect, and warns once per transport and option in this JVM.
 * A channel with no TCP socket gets nothing, and its class is warned about once in this JVM.
 *
 * <p>Thread-safe: the per-reaper record is concurrent. {@link #apply(Channel)} runs on the channel's event loop, once
 * per channel.
 */
final class TcpOptionApplier {

    private static final Logger log = LoggerFactory.getLogger(IdleReaper.class);

    /** The key, after the channel's class name, of the one WARN per channel class that has no TCP socket. */
    static final String NO_TCP_SOCKET = "no TCP socket";

    /**
     * The messages warned so far in this JVM, by {@code transport/OPTION}, or {@code channelClass/no TCP socket}:
     * one WARN each.
     */
    private static final ConcurrentHashMap<String, String> WARNED = new ConcurrentHashMap<>();

    private final KernelOptions options;
    private final ConcurrentHashMap<String, TcpSettings> lastByTransport = new ConcurrentHashMap<>();
    private final LongAdder mismatches = new LongAdder();

    TcpOptionApplier(KernelOptions options) {
        this.options = options;
    }

    /** The settings last read back, per transport. */
    Map<String, TcpSettings> lastByTransport() {
        return Collections.unmodifiableMap(new HashMap<>(lastByTransport));
    }

    /** Channels on which at least one option the reaper asked for was not in effect. */
    long mismatches() {
        return mismatches.sum();
    }

    /** Sets the options on {@code ch}, reads them back, counts and warns about what is not in effect. */
    void apply(Channel ch) {
        if (!options.any()) {
            return;
        }
        if (!(ch instanceof SocketChannel)) {
            warnOnce(ch.getClass().getName(), NO_TCP_SOCKET, notTcpMessage(ch));
            return;
        }
        try {
            apply(ch, TcpOptionLookup.forChannel(ch));
        } catch (RuntimeException e) {
            // Never let socket options break the pipeline; say so once per transport.
            String transport = TcpOptionLookup.transportOf(ch);
            mismatches.increment();
            warnOnce(transport, "options", transport + " failed to apply TCP options " + options + ": " + e);
        }
    }

    /** {@link #apply(Channel)} with the options given; tests pass raw ones. */
    void apply(Channel ch, TcpOptionLookup.Found f) {
        ChannelConfig c = ch.config();
        String transport = TcpOptionLookup.transportOf(ch);
        if (options.keepAliveSet()) {
            set(c, ChannelOption.SO_KEEPALIVE, Boolean.TRUE);
            set(c, f.idle, options.keepAliveIdleSeconds);
            set(c, f.interval, options.keepAliveIntervalSeconds);
            set(c, f.count, options.keepAliveCount);
        }
        if (options.hasUserTimeout()) {
            set(c, f.userTimeout, options.userTimeoutMillis);
        }
        TcpSettings in = read(ch, f, transport);
        boolean ok = true;
        if (options.keepAliveSet()) {
            ok &= check(transport, SO_KEEPALIVE, "on", in.keepAlive() ? "on" : "off", in.keepAlive());
            ok &= check(transport, TCP_KEEPIDLE, options.keepAliveIdleSeconds + "s",
                    in.keepAliveIdle().map(d -> d.getSeconds() + "s").orElse(null),
                    in.keepAliveIdle().map(d -> d.getSeconds() == options.keepAliveIdleSeconds).orElse(false));
            ok &= check(transport, TCP_KEEPINTVL, options.keepAliveIntervalSeconds + "s",
                    in.keepAliveInterval().map(d -> d.getSeconds() + "s").orElse(null),
                    in.keepAliveInterval().map(d -> d.getSeconds() == options.keepAliveIntervalSeconds)
                            .orElse(false));
            ok &= check(transport, TCP_KEEPCNT, String.valueOf(options.keepAliveCount),
                    in.keepAliveCount().isPresent() ? String.valueOf(in.keepAliveCount().getAsInt()) : null,
                    in.keepAliveCount().orElse(-1) == options.keepAliveCount);
        }
        if (options.hasUserTimeout()) {
            ok &= check(transport, TCP_USER_TIMEOUT, options.userTimeoutMillis + "ms",
                    in.userTimeout().map(d -> d.toMillis() + "ms").orElse(null),
                    in.userTimeout().map(d -> d.toMillis() == options.userTimeoutMillis).orElse(false));
        }
        if (!ok) {
            mismatches.increment();
        }
        lastByTransport.put(transport, in);
    }

    private static boolean check(String transport, String option, String asked, String inEffect, boolean same) {
        if (!same) {
            warnOnce(transport, option, ignoredMessage(transport, option, asked, inEffect));
        }
        return same;
    }

    /**
     * The WARN for a channel with no TCP socket (a {@code LocalChannel}, an {@code EmbeddedChannel}, a Unix domain
     * socket): the options asked for, with their values, and the channel's class.
     */
    String notTcpMessage(Channel ch) {
        StringBuilder asked = new StringBuilder();
        if (options.keepAliveSet()) {
            asked.append("tcpKeepAlive ").append(options.keepAliveText());
        }
        if (options.hasUserTimeout()) {
            asked.append(asked.length() == 0 ? "" : " and ").append("tcpUserTimeout (").append(options.userTimeout())
                    .append(')');
        }
        return asked + " not applied to " + ch.getClass().getName()
                + ": it has no TCP socket; its idle timers and heartbeats still apply";
    }

    /**
     * The WARN for an option not in effect: what was asked, what is in effect, what to do. {@code inEffect} is
     * null when the transport cannot read the option.
     */
    static String ignoredMessage(String transport, String option, String asked, String inEffect) {
        String effect;
        if (inEffect != null) {
            effect = inEffect;
        } else if (option.equals(TCP_USER_TIMEOUT)) {
            effect = "unknown (the host's net.ipv4.tcp_retries2 applies)";
        } else {
            effect = "unknown (the host's net.ipv4.tcp_keepalive_* apply)";
        }
        String advice;
        if (option.equals(TCP_USER_TIMEOUT)) {
            if (transport.equals("nio")) {
                advice = "the JDK has no TCP_USER_TIMEOUT; use the epoll or io_uring transport";
            } else if (transport.equals("kqueue")) {
                advice = "this platform has no TCP_USER_TIMEOUT; rely on tcpKeepAlive and writeStallTimeout";
            } else {
                advice = "use the epoll or io_uring transport on Linux";
            }
        } else if (transport.equals("nio")) {
            advice = "this JDK does not offer it on this platform (jdk.net.ExtendedSocketOptions); use a native "
                    + "transport or tune the host's sysctls";
        } else {
            advice = "use a transport that supports it, or tune the host's sysctls";
        }
        return transport + " ignored " + option + ": asked " + asked + ", in effect " + effect + "; " + advice;
    }

    /** Logs {@code message} at WARN unless this transport and option already warned in this JVM. */
    static boolean warnOnce(String transport, String option, String message) {
        if (WARNED.putIfAbsent(transport + "/" + option, message) != null) {
            return false;
        }
        log.warn(message);
        return true;
    }

    /** What was warned in this JVM, by {@code transport/OPTION}. For tests. */
    static Map<String, String> warned() {
        return Collections.unmodifiableMap(new HashMap<>(WARNED));
    }

    /** Forgets what was warned, so that a test sees the first warning again. For tests. */
    static void forgetWarnings() {
        WARNED.clear();
    }

    private static <T> void set(ChannelConfig c, ChannelOption<T> option, T value) {
        if (option == null) {
            return;
        }
        try {
            c.setOption(option, value);
        } catch (RuntimeException e) {
            // The read-back finds what is in effect and warns.
            log.debug("setting {}={} failed on {}", option, value, c, e);
        }
    }

    private static <T> T get(ChannelConfig c, ChannelOption<T> option) {
        if (option == null) {
            return null;
        }
        try {
            return c.getOption(option);
        } catch (RuntimeException e) {
            return null;
        }
    }

    /** Reads what is in effect on {@code ch}'s socket now. */
    static TcpSettings read(Channel ch) {
        return read(ch, TcpOptionLookup.forChannel(ch), TcpOptionLookup.transportOf(ch));
    }

    static TcpSettings read(Channel ch, TcpOptionLookup.Found f, String transport) {
        ChannelConfig c = ch.config();
        Boolean keepAlive = get(c, ChannelOption.SO_KEEPALIVE);
        Integer idle = get(c, f.idle);
        Integer interval = get(c, f.interval);
        Integer count = get(c, f.count);
        Integer userTimeout = get(c, f.userTimeout);
        return new TcpSettings(transport, Boolean.TRUE.equals(keepAlive),
                idle == null ? null : Duration.ofSeconds(idle),
                interval == null ? null : Duration.ofSeconds(interval),
                count == null ? -1 : count,
                userTimeout == null ? null : Duration.ofMillis(userTimeout));
    }
}
