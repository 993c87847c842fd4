package io.github.idlereaper.examples;

import io.github.idlereaper.IdleReaper;
import io.github.idlereaper.protocol.Http2Heartbeat;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * A cleartext HTTP/2 (prior knowledge, h2c) server that answers every request with "hello", with idle-reaper
 * heartbeats: a quiet connection gets a PING; one that answers nothing gets GOAWAY NO_ERROR and is closed. A client
 * that pings more often than every 10 s collects strikes and, on the third, gets GOAWAY ENHANCE_YOUR_CALM
 * {@code too_many_pings}.
 *
 * <p>Run: {@code mvn -q -B test-compile exec:java -Dexec.classpathScope=test
 * -Dexec.mainClass=io.github.idlereaper.examples.Http2Server}, then
 * {@code curl --http2-prior-knowledge http://127.0.0.1:8082/}.
 */
public final class Http2Server implements AutoCloseable {

    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final Channel channel;

    public Http2Server(IdleReaper reaper, int port) {
        ServerBootstrap b = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(Http2FrameCodecBuilder.forServer().build(),
                                new Http2MultiplexHandler(new Hello()));
                    }
                });
        reaper.install(b);
        channel = b.bind("127.0.0.1", port).syncUninterruptibly().channel();
    }

    /** Pings after {@code interval} quiet, {@code timeout} to answer, 2 misses; peers may ping every 10 s. */
    public static IdleReaper reaper(Duration interval, Duration timeout) {
        return IdleReaper.builder()
                .heartbeat(interval, timeout, 2, Http2Heartbeat.INSTANCE)
                .permitPeerPings(Duration.ofSeconds(10))
                .build();
    }

    public InetSocketAddress address() {
        return (InetSocketAddress) channel.localAddress();
    }

    @Override
    public void close() {
        channel.close().syncUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** One per stream: answers the request's headers with "hello". */
    @ChannelHandler.Sharable
    private static final class Hello extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof Http2HeadersFrame && ((Http2HeadersFrame) msg).isEndStream()) {
                ctx.write(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status("200")));
                ctx.writeAndFlush(new DefaultHttp2DataFrame(ByteBufUtil.writeUtf8(ctx.alloc(), "hello\n"), true));
            }
            ReferenceCountUtil.release(msg);
        }
    }

    public static void main(String[] args) throws InterruptedException {
        int port = args.length > 0 ? Integer.parseInt(args[0]) : 8082;
        IdleReaper reaper = reaper(Duration.ofSeconds(15), Duration.ofSeconds(5));
        Http2Server s = new Http2Server(reaper, port);
        System.out.println("HTTP/2 (h2c) at http:/" + s.address() + "/; " + reaper.heartbeat());
        s.channel.closeFuture().sync();
    }
}
