package io.github.idlereaper;

import io.netty.channel.Channel;
import io.netty.channel.ChannelConfig;
import io.netty.channel.ChannelOption;
import java.util.Locale;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Finds the TCP keepalive and TCP_USER_TIMEOUT options of a channel's transport, with no native transport as a
 * compile-time dependency.
 *
 * <p>The options are found by name among those the channel's own config lists ({@link ChannelConfig#getOptions()}):
 * NIO lists {@code jdk.net.ExtendedSocketOptions} as {@code TCP_KEEPIDLE}, {@code TCP_KEEPINTERVAL} and
 * {@code TCP_KEEPCOUNT}; epoll and io_uring list {@code ...ChannelOption#TCP_KEEPIDLE}, {@code #TCP_KEEPINTVL},
 * {@code #TCP_KEEPCNT} and {@code #TCP_USER_TIMEOUT}. Netty 4.1's incubator io_uring
 * ({@code io.netty.incubator.channel.uring}) lists all but the last, which is found by name beside the others. What
 * a native transport (epoll, io_uring, kqueue) still lacks is set as a raw integer socket option ({@code io.netty.channel.unix.IntegerUnixChannelOption}, loaded
 * reflectively) with the platform's option number: that is how kqueue gets keepalive on macOS and FreeBSD. The
 * lookup runs once per config class.
 *
 * <p>Stateless apart from a cache per config class; thread-safe.
 */
final class TcpOptionLookup {

    static final String SO_KEEPALIVE = "SO_KEEPALIVE";
    static final String TCP_KEEPIDLE = "TCP_KEEPIDLE";
    static final String TCP_KEEPINTVL = "TCP_KEEPINTVL";
    static final String TCP_KEEPCNT = "TCP_KEEPCNT";
    static final String TCP_USER_TIMEOUT = "TCP_USER_TIMEOUT";

    /** The options found per config class. */
    private static final ConcurrentHashMap<Class<?>, Found> FOUND = new ConcurrentHashMap<>();

    private TcpOptionLookup() {
    }

    /** The options of one transport; a null option is one the transport does not have. Immutable. */
    static final class Found {
        final ChannelOption<Integer> idle;
        final ChannelOption<Integer> interval;
        final ChannelOption<Integer> count;
        final ChannelOption<Integer> userTimeout;

        Found(ChannelOption<Integer> idle, ChannelOption<Integer> interval, ChannelOption<Integer> count,
                ChannelOption<Integer> userTimeout) {
            this.idle = idle;
            this.interval = interval;
            this.count = count;
            this.userTimeout = userTimeout;
        }

        /** Fills what this lacks from {@code other}. */
        Found or(Found other) {
            return new Found(idle != null ? idle : other.idle, interval != null ? interval : other.interval,
                    count != null ? count : other.count, userTimeout != null ? userTimeout : other.userTimeout);
        }
    }

    static final Found NONE = new Found(null, null, null, null);

    /** The options for {@code ch}'s config class; looked up once per class. */
    static Found forChannel(Channel ch) {
        Found f = FOUND.get(ch.config().getClass());
        if (f != null) {
            return f;
        }
        // Not cached when the lookup throws (for example on a closed socket): the next channel tries again.
        f = byName(ch.config());
        String transport = transportOf(ch);
        if (transport.equals("epoll") || transport.equals("io_uring") || transport.equals("kqueue")) {
            f = f.or(raw(ch));
        }
        FOUND.putIfAbsent(ch.config().getClass(), f);
        return f;
    }

    /**
     * The options the config lists, matched by name; then, for any still missing, the constant of the same name
     * beside a listed one. Netty names a transport's option constants {@code OwnerClass#NAME} in
     * {@link ChannelOption}'s pool, and a config may support an option it does not list: Netty 4.1's incubator
     * io_uring ({@code io.netty.incubator.channel.uring.IOUringChannelOption}) lists its keepalive options but not
     * its {@code TCP_USER_TIMEOUT}.
     */
    @SuppressWarnings("unchecked")
    static Found byName(ChannelConfig config) {
        ChannelOption<Integer> idle = null;
        ChannelOption<Integer> interval = null;
        ChannelOption<Integer> count = null;
        ChannelOption<Integer> userTimeout = null;
        String owner = null;
        for (ChannelOption<?> o : config.getOptions().keySet()) {
            int hash = o.name().lastIndexOf('#');
            String name = o.name().substring(hash + 1);
            if (hash > 0 && (name.equals(TCP_KEEPIDLE) || name.equals(TCP_KEEPCNT))) {
                owner = o.name().substring(0, hash);
            }
            switch (name) {
                case TCP_KEEPIDLE:
                    idle = (ChannelOption<Integer>) o;
                    break;
                case TCP_KEEPINTVL:
                case "TCP_KEEPINTERVAL":
                    interval = (ChannelOption<Integer>) o;
                    break;
                case TCP_KEEPCNT:
                case "TCP_KEEPCOUNT":
                    count = (ChannelOption<Integer>) o;
                    break;
                case TCP_USER_TIMEOUT:
                    userTimeout = (ChannelOption<Integer>) o;
                    break;
                default:
                    break;
            }
        }
        if (owner != null) {
            idle = idle != null ? idle : pooled(owner, TCP_KEEPIDLE);
            interval = interval != null ? interval : pooled(owner, TCP_KEEPINTVL);
            count = count != null ? count : pooled(owner, TCP_KEEPCNT);
            userTimeout = userTimeout != null ? userTimeout : pooled(owner, TCP_USER_TIMEOUT);
        }
        return new Found(idle, interval, count, userTimeout);
    }

    /** The pooled option {@code owner#name}, or null when there is none. */
    private static ChannelOption<Integer> pooled(String owner, String name) {
        String full = owner + "#" + name;
        return ChannelOption.exists(full) ? ChannelOption.<Integer>valueOf(full) : null;
    }

    static final int IPPROTO_TCP = 6;

    /**
     * Raw integer socket options with this platform's numbers, for a native transport: Linux
     * ({@code TCP_KEEPIDLE} 4, {@code TCP_KEEPINTVL} 5, {@code TCP_KEEPCNT} 6, {@code TCP_USER_TIMEOUT} 18), macOS
     * ({@code TCP_KEEPALIVE} 0x10, {@code TCP_KEEPINTVL} 0x101, {@code TCP_KEEPCNT} 0x102) and FreeBSD
     * ({@code TCP_KEEPIDLE} 0x100, {@code TCP_KEEPINTVL} 0x200, {@code TCP_KEEPCNT} 0x400). Neither BSD has
     * TCP_USER_TIMEOUT.
     */
    static Found raw(Channel ch) {
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
        return new Found(rawOption(loader, TCP_KEEPIDLE, n[0]), rawOption(loader, TCP_KEEPINTVL, n[1]),
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
            if (n.startsWith("io.netty.channel.uring.") || n.startsWith("io.netty.incubator.channel.uring.")) {
                return "io_uring";
            }
            if (n.startsWith("io.netty.channel.kqueue.")) {
                return "kqueue";
            }
        }
        return ch.getClass().getSimpleName();
    }
}
