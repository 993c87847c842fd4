package io.github.idlereaper;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * A server for {@link PressureLoopbackTest}, run in a child JVM under a low {@code ulimit -n}: read idle 60 s, and
 * with "on" the timeouts shrink under the process's own pressure and newcomers evict near saturation. Prints
 * {@code PORT n}, then a {@code STATS} line every 200 ms; exits when its stdin closes, or after 120 s.
 */
final class PressureChild {

    private PressureChild() {
    }

    public static void main(String[] args) throws Exception {
        boolean on = args.length > 0 && args[0].equals("on");
        IdleReaper.Builder b = IdleReaper.builder().readIdleTimeout(Duration.ofSeconds(60));
        if (on) {
            b.reduceTimeoutsUnderPressure(0.4, 0.7, 0.02).evictUnderPressure(0.75);
        }
        IdleReaper reaper = b.build();
        EventLoopGroup boss = Transport.NIO.group(1);
        EventLoopGroup workers = Transport.NIO.group(1);
        ServerBootstrap sb = new ServerBootstrap().group(boss, workers).channel(Transport.NIO.serverChannel())
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                            @Override
                            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                ((ByteBuf) msg).release();
                            }
                        });
                    }
                });
        reaper.install(sb);
        InetSocketAddress at = (InetSocketAddress) sb.bind("127.0.0.1", 0).sync().channel().localAddress();
        System.out.println("PORT " + at.getPort());
        ScheduledExecutorService printer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "stats");
            t.setDaemon(true);
            return t;
        });
        printer.scheduleAtFixedRate(() -> {
            ReaperStats s = reaper.stats();
            System.out.printf("STATS opened=%d open=%d reaped=%d evicted=%d pressure=%.3f scale=%.4f fds=%.3f%n",
                    s.opened(), s.open(), s.reapedTotal(), s.reaped(ReapReason.PRESSURE), s.pressure(),
                    s.timeoutScale(), SystemPressure.fdShare());
            System.out.flush();
        }, 0, 200, TimeUnit.MILLISECONDS);
        InputStream in = System.in;
        Thread exit = new Thread(() -> {
            try {
                while (in.read() >= 0) {
                    // until the parent closes our stdin
                }
            } catch (Exception ignored) {
                // the parent is gone
            }
            Runtime.getRuntime().halt(0);
        });
        exit.setDaemon(true);
        exit.start();
        exit.join(TimeUnit.SECONDS.toMillis(120));
        Runtime.getRuntime().halt(0);
    }
}
