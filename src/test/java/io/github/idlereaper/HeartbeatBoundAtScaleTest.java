package io.github.idlereaper;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.idlereaper.protocol.LineHeartbeat;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Layer 4, at scale: 1,000 peers on real loopback sockets send one byte each and then never answer a ping. Every
 * one is reaped with {@code HEARTBEAT_TIMEOUT} within the documented bound, measured from its last byte as the
 * server's loop read it: never before interval + timeout × maxMissed, and no later than that plus one tick
 * resolution plus the loop's lag at each of the maxMissed + 2 steps (the tick that dates the last byte, the first
 * ping, each miss), bounded by {@link ReaperStats#maxLoopLag()}. A peer whose byte came only after its first ping
 * (pinged at a random point of its first interval, as one that sent nothing) is measured the same way: the byte
 * answered that ping, and a whole interval follows it.
 */
class HeartbeatBoundAtScaleTest {

    private static final int PEERS = 1_000;
    private static final Duration INTERVAL = Duration.ofSeconds(1);
    private static final Duration TIMEOUT = Duration.ofMillis(300);
    private static final int MAX_MISSED = 2;
    /** The default: a tenth of the heartbeat timeout. */
    private static final Duration RES = Duration.ofMillis(30);
    /** Between the reaper's close and the close future's listener on the same loop. */
    private static final long OBSERVE_SLACK_NANOS = TimeUnit.MILLISECONDS.toNanos(20);

    private final List<EventLoopGroup> groups = new ArrayList<>();

    @AfterEach
    void tearDown() {
        for (EventLoopGroup g : groups) {
            g.shutdownGracefully(0, 0, TimeUnit.SECONDS).awaitUninterruptibly(20, TimeUnit.SECONDS);
        }
    }

    /** Server side: notes when each connection's last byte was read and when it closed. */
    @ChannelHandler.Sharable
    private static final class Clock extends ChannelInboundHandlerAdapter {
        final ConcurrentHashMap<Channel, long[]> times = new ConcurrentHashMap<>();

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            long[] t = new long[] {System.nanoTime(), 0};
            times.put(ctx.channel(), t);
            ctx.channel().closeFuture().addListener(f -> t[1] = System.nanoTime());
            ctx.fireChannelActive();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            times.get(ctx.channel())[0] = System.nanoTime();
            ((ByteBuf) msg).release();
        }
    }

    @ChannelHandler.Sharable
    private static final class Deaf extends ChannelInboundHandlerAdapter {
        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            ctx.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {'h', '\n'}));
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ((ByteBuf) msg).release(); // never answers
        }
    }

    @ParameterizedTest
    @EnumSource(value = TcpTransport.class, names = {"NIO", "EPOLL"})
    void thousandSilentPeers_allReapedWithinTheStatedBound(TcpTransport k) throws Exception {
        k.assumeAvailable();
        EventLoopGroup server = k.group(2);
        EventLoopGroup clients = k.group(1);
        groups.add(server);
        groups.add(clients);
        List<ReapEvent> events = java.util.Collections.synchronizedList(new ArrayList<>());
        IdleReaper reaper = IdleReaper.builder()
                .heartbeat(INTERVAL, TIMEOUT, MAX_MISSED, LineHeartbeat.of("PING\n", StandardCharsets.US_ASCII))
                .listener((c, e) -> events.add(e)).build();
        assertEquals(RES, reaper.tickResolution());
        Clock clock = new Clock();
        ServerBootstrap b = new ServerBootstrap().group(server).channel(k.serverChannel()).childHandler(clock);
        reaper.install(b);
        Channel listener = b.bind(InetAddress.getLoopbackAddress(), 0).syncUninterruptibly().channel();
        Bootstrap cb = new Bootstrap().group(clients).channel(k.channel()).handler(new Deaf());
        List<ChannelFuture> connects = new ArrayList<>();
        for (int i = 0; i < PEERS; i++) {
            connects.add(cb.connect(listener.localAddress()));
        }
        try {
            for (ChannelFuture f : connects) {
                f.syncUninterruptibly();
            }
            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100))
                    .until(() -> clock.times.size() == PEERS
                            && clock.times.values().stream().allMatch(t -> t[1] != 0));
            ReaperStats stats = reaper.stats();
            long lag = stats.maxLoopLag().toNanos();
            long floor = INTERVAL.plus(TIMEOUT.multipliedBy(MAX_MISSED)).toNanos();
            long ceiling = floor + RES.toNanos() + (MAX_MISSED + 2) * lag + OBSERVE_SLACK_NANOS;
            long[] after = clock.times.values().stream().mapToLong(t -> t[1] - t[0]).sorted().toArray();
            System.out.println(k + " deciles: " + java.util.stream.IntStream.rangeClosed(0, 10).mapToObj(i -> String.valueOf(ms(after[Math.min(after.length - 1, i * after.length / 10)]))).collect(java.util.stream.Collectors.joining(" ")));
            System.out.printf("%s: %d peers reaped %d..%d ms after their last byte (p50 %d, p99 %d); floor %d ms, "
                    + "ceiling %d ms (one tick %d ms + 4 x max loop lag %d ms)%n", k, after.length, ms(after[0]),
                    ms(after[after.length - 1]), ms(after[after.length / 2]), ms(after[after.length * 99 / 100]),
                    ms(floor), ms(ceiling), RES.toMillis(), ms(lag));
            assertEquals(PEERS, stats.reaped(ReapReason.HEARTBEAT_TIMEOUT), stats.toString());
            assertEquals(PEERS, events.size());
            long early = Arrays.stream(after).filter(a -> a < floor).count();
            long late = Arrays.stream(after).filter(a -> a > ceiling).count();
            assertEquals(0, early, "reaped before the floor");
            assertEquals(0, late, "reaped after the ceiling");
        } finally {
            listener.close();
        }
    }

    private static long ms(long nanos) {
        return TimeUnit.NANOSECONDS.toMillis(nanos);
    }
}
