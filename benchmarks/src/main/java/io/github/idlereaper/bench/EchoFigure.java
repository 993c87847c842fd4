package io.github.idlereaper.bench;

import io.github.idlereaper.bench.Stack.Config;
import io.github.idlereaper.bench.Stack.Timeouts;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Figure 6: end-to-end echo throughput over loopback TCP. For each configuration a server (one NIO loop thread)
 * with that configuration's handlers and an echo handler, and {@code conns} client connections (one NIO loop
 * thread), each with one 64-byte message in flight that is echoed back and forth. The configurations take turns
 * in rounds, in a shuffled order; each round counts the bytes echoed in {@code roundTime} and the CPU time of the
 * server loop thread. Other processes on a shared two-core machine move a round's throughput by tens of percent,
 * so the figure is the median, over the rounds, of each round's ratio to the bare pipeline's in the same round.
 */
final class EchoFigure {

    static final List<Config> CONFIGS = List.of(Config.BARE, Config.PASS, Config.NETTY, Config.REAPER);
    static final int MESSAGE = 64;


    /** Median messages per second and server-loop CPU nanoseconds per message, and both per round. */
    record Echo(double msgsPerSec, double serverCpuNsPerMsg, double[] perRound, double[] cpuPerRound) {
    }

    /** Writes every message back and flushes. */
    @ChannelHandler.Sharable
    static final class EchoServer extends ChannelInboundHandlerAdapter {
        static final EchoServer INSTANCE = new EchoServer();

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ctx.writeAndFlush(msg, ctx.voidPromise());
        }
    }

    /** The client side of one configuration's connections: echoes back while running, counts bytes. */
    @ChannelHandler.Sharable
    static final class EchoClient extends ChannelInboundHandlerAdapter {
        final AtomicLong bytes = new AtomicLong();
        final AtomicInteger parked = new AtomicInteger();
        volatile boolean running;

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf b = (ByteBuf) msg;
            bytes.addAndGet(b.readableBytes());
            if (running) {
                ctx.writeAndFlush(b, ctx.voidPromise());
            } else {
                b.release();
                parked.incrementAndGet();
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    private EchoFigure() {
    }

    static Map<Config, Echo> run(int conns, Duration roundTime, int rounds, Timeouts t) throws Exception {
        EventLoopGroup boss = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        EventLoopGroup serverLoop = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        EventLoopGroup clientLoop = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        List<Channel> toClose = new ArrayList<>();
        try {
            long serverThread = serverLoop.next().submit(() -> Thread.currentThread().getId()).get();
            Map<Config, EchoClient> clients = new EnumMap<>(Config.class);
            Map<Config, List<Channel>> channels = new EnumMap<>(Config.class);
            for (Config c : CONFIGS) {
                Stack stack = Stack.of(c, t);
                Channel server = new ServerBootstrap().group(boss, serverLoop).channel(NioServerSocketChannel.class)
                        .option(ChannelOption.SO_BACKLOG, 4096)
                        .childOption(ChannelOption.TCP_NODELAY, true)
                        .childHandler(new ChannelInitializer<>() {
                            @Override
                            protected void initChannel(Channel ch) {
                                ch.pipeline().addLast(EchoServer.INSTANCE);
                                stack.addFirst(ch.pipeline());
                            }
                        }).bind("127.0.0.1", 0).sync().channel();
                toClose.add(server);
                int port = ((InetSocketAddress) server.localAddress()).getPort();
                EchoClient client = new EchoClient();
                Bootstrap cb = new Bootstrap().group(clientLoop).channel(NioSocketChannel.class)
                        .option(ChannelOption.TCP_NODELAY, true).handler(client);
                List<Channel> list = new ArrayList<>();
                List<ChannelFuture> batch = new ArrayList<>();
                for (int i = 0; i < conns; i++) {
                    batch.add(cb.connect("127.0.0.1", port));
                    if (batch.size() == 500 || i == conns - 1) {
                        for (ChannelFuture f : batch) {
                            list.add(f.sync().channel());
                        }
                        batch.clear();
                    }
                }
                toClose.addAll(list);
                clients.put(c, client);
                channels.put(c, list);
            }
            // Promote every connection to the old generation, as in a server that has been up for a while. Without
            // this the configuration connected last runs about 10 % faster than the first (its objects are still
            // young, and G1's write barrier filters young-to-young stores), whatever its handlers.
            System.gc();
            Map<Config, double[][]> samples = new EnumMap<>(Config.class);
            for (Config c : CONFIGS) {
                samples.put(c, new double[2][rounds]);
            }
            Random random = new Random(42);
            for (int r = -2; r < rounds; r++) { // rounds -2 and -1 warm up
                List<Config> order = new ArrayList<>(CONFIGS);
                Collections.shuffle(order, random); // no configuration always runs first, or after the same one
                for (Config c : order) {
                    double[] m = round(clients.get(c), channels.get(c), roundTime, serverThread);
                    if (r >= 0) {
                        samples.get(c)[0][r] = m[0];
                        samples.get(c)[1][r] = m[1];
                    }
                }
            }
            Map<Config, Echo> out = new EnumMap<>(Config.class);
            samples.forEach((c, s) -> out.put(c, new Echo(Measure.median(s[0]), Measure.median(s[1]), s[0], s[1])));
            return out;
        } finally {
            for (Channel c : toClose) {
                c.close();
            }
            for (Channel c : toClose) {
                c.closeFuture().awaitUninterruptibly(10, TimeUnit.SECONDS);
            }
            boss.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
            serverLoop.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
            clientLoop.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    /** One round for one configuration: {messages per second, server CPU ns per message}. */
    private static double[] round(EchoClient client, List<Channel> list, Duration roundTime, long serverThread)
            throws InterruptedException {
        client.parked.set(0);
        client.running = true;
        for (Channel ch : list) {
            ch.writeAndFlush(ch.alloc().buffer(MESSAGE).writeZero(MESSAGE), ch.voidPromise());
        }
        Thread.sleep(Math.max(50, roundTime.toMillis() / 5)); // reach the steady state
        long b0 = client.bytes.get();
        long c0 = Measure.cpuNanos(serverThread);
        long t0 = System.nanoTime();
        Thread.sleep(roundTime.toMillis());
        long b1 = client.bytes.get();
        long c1 = Measure.cpuNanos(serverThread);
        long t1 = System.nanoTime();
        client.running = false;
        Measure.await("echo connections to go quiet", 30_000, () -> client.parked.get() >= list.size());
        double msgs = (double) (b1 - b0) / MESSAGE;
        return new double[] {msgs / ((t1 - t0) / 1e9), (c1 - c0) / Math.max(1, msgs)};
    }
}
