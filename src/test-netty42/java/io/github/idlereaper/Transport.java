package io.github.idlereaper;

import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import org.junit.jupiter.api.Assumptions;

/**
 * The socket transports the loopback tests run on. Netty 4.2's version: groups are
 * {@code MultiThreadIoEventLoopGroup}s with the transport's {@code IoHandler} factory; {@code src/test-netty41} holds
 * the Netty 4.1 one, with the same API.
 */
enum Transport {
    NIO,
    EPOLL;

    EventLoopGroup group(int threads) {
        assumeAvailable();
        return new MultiThreadIoEventLoopGroup(threads,
                this == NIO ? NioIoHandler.newFactory() : EpollIoHandler.newFactory());
    }

    Class<? extends ServerChannel> serverChannel() {
        return this == NIO ? NioServerSocketChannel.class : EpollServerSocketChannel.class;
    }

    Class<? extends Channel> channel() {
        return this == NIO ? NioSocketChannel.class : EpollSocketChannel.class;
    }

    void assumeAvailable() {
        if (this == EPOLL) {
            Assumptions.assumeTrue(Epoll.isAvailable(), () -> "epoll transport not available here: "
                    + Epoll.unavailabilityCause());
        }
    }
}
