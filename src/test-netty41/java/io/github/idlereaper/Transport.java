package io.github.idlereaper;

import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import org.junit.jupiter.api.Assumptions;

/**
 * The socket transports the loopback tests run on. Netty 4.1's version: each transport has its own event loop
 * group; {@code src/test-netty42} holds the Netty 4.2 one, with the same API.
 */
enum Transport {
    NIO,
    EPOLL;

    EventLoopGroup group(int threads) {
        assumeAvailable();
        return this == NIO ? new NioEventLoopGroup(threads) : new EpollEventLoopGroup(threads);
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
