package io.github.idlereaper.bench;

import io.github.idlereaper.IdleReaper;
import io.github.idlereaper.ReapEvent;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.local.LocalAddress;
import io.netty.channel.local.LocalChannel;
import io.netty.channel.local.LocalIoHandler;
import io.netty.channel.local.LocalServerChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;

/**
 * A diagnostic for figure 4, not part of the suite: it splits each reap's lateness into the two parts the wheel
 * adds, using the idle time the {@link ReapEvent} reports (the reaper's own upper bound on the idle time):
 * <ul>
 *   <li>bound slack: how much later than the real last activity the reaper dates it (its stamp's upper bound);
 *   <li>visit delay: how long after the deadline so computed the wheel visited the connection.
 * </ul>
 * Settled scenario of figure 4: n LocalChannel pairs, all connected first, then one byte each at a random moment of
 * the next second; read idle 4 s, tick resolution 100 ms.
 *
 * <p>Run: {@code java -cp target/test-classes:target/classes:$(cat target/bench/classpath.txt)
 * io.github.idlereaper.bench.PrecisionProbe 20000}
 */
public final class PrecisionProbe {

    private PrecisionProbe() {
    }

    /** Adds to figure 4's recorder the idle time the reap event reported. */
    static final class Recorder extends PrecisionFigure.Recorder {
        volatile long idleFor;

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof ReapEvent) {
                idleFor = ((ReapEvent) evt).idleFor().toNanos();
            }
            super.userEventTriggered(ctx, evt);
        }
    }

    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 20_000;
        // "storm": figure 4's second scenario, each client sends within 500 ms of its own connect while the rest
        // are still connecting, read idle 1 s; otherwise the settled one.
        boolean storm = args.length > 1 && args[1].equals("storm");
        Duration timeout = storm ? Duration.ofSeconds(1) : Duration.ofSeconds(4);
        IdleReaper reaper = IdleReaper.builder().readIdleTimeout(timeout).tickResolution(Duration.ofMillis(100))
                .build();
        EventLoopGroup serverGroup = new MultiThreadIoEventLoopGroup(2, LocalIoHandler.newFactory());
        EventLoopGroup clientGroup = new MultiThreadIoEventLoopGroup(1, LocalIoHandler.newFactory());
        ConcurrentLinkedQueue<Recorder> recorders = new ConcurrentLinkedQueue<>();
        try {
            LocalAddress addr = new LocalAddress("precision-probe");
            new ServerBootstrap().group(serverGroup).channel(LocalServerChannel.class)
                    .childHandler(new ChannelInitializer<>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            Recorder r = new Recorder();
                            recorders.add(r);
                            ch.pipeline().addLast(r);
                            ch.pipeline().addFirst(reaper.newHandler());
                        }
                    }).bind(addr).sync();
            Bootstrap cb = new Bootstrap().group(clientGroup).channel(LocalChannel.class)
                    .handler(Handlers.InSink.INSTANCE);
            List<Channel> clients = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                Channel ch = cb.connect(addr, Locals.next()).sync().channel();
                clients.add(ch);
                if (storm) {
                    PrecisionFigure.sendOnce(ch, Duration.ofMillis(500));
                }
            }
            Measure.await(n + " connections", 60_000, () -> recorders.size() == n);
            if (!storm) {
                System.gc();
                for (Channel ch : clients) {
                    PrecisionFigure.sendOnce(ch, Duration.ofSeconds(1));
                }
            }
            Measure.await("every connection reaped", 60_000,
                    () -> recorders.stream().allMatch(r -> r.inactiveAt != 0));
            long t = timeout.toNanos();
            print("lateness (event - activity - timeout)",
                    recorders.stream().mapToLong(r -> r.eventAt - r.lastActivity - t).sorted().toArray());
            print("close path (inactive - event)",
                    recorders.stream().mapToLong(r -> r.inactiveAt - r.eventAt).sorted().toArray());
            print("bound slack, approx. (dating - activity)",
                    recorders.stream().mapToLong(r -> r.eventAt - r.idleFor - r.lastActivity).sorted().toArray());
            print("visit delay (visit - deadline)",
                    recorders.stream().mapToLong(r -> r.idleFor - t).sorted().toArray());
        } finally {
            serverGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
            clientGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    private static void print(String what, long[] sorted) {
        System.out.printf("%-42s min %7.2f  p10 %7.2f  p50 %7.2f  p90 %7.2f  p99 %7.2f  max %7.2f ms%n", what,
                sorted[0] / 1e6, Measure.quantile(sorted, 0.1) / 1e6, Measure.quantile(sorted, 0.5) / 1e6,
                Measure.quantile(sorted, 0.9) / 1e6, Measure.quantile(sorted, 0.99) / 1e6,
                sorted[sorted.length - 1] / 1e6);
    }
}
