package io.github.idlereaper;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.util.ReferenceCountUtil;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Layer 4: {@link SocketProgress} on real loopback sockets: the native transports tell how long ago the socket
 * last sent data, NIO tells nothing, and a closed socket tells nothing either.
 */
class SocketProgressTest {

    private final List<EventLoopGroup> groups = new ArrayList<>();
    private final List<Channel> channels = new ArrayList<>();

    @ChannelHandler.Sharable
    private static final class Counting extends ChannelInboundHandlerAdapter {
        final AtomicLong received = new AtomicLong();

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            received.addAndGet(((io.netty.buffer.ByteBuf) msg).readableBytes());
            ReferenceCountUtil.release(msg);
        }
    }

    @AfterEach
    void tearDown() {
        for (Channel ch : channels) {
            ch.close().awaitUninterruptibly(10, TimeUnit.SECONDS);
        }
        for (EventLoopGroup g : groups) {
            g.shutdownGracefully(0, 0, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
        }
    }

    /** Asks {@code ch}'s socket on its loop. */
    private static long sentAgo(Channel ch) throws Exception {
        SocketProgress p = new SocketProgress();
        return ch.eventLoop().submit(() -> p.sentAgoNanos(ch)).get(10, TimeUnit.SECONDS);
    }

    @ParameterizedTest
    @EnumSource(value = TcpTransport.class, names = {"NIO", "EPOLL", "IO_URING"})
    void nativeTransportsTellWhenTheSocketLastSentData_nioTellsNothing(TcpTransport k) throws Exception {
        k.assumeAvailable();
        EventLoopGroup g = k.group(1);
        groups.add(g);
        Counting server = new Counting();
        Channel listener = new ServerBootstrap().group(g).channel(k.serverChannel()).childHandler(server)
                .bind(InetAddress.getLoopbackAddress(), 0).syncUninterruptibly().channel();
        channels.add(listener);
        Channel client = new Bootstrap().group(g).channel(k.channel()).handler(new Counting())
                .connect(listener.localAddress()).syncUninterruptibly().channel();
        channels.add(client);
        // Netty 4.1's incubator io_uring has no tcpInfo: measured at Netty's buffer, as NIO.
        boolean measures = k == TcpTransport.EPOLL
                || k == TcpTransport.IO_URING && !client.getClass().getName().contains(".incubator.");
        assertEquals(measures, SocketProgress.measures(client.getClass()), client.getClass().getName());

        long sentAt = System.nanoTime();
        client.writeAndFlush(Unpooled.wrappedBuffer(new byte[4096])).syncUninterruptibly();
        await().atMost(Duration.ofSeconds(10)).until(() -> server.received.get() == 4096);
        long ago = sentAgo(client);
        long since = System.nanoTime() - sentAt;
        if (!measures) {
            assertEquals(SocketProgress.UNKNOWN, ago);
            return;
        }
        // The kernel counts in milliseconds (jiffies): the send lies between the write and now, a jiffy either way.
        assertTrue(ago >= 0 && ago <= since + TimeUnit.MILLISECONDS.toNanos(10),
                "sent " + ago + " ns ago, written " + since + " ns ago");

        client.close().syncUninterruptibly();
        assertEquals(SocketProgress.UNKNOWN, sentAgo(client), "a closed socket tells nothing");
    }
}
