package io.github.idlereaper.examples;

import io.github.idlereaper.IdleReaper;
import io.github.idlereaper.ReapEvent;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * An echo server with idle-reaper installed. Besides echoing, it understands three commands, so the demo can
 * script every kind of client: {@code BUSY} marks a request in flight, {@code DONE} ends it, {@code BIG} sends
 * a 16 MiB response.
 *
 * <p>Run it on its own with {@code java ... EchoServer [port]} and talk to it with {@code nc 127.0.0.1 PORT}.
 */
public final class EchoServer implements AutoCloseable {

    private final EventLoopGroup boss = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final EventLoopGroup workers = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
    private final Channel channel;

    /** Starts the server on {@code host:port} (port 0 picks a free one) with {@code reaper} installed. */
    public EchoServer(IdleReaper reaper, String host, int port) {
        ServerBootstrap b = new ServerBootstrap()
                .group(boss, workers)
                .channel(NioServerSocketChannel.class)
                // A modest send buffer lets the write-stall timer see a slow peer's progress often; see
                // docs/configuration.md.
                .childOption(ChannelOption.SO_SNDBUF, 64 * 1024)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new EchoHandler());
                    }
                });
        reaper.install(b); // one call: every accepted connection gets the reaper first in its pipeline
        this.channel = b.bind(host, port).syncUninterruptibly().channel();
    }

    /** The address the server listens on. */
    public InetSocketAddress address() {
        return (InetSocketAddress) channel.localAddress();
    }

    @Override
    public void close() {
        channel.close().syncUninterruptibly();
        boss.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
        workers.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** Echoes, runs the demo's commands, and says goodbye when the reaper closes a connection. */
    @ChannelHandler.Sharable
    static final class EchoHandler extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf in = (ByteBuf) msg;
            String text = in.toString(StandardCharsets.US_ASCII);
            if (text.contains("BUSY")) {
                IdleReaper.markBusy(ctx.channel()); // a request is in flight: idle timers hold off
            }
            if (text.contains("DONE")) {
                IdleReaper.markIdle(ctx.channel());
            }
            if (text.contains("BIG")) {
                in.release();
                for (int i = 0; i < 256; i++) {
                    ctx.write(Unpooled.wrappedBuffer(new byte[64 * 1024]));
                }
                ctx.flush();
                return;
            }
            ctx.writeAndFlush(in);
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof ReapEvent) {
                // The reaper flushes this before it closes the connection.
                ctx.writeAndFlush(Unpooled.copiedBuffer("bye: " + ((ReapEvent) evt).message() + "\n",
                        StandardCharsets.US_ASCII));
            }
            ctx.fireUserEventTriggered(evt);
        }
    }

    public static void main(String[] args) throws InterruptedException {
        int port = args.length > 0 ? Integer.parseInt(args[0]) : 7007;
        IdleReaper reaper = IdleReaper.builder()
                .readIdleTimeout(Duration.ofSeconds(30))
                .writeStallTimeout(Duration.ofSeconds(15))
                .build();
        EchoServer server = new EchoServer(reaper, "127.0.0.1", port);
        System.out.println("echo server with idle-reaper on " + server.address() + "; reaper: " + reaper);
        server.channel.closeFuture().sync();
    }
}
