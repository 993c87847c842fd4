package io.github.idlereaper.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.idlereaper.IdleReaper;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Keeps the examples compiling and running: the demo's fates, and the echo server's echo. */
class DemoSmokeTest {

    @Test
    void demo_everyClientMeetsItsFate() throws Exception {
        List<Demo.Fate> fates = Demo.run();
        String table = Demo.table(fates);
        assertEquals(4, fates.size(), table);
        for (Demo.Fate f : fates) {
            assertTrue(f.asExpected(), "unexpected fate:\n" + table);
        }
        Demo.Fate idle = fates.get(1);
        assertTrue(idle.reapedAfterMs() >= Demo.READ_IDLE.toMillis(), "never early:\n" + table);
    }

    @Test
    void echoServer_echoes() throws Exception {
        IdleReaper reaper = IdleReaper.builder().readIdleTimeout(Duration.ofSeconds(5)).build();
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        try (EchoServer server = new EchoServer(reaper, "127.0.0.1", 0)) {
            BlockingQueue<String> got = new LinkedBlockingQueue<>();
            Channel ch = new Bootstrap().group(group).channel(NioSocketChannel.class)
                    .handler(new SimpleChannelInboundHandler<ByteBuf>() {
                        @Override
                        protected void channelRead0(ChannelHandlerContext ctx, ByteBuf msg) {
                            got.add(msg.toString(StandardCharsets.US_ASCII));
                        }
                    }).connect(server.address()).syncUninterruptibly().channel();
            ch.writeAndFlush(Unpooled.copiedBuffer("ping\n", StandardCharsets.US_ASCII));
            assertEquals("ping\n", got.poll(5, TimeUnit.SECONDS));
            assertEquals(1, reaper.stats().open());
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }
}
