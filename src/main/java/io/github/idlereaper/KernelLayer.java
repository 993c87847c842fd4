package io.github.idlereaper;

import io.netty.channel.Channel;
import io.netty.channel.ChannelConfig;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.SocketChannel;
import java.io.IOException;
import java.net.ConnectException;
import java.time.Duration;
import java.util.Collections;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies a reaper's {@link KernelOptions} to each TCP channel, reads the values back, and warns once per
 * transport and option when one is not in effect.
 *
 * <p>No native transport is a compile-time dependency. The options are found by name among those the channel's own
 * config lists ({@link ChannelConfig#getOptions()}): NIO lists {@code jdk.net.ExtendedSocketOptions} as
 * {@code TCP_KEEPIDLE}, {@code TCP_KEEPINTERVAL} and {@code TCP_KEEPCOUNT}; epoll and io_uring list
 * {@code ...ChannelOption#TCP_KEEPIDLE}, {@code #TCP_KEEPINTVL}, {@code #TCP_KEEPCNT} and {@code #TCP_USER_TIMEOUT}.
 * What a native transport (epoll, io_uring, kqueue) does not list is set as a raw integer socket option
 * ({@code io.netty.channel.unix.IntegerUnixChannelOption}, loaded reflectively) with the platform's option number:
 * that is how kqueue gets keepalive on macOS and FreeBSD. The lookup runs once per config class.
 *
 * <p>Thread-safe. {@link #apply} runs on the channel's event loop, once per channel.
 */
final class KernelLayer {

    private static final Logger log = LoggerFactory.getLogger(IdleReaper.class);

    static final String SO_KEEPALIVE = "SO_KEEPALIVE";
    static final String TCP_KEEPIDLE = "TCP_KEEPIDLE";
    static final String TCP_KEEPINTVL = "TCP_KEEPINTVL";
    static final String TCP_KEEPCNT = "TCP_KEEPCNT";
    static final String TCP_USER_TIMEOUT = "TCP_USER_TIMEOUT";

    /** The messages warned so far in this JVM, by {@code transport/OPTION}: one WARN each. */
    private static final ConcurrentHashMap<String, String> WARNED = new ConcurrentHashMap<>();
    /** The options found per config class. */
    private static final ConcurrentHashMap<Class<?>, Resolved> RESOLVED = new ConcurrentHashMap<>();

    private final KernelOptions options;
    private final ConcurrentHashMap<String, TcpSettings> lastByTransport = new ConcurrentHashMap<>();
    private final LongAdder mismatches = new LongAdder();

    KernelLayer(KernelOptions options) {
        this.options = options;
    }

    KernelOptions options() {
        return options;
    }

    /** The kernel bound the reaper configured, for {@link ReapReason#DEAD_PEER} events; zero when none. */
    Duration deadPeerLimit() {
        return options.deadPeerLimit();
    }

    /** The settings last read back, per transport. */
    Map<String, TcpSettings> lastByTransport() {
        return Collections.unmodifiableMap(new HashMap<>(lastByTransport));
    }

    /** Channels on which at least one option the reaper asked for was not in effect. */
    long mismatches() {
        return mismatches.sum();
    }

    // ---------------------------------------------------------------- applying

    /** Sets the options on {@code ch}, reads them back, counts and warns about what is not in effect. */
    void apply(Channel ch) {
        if (!options.any() || !(ch instanceof SocketChannel)) {
            return;
        }
        try {
            apply(ch, resolve(ch));
        } catch (RuntimeException e) {
            // Never let socket options break the pipeline; say so once per transport.
            String transport = transportOf(ch);
            mismatches.increment();
            warnOnce(transport, "options", transport + " failed to apply TCP options " + options + ": " + e);
        }
    }

    /** {@link #apply(Channel)} with the options given; tests pass raw ones. */
    void apply(Channel ch, Resolved r) {
        ChannelConfig c = ch.config();
        String transport = transportOf(ch);
        if (options.keepAliveSet()) {
            set(c, ChannelOption.SO_KEEPALIVE, Boolean.TRUE);
            set(c, r.idle, options.keepAliveIdleSeconds);
            set(c, r.interval, options.keepAliveIntervalSeconds);
            set(c, r.count, options.keepAliveCount);
        }
        if (options.userTimeoutSet()) {
            set(c, r.userTimeout, options.userTimeoutMillis);
        }
        TcpSettings in = read(ch, r, transport);
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
        if (options.userTimeoutSet()) {
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
            // The read-back below finds what is in effect and warns.
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

    // ---------------------------------------------------------------- reading

    /** Reads what is in effect on {@code ch}'s socket now. */
    static TcpSettings read(Channel ch) {
        return read(ch, resolve(ch), transportOf(ch));
    }

    static TcpSettings read(Channel ch, Resolved r, String transport) {
        ChannelConfig c = ch.config();
        Boolean keepAlive = get(c, ChannelOption.SO_KEEPALIVE);
        Integer idle = get(c, r.idle);
        Integer interval = get(c, r.interval);
        Integer count = get(c, r.count);
        Integer userTimeout = get(c, r.userTimeout);
        return new TcpSettings(transport, Boolean.TRUE.equals(keepAlive),
                idle == null ? null : Duration.ofSeconds(idle),
                interval == null ? null : Duration.ofSeconds(interval),
                count == null ? -1 : count,
                userTimeout == null ? null : Duration.ofMillis(userTimeout));
    }

    /** The transport's short name: nio, epoll, io_uring, kqueue, or the channel's class name. */
    static String transportOf(Channel ch) {
        for (Class<?> c = ch.getClass(); c != null; c = c.getSuperclass()) {
            String n = c.getName();
            if (n.startsWith("io.netty.channel.socket.nio.")) {
                return "nio";
            }
            if (n.startsWith("io.netty.channel.epoll.")) {
                return "epoll";
            }
            if (n.startsWith("io.netty.channel.uring.")) {
                return "io_uring";
            }
            if (n.startsWith("io.netty.channel.kqueue.")) {
                return "kqueue";
            }
        }
        return ch.getClass().getSimpleName();
    }

    // ---------------------------------------------------------------- finding the options

    /** The options of one transport; a null option is one the transport does not have. */
    static final class Resolved {
        final ChannelOption<Integer> idle;
        final ChannelOption<Integer> interval;
        final ChannelOption<Integer> count;
        final ChannelOption<Integer> userTimeout;

        Resolved(ChannelOption<Integer> idle, ChannelOption<Integer> interval, ChannelOption<Integer> count,
                ChannelOption<Integer> userTimeout) {
            this.idle = idle;
            this.interval = interval;
            this.count = count;
            this.userTimeout = userTimeout;
        }

        /** Fills what this lacks from {@code other}. */
        Resolved or(Resolved other) {
            return new Resolved(idle != null ? idle : other.idle, interval != null ? interval : other.interval,
                    count != null ? count : other.count, userTimeout != null ? userTimeout : other.userTimeout);
        }
    }

    static final Resolved NONE = new Resolved(null, null, null, null);

    /** The options for {@code ch}'s config class; looked up once per class. */
    static Resolved resolve(Channel ch) {
        Resolved r = RESOLVED.get(ch.config().getClass());
        if (r != null) {
            return r;
        }
        // Not cached when the lookup throws (for example on a closed socket): the next channel tries again.
        r = byName(ch.config());
        String transport = transportOf(ch);
        if (transport.equals("epoll") || transport.equals("io_uring") || transport.equals("kqueue")) {
            r = r.or(raw(ch));
        }
        RESOLVED.putIfAbsent(ch.config().getClass(), r);
        return r;
    }

    /** The options the config lists, matched by name. */
    @SuppressWarnings("unchecked")
    static Resolved byName(ChannelConfig config) {
        ChannelOption<Integer> idle = null;
        ChannelOption<Integer> interval = null;
        ChannelOption<Integer> count = null;
        ChannelOption<Integer> userTimeout = null;
        for (ChannelOption<?> o : config.getOptions().keySet()) {
            String name = o.name().substring(o.name().lastIndexOf('#') + 1);
            switch (name) {
                case "TCP_KEEPIDLE":
                    idle = (ChannelOption<Integer>) o;
                    break;
                case "TCP_KEEPINTVL":
                case "TCP_KEEPINTERVAL":
                    interval = (ChannelOption<Integer>) o;
                    break;
                case "TCP_KEEPCNT":
                case "TCP_KEEPCOUNT":
                    count = (ChannelOption<Integer>) o;
                    break;
                case "TCP_USER_TIMEOUT":
                    userTimeout = (ChannelOption<Integer>) o;
                    break;
                default:
                    break;
            }
        }
        return new Resolved(idle, interval, count, userTimeout);
    }

    static final int IPPROTO_TCP = 6;

    /**
     * Raw integer socket options with this platform's numbers, for a native transport: Linux
     * ({@code TCP_KEEPIDLE} 4, {@code TCP_KEEPINTVL} 5, {@code TCP_KEEPCNT} 6, {@code TCP_USER_TIMEOUT} 18), macOS
     * ({@code TCP_KEEPALIVE} 0x10, {@code TCP_KEEPINTVL} 0x101, {@code TCP_KEEPCNT} 0x102) and FreeBSD
     * ({@code TCP_KEEPIDLE} 0x100, {@code TCP_KEEPINTVL} 0x200, {@code TCP_KEEPCNT} 0x400). Neither BSD has
     * TCP_USER_TIMEOUT.
     */
    static Resolved raw(Channel ch) {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        int[] n;
        if (os.startsWith("linux")) {
            n = new int[] {4, 5, 6, 18};
        } else if (os.startsWith("mac") || os.startsWith("darwin")) {
            n = new int[] {0x10, 0x101, 0x102, -1};
        } else if (os.startsWith("freebsd")) {
            n = new int[] {0x100, 0x200, 0x400, -1};
        } else {
            return NONE;
        }
        ClassLoader loader = ch.getClass().getClassLoader();
        return new Resolved(rawOption(loader, TCP_KEEPIDLE, n[0]), rawOption(loader, TCP_KEEPINTVL, n[1]),
                rawOption(loader, TCP_KEEPCNT, n[2]), rawOption(loader, TCP_USER_TIMEOUT, n[3]));
    }

    @SuppressWarnings("unchecked")
    private static ChannelOption<Integer> rawOption(ClassLoader loader, String name, int optname) {
        if (optname < 0) {
            return null;
        }
        try {
            Class<?> c = Class.forName("io.netty.channel.unix.IntegerUnixChannelOption", true, loader);
            return (ChannelOption<Integer>) c.getConstructor(String.class, int.class, int.class)
                    .newInstance("idleReaper.raw." + name, IPPROTO_TCP, optname);
        } catch (ReflectiveOperationException | LinkageError | RuntimeException e) {
            return null;
        }
    }

    // ---------------------------------------------------------------- dead peers

    /**
     * Whether {@code cause} is the kernel giving up on the peer: ETIMEDOUT on an established connection, after
     * unanswered keepalive probes or unacknowledged data (TCP_USER_TIMEOUT, tcp_retries2). NIO reports it as an
     * {@link IOException} "Connection timed out", the native transports as "...(..) failed: Connection timed out"
     * (Linux) or "Operation timed out" (BSD, macOS). A failed connect is not a dead peer.
     */
    static boolean isDeadPeer(Throwable cause) {
        Throwable t = cause;
        for (int depth = 0; t != null && depth < 8; depth++, t = t.getCause()) {
            if (t instanceof IOException && !(t instanceof ConnectException)) {
                String m = t.getMessage();
                if (m != null && (m.contains("Connection timed out") || m.contains("Operation timed out"))) {
                    return true;
                }
            }
        }
        return false;
    }
}
