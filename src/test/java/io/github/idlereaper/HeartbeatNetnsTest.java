package io.github.idlereaper;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.idlereaper.protocol.LineHeartbeat;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.Test;

/**
 * Layer 4: a peer that vanishes (its link taken down inside a network namespace: no FIN, no RST, no ICMP) is found
 * by the heartbeat within interval + timeout × maxMissed, where the kernel's keepalive (2 h by default) would take
 * hours. The peer is a JVM in the namespace that echoes, so it answers every ping until its link goes down. Needs
 * root and iproute2; skips with the reason otherwise. Traffic stays on the namespace's own veth pair.
 */
class HeartbeatNetnsTest {

    private static final Duration RES = Duration.ofMillis(100);
    private static final Duration INTERVAL = Duration.ofSeconds(1);
    private static final Duration TIMEOUT = Duration.ofMillis(300);
    private static final int MISSED = 2;
    private static final long SLACK_MS = 1_500;

    @RegisterExtension
    static final NetnsCheck NETNS = new NetnsCheck();
    private Netns ns;
    private EventLoopGroup boss;
    private EventLoopGroup workers;
    private final List<ReapEvent> listened = new CopyOnWriteArrayList<>();

    @AfterEach
    void tearDown() {
        for (EventLoopGroup g : new EventLoopGroup[] {workers, boss}) {
            if (g != null) {
                g.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
            }
        }
        if (ns != null) {
            ns.close();
            assertFalse(ns.exists(), "the namespace and its link are gone");
        }
    }

    @Test
    void vanishedPeer_isFoundByTheHeartbeatWithinItsBound() throws Exception {
        ns = Netns.create();
        IdleReaper reaper = IdleReaper.builder().tickResolution(RES).listener((c, e) -> listened.add(e))
                .heartbeat(INTERVAL, TIMEOUT, MISSED, LineHeartbeat.of("PING\n", StandardCharsets.US_ASCII))
                .build();
        BlockingQueue<Channel> accepted = new LinkedBlockingQueue<>();
        boss = Transport.NIO.group(1);
        workers = Transport.NIO.group(1);
        ServerBootstrap b = new ServerBootstrap().group(boss, workers).channel(Transport.NIO.serverChannel())
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        accepted.add(ch);
                        ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                            @Override
                            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                ReferenceCountUtil.release(msg);
                            }
                        });
                    }
                });
        reaper.install(b);
        int port = ((java.net.InetSocketAddress) b.bind(ns.hostAddress, 0).syncUninterruptibly().channel()
                .localAddress()).getPort();
        Netns.expect(ns.peer("connect", ns.hostAddress, port, "echo"), "ready");
        Channel server = accepted.poll(10, TimeUnit.SECONDS);
        assertTrue(server != null, "the peer connected");

        // The echoing peer answers every ping: several intervals pass without a reap.
        await().during(INTERVAL.multipliedBy(4)).atMost(INTERVAL.multipliedBy(4).plusSeconds(5))
                .until(server::isActive);
        assertEquals(List.of(), listened);

        AtomicLong closedAt = new AtomicLong();
        server.closeFuture().addListener(f -> closedAt.set(System.nanoTime()));
        long down = System.nanoTime();
        ns.linkDown();
        await().atMost(Duration.ofSeconds(30)).until(() -> closedAt.get() != 0);
        long after = TimeUnit.NANOSECONDS.toMillis(closedAt.get() - down);
        long bound = INTERVAL.toMillis() + TIMEOUT.toMillis() * MISSED + RES.toMillis();
        assertTrue(after <= bound + SLACK_MS, "found after " + after + "ms, bound " + bound + "ms");
        assertEquals(ReapReason.HEARTBEAT_TIMEOUT, listened.get(0).reason());
        assertEquals("no inbound data within 300ms after ping (2 of 2 missed)", listened.get(0).message());
    }
}
