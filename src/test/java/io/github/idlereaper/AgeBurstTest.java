package io.github.idlereaper;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.DefaultEventLoopGroup;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.local.LocalAddress;
import io.netty.channel.local.LocalChannel;
import io.netty.channel.local.LocalServerChannel;
import io.netty.channel.socket.SocketChannel;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * An age burst with a close rate, in real time: connections accepted together reach their age together (no jitter),
 * and close at the configured rate per event loop, never in one burst, each at or after its age. 10,000 connections
 * over LocalChannels (the machine's open-file limit allows fewer sockets), and 2,000 over loopback TCP.
 */
class AgeBurstTest {

    /** A client that does nothing. */
    @io.netty.channel.ChannelHandler.Sharable
    private static final class Quiet extends ChannelInboundHandlerAdapter {
    }

    private final List<EventLoopGroup> groups = new ArrayList<>();
    private final ConcurrentLinkedQueue<Long> closedAt = new ConcurrentLinkedQueue<>();
    private final ConcurrentLinkedQueue<ReapEvent> events = new ConcurrentLinkedQueue<>();

    @AfterEach
    void tearDown() {
        for (EventLoopGroup g : groups) {
            g.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    private IdleReaper reaper(int rate) {
        return IdleReaper.builder().maxConnectionAge(Duration.ofSeconds(1)).maxConnectionAgeJitter(0)
                .closeRate(rate, 50).listener((ch, e) -> {
                    closedAt.add(System.nanoTime());
                    events.add(e);
                }).build();
    }

    /** The most closes in any one-second window. */
    private int mostInASecond() {
        List<Long> t = new ArrayList<>(closedAt);
        Collections.sort(t);
        int most = 0;
        int j = 0;
        for (int i = 0; i < t.size(); i++) {
            while (t.get(i) - t.get(j) >= 1_000_000_000L) {
                j++;
            }
            most = Math.max(most, i - j + 1);
        }
        return most;
    }

    private void check(int n, int rate, long acceptedBy, IdleReaper reaper) {
        await().atMost(Duration.ofSeconds(5 + n / rate * 3L)).until(() -> closedAt.size() == n);
        List<Long> t = new ArrayList<>(closedAt);
        Collections.sort(t);
        double spanS = (t.get(n - 1) - t.get(0)) / 1e9;
        int most = mostInASecond();
        System.out.printf("age burst: %d connections, rate %d/s: closes spanned %.2f s, most in a second %d, "
                + "held back %d%n", n, rate, spanS, most, reaper.stats().closesHeldBack());
        assertTrue(events.stream().allMatch(e -> e.reason() == ReapReason.MAX_AGE), "all MAX_AGE");
        assertTrue(events.stream().allMatch(e -> e.idleFor().compareTo(Duration.ofSeconds(1)) >= 0),
                "none before its age");
        // Never faster than the rate (plus the burst and a tick's worth), and not much slower on a busy machine.
        assertTrue(most <= rate + 50 + rate / 5, "most in a second: " + most);
        assertTrue(spanS >= (n - 100.0) / rate * 0.9, "spread at the rate, not in a burst: " + spanS + " s");
        assertTrue(reaper.stats().closesHeldBack() >= n / 2, "held back: " + reaper.stats().closesHeldBack());
        assertEquals(n, reaper.stats().reaped(ReapReason.MAX_AGE));
    }

    @Test
    void tenThousandLocalConnections_reachTheirAgeTogether_andCloseAtTheRate() {
        int n = 10_000;
        int rate = 2_500;
        IdleReaper reaper = reaper(rate);
        EventLoopGroup server = new DefaultEventLoopGroup(1);
        EventLoopGroup clients = new DefaultEventLoopGroup(1);
        groups.add(server);
        groups.add(clients);
        LocalAddress addr = new LocalAddress("age-burst-" + System.nanoTime());
        ServerBootstrap b = new ServerBootstrap().group(server).channel(LocalServerChannel.class)
                .childHandler(new ChannelInitializer<LocalChannel>() {
                    @Override
                    protected void initChannel(LocalChannel ch) {
                        ch.pipeline().addLast(new ChannelInboundHandlerAdapter());
                    }
                });
        reaper.install(b);
        b.bind(addr).syncUninterruptibly();
        Bootstrap c = new Bootstrap().group(clients).channel(LocalChannel.class)
                .handler(new Quiet());
        long start = System.nanoTime();
        for (int i = 0; i < n; i++) {
            c.connect(addr);
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> reaper.stats().opened() == n);
        check(n, rate, start, reaper);
    }

    @Test
    void twoThousandTcpConnections_closeAtTheRate() {
        int n = 2_000;
        int rate = 1_000;
        IdleReaper reaper = reaper(rate);
        Transport t = Transport.NIO;
        EventLoopGroup boss = t.group(1);
        EventLoopGroup workers = t.group(1);
        EventLoopGroup clients = t.group(1);
        groups.add(clients);
        groups.add(workers);
        groups.add(boss);
        ServerBootstrap b = new ServerBootstrap().group(boss, workers).channel(t.serverChannel())
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new ChannelInboundHandlerAdapter());
                    }
                });
        reaper.install(b);
        Channel server = b.bind("127.0.0.1", 0).syncUninterruptibly().channel();
        InetSocketAddress at = (InetSocketAddress) server.localAddress();
        Bootstrap c = new Bootstrap().group(clients).channel(t.channel())
                .handler(new Quiet());
        long start = System.nanoTime();
        for (int i = 0; i < n; i++) {
            c.connect(at).syncUninterruptibly();
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> reaper.stats().opened() == n);
        check(n, rate, start, reaper);
    }
}
