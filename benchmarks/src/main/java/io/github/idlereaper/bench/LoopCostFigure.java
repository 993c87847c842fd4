package io.github.idlereaper.bench;

import io.github.idlereaper.bench.Stack.Config;
import io.github.idlereaper.bench.Stack.Timeouts;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelPromise;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Figure 2 on a real event loop: one {@link SimChannel} per configuration on a one-thread NIO loop, each with the
 * configuration's handlers at the head and an {@link Handlers.InSink} at the tail. A task on the loop then times a
 * run of one {@link Op} and counts the bytes the loop thread allocated: read batches ({@code fireChannelRead} +
 * {@code fireChannelReadComplete}, what one socket read delivers), or writes with their flush. A write goes all the
 * way through Netty's write path: the head hands it to the channel's unsafe, which queues it in the channel's real
 * {@code ChannelOutboundBuffer}; the flush moves it to the buffer's flushed part and calls the channel's {@code
 * doWrite}, which takes every byte (the socket is left out) and so completes the write's promise, after every
 * handler has seen it and hung on it whatever listener it wanted. The configurations take turns, round after
 * round; each figure is the median over the rounds. The socket's cost is the same for every configuration and
 * would bury a nanosecond-sized difference (figure 6 has the socket in).
 */
final class LoopCostFigure {

    static final List<Config> CONFIGS = List.of(Config.BARE, Config.PASS, Config.NETTY, Config.REAPER);

    /** What one timed operation is. */
    enum Op {
        /** {@code fireChannelRead} + {@code fireChannelReadComplete}. */
        READ("read batch"),
        /** {@code writeAndFlush(msg, voidPromise)}: no promise, the cheapest response. */
        WRITE("write, void promise"),
        /** {@code writeAndFlush(msg)}: a new promise per write, the common form of a response. */
        WRITE_PROMISE("writeAndFlush(msg)");

        final String label;

        Op(String label) {
            this.label = label;
        }
    }

    /** Per operation, indexed by {@link Op#ordinal()}: nanoseconds (median round) and bytes (least round). */
    record Cost(double[] ns, double[] bytes) {
        double ns(Op op) {
            return ns[op.ordinal()];
        }

        double bytes(Op op) {
            return bytes[op.ordinal()];
        }
    }

    private LoopCostFigure() {
    }

    static Map<Config, Cost> run(int opsPerRound, int warmupRounds, int rounds, Timeouts t) throws Exception {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        List<Channel> channels = new ArrayList<>();
        try {
            EventLoop loop = group.next();
            Map<Config, Channel> byConfig = new EnumMap<>(Config.class);
            for (Config c : CONFIGS) {
                SimChannel ch = new SimChannel();
                loop.register(ch).sync();
                channels.add(ch);
                Stack stack = Stack.of(c, t);
                loop.submit(() -> {
                    ChannelPipeline p = ch.pipeline();
                    stack.addFirst(p);
                    p.addLast(Handlers.InSink.INSTANCE);
                }).sync();
                byConfig.put(c, ch);
            }
            ByteBuf buf = Unpooled.unreleasableBuffer(Unpooled.buffer(64).writeZero(64));
            Op[] ops = Op.values();
            Map<Config, double[][]> samples = new EnumMap<>(Config.class);
            for (Config c : CONFIGS) {
                samples.put(c, new double[2 * ops.length][rounds]);
            }
            for (int r = 0; r < warmupRounds + rounds; r++) {
                for (int k = 0; k < CONFIGS.size(); k++) {
                    // Rotate the order, so that no configuration always runs right after the same other one.
                    Config c = CONFIGS.get((k + r) % CONFIGS.size());
                    Channel ch = byConfig.get(c);
                    for (Op op : ops) {
                        double[] m = loop.submit(() -> timed(ch, op, opsPerRound, buf)).get();
                        if (r >= warmupRounds) {
                            double[][] s = samples.get(c);
                            s[op.ordinal()][r - warmupRounds] = m[0];
                            s[ops.length + op.ordinal()][r - warmupRounds] = m[1];
                        }
                    }
                }
            }
            Map<Config, Cost> out = new EnumMap<>(Config.class);
            // Time: the median round. Allocation: the least round, since a per-operation allocation shows in every
            // round and a one-off (a class initialised, a call site linked) only in some.
            samples.forEach((c, s) -> {
                double[] ns = new double[ops.length];
                double[] bytes = new double[ops.length];
                for (int i = 0; i < ops.length; i++) {
                    ns[i] = Measure.median(s[i]);
                    bytes[i] = Arrays.stream(s[ops.length + i]).min().orElse(Double.NaN);
                }
                out.put(c, new Cost(ns, bytes));
            });
            return out;
        } finally {
            for (Channel c : channels) {
                c.close().sync();
            }
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    /** Runs on the channel's loop: {nanoseconds per op, bytes allocated per op}. */
    private static double[] timed(Channel ch, Op op, int n, ByteBuf buf) {
        ChannelPipeline p = ch.pipeline();
        ChannelPromise vp = ch.voidPromise();
        long a0 = Measure.allocatedBytes();
        long t0 = System.nanoTime();
        switch (op) {
            case READ:
                for (int i = 0; i < n; i++) {
                    p.fireChannelRead(buf);
                    p.fireChannelReadComplete();
                }
                break;
            case WRITE:
                for (int i = 0; i < n; i++) {
                    ch.writeAndFlush(buf, vp);
                }
                break;
            case WRITE_PROMISE:
                for (int i = 0; i < n; i++) {
                    ch.writeAndFlush(buf);
                }
                break;
            default:
                throw new AssertionError(op);
        }
        long t1 = System.nanoTime();
        long a1 = Measure.allocatedBytes();
        return new double[] {(double) (t1 - t0) / n, (double) (a1 - a0) / n};
    }
}
