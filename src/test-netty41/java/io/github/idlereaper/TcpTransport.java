package io.github.idlereaper;

import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.nio.NioChannelOption;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.incubator.channel.uring.IOUring;
import io.netty.incubator.channel.uring.IOUringChannelOption;
import io.netty.incubator.channel.uring.IOUringEventLoopGroup;
import io.netty.incubator.channel.uring.IOUringServerSocketChannel;
import io.netty.incubator.channel.uring.IOUringSocketChannel;
import jdk.net.ExtendedSocketOptions;
import org.junit.jupiter.api.Assumptions;

/**
 * The socket transports whose TCP options the kernel-layer tests check; the native ones skip where they do not
 * load. Netty 4.1's version: io_uring is the incubator's transport ({@code io.netty.incubator.channel.uring}, test
 * scope in the netty41 profile); {@code src/test-netty42} holds the Netty 4.2 one, with the same API.
 */
enum TcpTransport {
    NIO("nio"),
    EPOLL("epoll"),
    IO_URING("io_uring"),
    KQUEUE("kqueue");

    /** The transport's name in {@link TcpSettings#transport()}. */
    final String name;

    TcpTransport(String name) {
        this.name = name;
    }

    void assumeAvailable() {
        switch (this) {
            case EPOLL:
                Assumptions.assumeTrue(Epoll.isAvailable(),
                        () -> "epoll transport not available here: " + Epoll.unavailabilityCause());
                break;
            case IO_URING:
                Assumptions.assumeTrue(IOUring.isAvailable(),
                        () -> "io_uring transport not available here: " + IOUring.unavailabilityCause());
                break;
            case KQUEUE:
                Assumptions.assumeTrue(kqueueAvailable(), () -> "kqueue transport not available here ("
                        + System.getProperty("os.name") + "; needs netty-transport-classes-kqueue and its "
                        + "natives on the test class path, on macOS or BSD)");
                break;
            default:
                break;
        }
    }

    /** A group of {@code threads} loops of this transport. */
    EventLoopGroup group(int threads) {
        switch (this) {
            case NIO:
                return new NioEventLoopGroup(threads);
            case EPOLL:
                return new EpollEventLoopGroup(threads);
            case IO_URING:
                return new IOUringEventLoopGroup(threads);
            default:
                try {
                    return (EventLoopGroup) kqueueClass("KQueueEventLoopGroup").getConstructor(int.class)
                            .newInstance(threads);
                } catch (ReflectiveOperationException e) {
                    throw new IllegalStateException(e);
                }
        }
    }

    @SuppressWarnings("unchecked")
    Class<? extends ServerChannel> serverChannel() {
        switch (this) {
            case NIO:
                return NioServerSocketChannel.class;
            case EPOLL:
                return EpollServerSocketChannel.class;
            case IO_URING:
                return IOUringServerSocketChannel.class;
            default:
                return (Class<? extends ServerChannel>) kqueueClass("KQueueServerSocketChannel");
        }
    }

    @SuppressWarnings("unchecked")
    Class<? extends Channel> channel() {
        switch (this) {
            case NIO:
                return NioSocketChannel.class;
            case EPOLL:
                return EpollSocketChannel.class;
            case IO_URING:
                return IOUringSocketChannel.class;
            default:
                return (Class<? extends Channel>) kqueueClass("KQueueSocketChannel");
        }
    }

    /**
     * The transport's own constant for {@code option} (one of {@link TcpOptionLookup}'s names), to read a value
     * bypassing the reaper; null where the transport has none.
     */
    ChannelOption<Integer> own(String option) {
        switch (this) {
            case NIO:
                switch (option) {
                    case TcpOptionLookup.TCP_KEEPIDLE:
                        return NioChannelOption.of(ExtendedSocketOptions.TCP_KEEPIDLE);
                    case TcpOptionLookup.TCP_KEEPINTVL:
                        return NioChannelOption.of(ExtendedSocketOptions.TCP_KEEPINTERVAL);
                    case TcpOptionLookup.TCP_KEEPCNT:
                        return NioChannelOption.of(ExtendedSocketOptions.TCP_KEEPCOUNT);
                    default:
                        return null;
                }
            case EPOLL:
                switch (option) {
                    case TcpOptionLookup.TCP_KEEPIDLE:
                        return EpollChannelOption.TCP_KEEPIDLE;
                    case TcpOptionLookup.TCP_KEEPINTVL:
                        return EpollChannelOption.TCP_KEEPINTVL;
                    case TcpOptionLookup.TCP_KEEPCNT:
                        return EpollChannelOption.TCP_KEEPCNT;
                    default:
                        return EpollChannelOption.TCP_USER_TIMEOUT;
                }
            case IO_URING:
                switch (option) {
                    case TcpOptionLookup.TCP_KEEPIDLE:
                        return IOUringChannelOption.TCP_KEEPIDLE;
                    case TcpOptionLookup.TCP_KEEPINTVL:
                        return IOUringChannelOption.TCP_KEEPINTVL;
                    case TcpOptionLookup.TCP_KEEPCNT:
                        return IOUringChannelOption.TCP_KEEPCNT;
                    default:
                        return IOUringChannelOption.TCP_USER_TIMEOUT;
                }
            default:
                return null;
        }
    }

    private static boolean kqueueAvailable() {
        try {
            return (Boolean) kqueue("KQueue", "isAvailable");
        } catch (RuntimeException | LinkageError e) {
            return false;
        }
    }

    private static Class<?> kqueueClass(String name) {
        try {
            return Class.forName("io.netty.channel.kqueue." + name);
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Object kqueue(String type, String method) {
        try {
            return kqueueClass(type).getMethod(method).invoke(null);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }
}
