package io.github.idlereaper;

import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioChannelOption;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringChannelOption;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;
import jdk.net.ExtendedSocketOptions;
import org.junit.jupiter.api.Assumptions;

/**
 * The socket transports whose TCP options the kernel-layer tests check; the native ones skip where they do not
 * load. Netty 4.2's version (io_uring is {@code io.netty.channel.uring}); {@code src/test-netty41} holds the Netty
 * 4.1 one, with the same API (io_uring there is the incubator's).
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
                Assumptions.assumeTrue(IoUring.isAvailable(),
                        () -> "io_uring transport not available here: " + IoUring.unavailabilityCause());
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
        return new MultiThreadIoEventLoopGroup(threads, ioHandler());
    }

    private IoHandlerFactory ioHandler() {
        switch (this) {
            case NIO:
                return NioIoHandler.newFactory();
            case EPOLL:
                return EpollIoHandler.newFactory();
            case IO_URING:
                return IoUringIoHandler.newFactory();
            default:
                return (IoHandlerFactory) kqueue("KQueueIoHandler", "newFactory");
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
                return IoUringServerSocketChannel.class;
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
                return IoUringSocketChannel.class;
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
                        return IoUringChannelOption.TCP_KEEPIDLE;
                    case TcpOptionLookup.TCP_KEEPINTVL:
                        return IoUringChannelOption.TCP_KEEPINTVL;
                    case TcpOptionLookup.TCP_KEEPCNT:
                        return IoUringChannelOption.TCP_KEEPCNT;
                    default:
                        return IoUringChannelOption.TCP_USER_TIMEOUT;
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
