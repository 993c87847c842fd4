package io.github.idlereaper.examples;

import io.github.idlereaper.IdleReaper;
import io.github.idlereaper.protocol.WebSocketHeartbeat;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolHandler;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * A WebSocket echo server at {@code /ws} with idle-reaper heartbeats: a quiet client gets a Ping after
 * {@code interval}; one that answers nothing within the timeout, twice, gets Close 1001 and is closed. Before the
 * handshake the connection is plain HTTP: no pings, only the read idle timeout.
 *
 * <p>Run: {@code mvn -q -B test-compile exec:java -Dexec.classpathScope=test
 * -Dexec.mainClass=io.github.idlereaper.examples.WebSocketServer}, then {@code websocat ws://127.0.0.1:8081/ws}.
 */
public final class WebSocketServer implements AutoCloseable {

    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final Channel channel;

    public WebSocketServer(IdleReaper reaper, int port) {
        ServerBootstrap b = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(65536),
                                new WebSocketServerProtocolHandler("/ws"),
                                new SimpleChannelInboundHandler<TextWebSocketFrame>() {
                                    @Override
                                    protected void channelRead0(ChannelHandlerContext ctx, TextWebSocketFrame f) {
                                        ctx.writeAndFlush(new TextWebSocketFrame(f.text()));
                                    }
                                });
                    }
                });
        reaper.install(b);
        channel = b.bind("127.0.0.1", port).syncUninterruptibly().channel();
    }

    /** The reaper this example uses: 30 s before the handshake, pings after 15 s quiet, 5 s to answer, 2 misses. */
    public static IdleReaper reaper(Duration interval, Duration timeout) {
        return IdleReaper.builder()
                .readIdleTimeout(interval.plus(timeout.multipliedBy(2)).multipliedBy(2))
                .heartbeat(interval, timeout, 2, WebSocketHeartbeat.INSTANCE)
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

    public static void main(String[] args) throws InterruptedException {
        int port = args.length > 0 ? Integer.parseInt(args[0]) : 8081;
        IdleReaper reaper = reaper(Duration.ofSeconds(15), Duration.ofSeconds(5));
        WebSocketServer s = new WebSocketServer(reaper, port);
        System.out.println("WebSocket echo at ws:/" + s.address() + "/ws; " + reaper + ", " + reaper.heartbeat());
        s.channel.closeFuture().sync();
    }
}
