package io.github.idlereaper.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.github.idlereaper.IdleReaper;
import io.github.idlereaper.protocol.WebSocketHeartbeat;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The README's quick start, as written there, so that it keeps compiling and its configuration stays valid. */
class ReadmeQuickStartTest {

    static final class MyInitializer extends ChannelInitializer<Channel> {
        @Override
        protected void initChannel(Channel ch) {
            ch.pipeline().addLast(new ChannelInboundHandlerAdapter());
        }
    }

    @Test
    void quickStart_buildsAndInstalls() {
        EventLoopGroup boss = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        EventLoopGroup workers = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        try {
            IdleReaper reaper = IdleReaper.builder()
                    .readIdleTimeout(Duration.ofSeconds(90))                  // nothing received for 90 s: close
                    .writeStallTimeout(Duration.ofSeconds(30))                // peer stopped reading for 30 s: close
                    .heartbeat(Duration.ofSeconds(30), Duration.ofSeconds(10), 2,
                            WebSocketHeartbeat.INSTANCE)                      // quiet 30 s: ping; 2 misses: Close 1001
                    .tcpKeepAlive(Duration.ofSeconds(60), Duration.ofSeconds(10), 3)  // the kernel finds vanished peers
                    .build();
            ServerBootstrap b = new ServerBootstrap().group(boss, workers)
                    .channel(NioServerSocketChannel.class).childHandler(new MyInitializer());
            reaper.install(b);                                                // one call, before bind()
            b.bind("127.0.0.1", 0).syncUninterruptibly().channel().close().syncUninterruptibly();
            assertEquals(Duration.ofSeconds(90), reaper.timeouts().readIdle());
        } finally {
            boss.shutdownGracefully(0, 0, java.util.concurrent.TimeUnit.SECONDS);
            workers.shutdownGracefully(0, 0, java.util.concurrent.TimeUnit.SECONDS);
        }
    }
}
