package io.github.idlereaper.bench;

import io.github.idlereaper.bench.Stack.Config;
import io.github.idlereaper.bench.Stack.Timeouts;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelPromise;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Figure 2 on a real event loop: accepted NIO channels on a one-thread NIO loop, one per configuration, each with
 * the configuration's handlers between an {@link Handlers.OutSink} at the head and an {@link Handlers.InSink} at the
 * tail. A task on the loop then times a run of read batches ({@code fireChannelRead} + {@code
 * fireChannelReadComplete}, what one socket read delivers) or of writes ({@code writeAndFlush} with the void
 * promise), and counts the bytes the loop thread allocated. The configurations take turns, round after round; each
 * figure is the median over the rounds. The socket is left out on purpose: its cost is the same for every
 * configuration and would bury a nanosecond-sized difference (figure 6 has the socket in).
 */
final class LoopCostFigure {

    static final List<Config> CONFIGS = List.of(Config.BARE, Config.PASS, Config.NETTY, Config.REAPER);

    /** Per operation: nanoseconds (median round) and bytes allocated (least round), read batch and write. */
    record Cost(double readNs, double writeNs, double readBytes, double writeBytes) {
    }

    private LoopCostFigure() {
    }

    static Map<Config, Cost> run(int opsPerRound, int warmupRounds, int rounds, Timeouts t) throws Exception {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        LinkedBlockingQueue<Channel> accepted = new LinkedBlockingQueue<>();
        List<Channel> clients = new ArrayList<>();
        Channel server = null;
        try {
            server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                    .childHandler(new ChannelInitializer<>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            accepted.add(ch);
                        }
                    }).bind("127.0.0.1", 0).sync().channel();
            int port = ((InetSocketAddress) server.localAddress()).getPort();
            Bootstrap cb = new Bootstrap().group(group).channel(NioSocketChannel.class)
                    .handler(Handlers.InSink.INSTANCE);
            Map<Config, Channel> channels = new EnumMap<>(Config.class);
            for (Config c : CONFIGS) {
                clients.add(cb.connect("127.0.0.1", port).sync().channel());
                Channel ch = accepted.poll(10, TimeUnit.SECONDS);
                if (ch == null) {
                    throw new IllegalStateException("no connection accepted");
                }
                Stack stack = Stack.of(c, t);
                ch.eventLoop().submit(() -> {
                    ChannelPipeline p = ch.pipeline();
                    stack.addFirst(p);
                    p.addFirst(Handlers.OutSink.NAME, Handlers.OutSink.INSTANCE);
                    p.addLast(Handlers.InSink.INSTANCE);
                }).sync();
                channels.put(c, ch);
            }
            ByteBuf buf = Unpooled.unreleasableBuffer(Unpooled.buffer(64).writeZero(64));
            Map<Config, double[][]> samples = new EnumMap<>(Config.class);
            for (Config c : CONFIGS) {
                samples.put(c, new double[4][rounds]);
            }
            for (int r = 0; r < warmupRounds + rounds; r++) {
                for (int k = 0; k < CONFIGS.size(); k++) {
                    // Rotate the order, so that no configuration always runs right after the same other one.
                    Config c = CONFIGS.get((k + r) % CONFIGS.size());
                    Channel ch = channels.get(c);
                    double[] read = ch.eventLoop().submit(() -> timed(ch, true, opsPerRound, buf)).get();
                    double[] write = ch.eventLoop().submit(() -> timed(ch, false, opsPerRound, buf)).get();
                    if (r >= warmupRounds) {
                        double[][] s = samples.get(c);
                        int i = r - warmupRounds;
                        s[0][i] = read[0];
                        s[1][i] = write[0];
                        s[2][i] = read[1];
                        s[3][i] = write[1];
                    }
                }
            }
            Map<Config, Cost> out = new EnumMap<>(Config.class);
            // Time: the median round. Allocation: the least round, since a per-operation allocation shows in every
            // round and a one-off (a class initialised, a call site linked) only in some.
            samples.forEach((c, s) -> out.put(c, new Cost(Measure.median(s[0]), Measure.median(s[1]),
                    Arrays.stream(s[2]).min().orElse(Double.NaN), Arrays.stream(s[3]).min().orElse(Double.NaN))));
            return out;
        } finally {
            for (Channel c : clients) {
                c.close().sync();
            }
            if (server != null) {
                server.close().sync();
            }
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    /** Runs on the channel's loop: {nanoseconds per op, bytes allocated per op}. */
    private static double[] timed(Channel ch, boolean read, int n, ByteBuf buf) {
        ChannelPipeline p = ch.pipeline();
        ChannelPromise vp = ch.voidPromise();
        long a0 = Measure.allocatedBytes();
        long t0 = System.nanoTime();
        if (read) {
            for (int i = 0; i < n; i++) {
                p.fireChannelRead(buf);
                p.fireChannelReadComplete();
            }
        } else {
            for (int i = 0; i < n; i++) {
                ch.writeAndFlush(buf, vp);
            }
        }
        long t1 = System.nanoTime();
        long a1 = Measure.allocatedBytes();
        return new double[] {(double) (t1 - t0) / n, (double) (a1 - a0) / n};
    }
}
