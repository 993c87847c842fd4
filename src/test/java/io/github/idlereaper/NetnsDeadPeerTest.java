package io.github.idlereaper;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoopGroup;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Layer 4: peers that really vanish. Each test makes its own network namespace joined to the host by a veth pair
 * ({@link Netns}), runs the peer in a JVM inside it ({@link NetnsPeer}), connects, then takes the namespace's end of
 * the link down, so that from then on every packet is lost silently: no FIN, no RST, no ICMP. Only the kernel's
 * timers can find the dead peer, so these tests prove the options are in effect end to end, and the controls prove
 * that without them the connection would stay open over the same window.
 *
 * <p>Needs root and iproute2; skips with the reason otherwise. Namespaces and links are removed after each test,
 * and any a dead test JVM left behind are removed before the first.
 */
class NetnsDeadPeerTest {

    /** How late a close may be seen on a busy machine, beyond the kernel's bound. */
    private static final Duration SLACK = Duration.ofMillis(2500);
    /** How early the kernel may act, for its timer granularity. */
    private static final long EARLY_MS = 100;
    private static final Duration KEEPALIVE_BOUND = Duration.ofSeconds(1 + 1 * 2);
    private static final Duration USER_TIMEOUT = Duration.ofSeconds(2);
    private static final int PEER_PORT = 7777;

    @RegisterExtension
    static final NetnsCheck NETNS = new NetnsCheck();

    private final List<EventLoopGroup> groups = new ArrayList<>();
    private final List<Channel> channels = new ArrayList<>();
    private final BlockingQueue<Channel> accepted = new LinkedBlockingQueue<>();
    private final List<ReapEvent> listened = new CopyOnWriteArrayList<>();
    private Netns ns;

    @AfterEach
    void tearDown() {
        NetnsCheck.closeAll(channels, groups);
        // JUnit may keep a parameterized test's instance after it ran: hold no loop or channel past the test.
        accepted.clear();
        listened.clear();
        if (ns != null) {
            Netns done = ns;
            ns = null;
            done.close();
            assertFalse(done.exists(), "namespace " + done.name + " or link " + done.hostLink + " left behind");
        }
    }

    private final class Host extends AcceptingHost {
        Host() {
            super(NetnsDeadPeerTest.this.accepted);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            // Expected here: the kernel's ETIMEDOUT. The reaper has classified it and closes the channel.
        }
    }

    private IdleReaper.Builder reaper() {
        return IdleReaper.builder().listener((ch, e) -> listened.add(e));
    }

    private EventLoopGroup group(TcpTransport k) {
        k.assumeAvailable();
        EventLoopGroup g = k.group(1);
        groups.add(g);
        return g;
    }

    /** A server on the host's end with the reaper installed, and a peer in the namespace connected to it. */
    private Channel acceptFromVanishingPeer(TcpTransport k, IdleReaper reaper) throws Exception {
        ServerBootstrap b = new ServerBootstrap().group(group(k), group(k)).channel(k.serverChannel())
                .childHandler(new Host());
        reaper.install(b);
        ns = Netns.create();
        Channel server = b.bind(ns.hostAddress, 0).syncUninterruptibly().channel();
        channels.add(server);
        int port = ((InetSocketAddress) server.localAddress()).getPort();
        Netns.expect(ns.peer("connect", ns.hostAddress, port), "ready");
        Channel child = accepted.poll(30, TimeUnit.SECONDS);
        assertTrue(child != null, "the server accepted the peer");
        channels.add(child);
        return child;
    }

    /** A client with the reaper installed, connected to a peer that listens in the namespace. */
    private Channel connectToVanishingPeer(TcpTransport k, IdleReaper reaper) throws Exception {
        Bootstrap b = new Bootstrap().group(group(k)).channel(k.channel()).handler(new Host());
        reaper.install(b);
        ns = Netns.create();
        BlockingQueue<String> peer = ns.peer("listen", ns.nsAddress, PEER_PORT);
        Netns.expect(peer, "listening");
        Channel ch = b.connect(ns.nsAddress, PEER_PORT).syncUninterruptibly().channel();
        channels.add(ch);
        Netns.expect(peer, "ready");
        return ch;
    }

    /** Waits for {@code ch} to close within {@code bound} of {@code fromNanos}; returns when it closed. */
    private static long closesWithin(Channel ch, long fromNanos, Duration bound) {
        AtomicLong closedAt = new AtomicLong();
        ch.closeFuture().addListener(f -> closedAt.set(System.nanoTime()));
        Duration left = bound.minusNanos(System.nanoTime() - fromNanos);
        await().atMost(left).pollInterval(Duration.ofMillis(20)).until(() -> closedAt.get() != 0);
        return closedAt.get();
    }

    private void assertDeadPeer(IdleReaper reaper, Duration limit) {
        await().atMost(Duration.ofSeconds(5)).until(() -> !listened.isEmpty());
        assertEquals(1, listened.size(), listened.toString());
        ReapEvent e = listened.get(0);
        assertEquals(ReapReason.DEAD_PEER, e.reason(), e.toString());
        assertEquals(limit, e.limit());
        assertEquals(1, reaper.stats().reaped(ReapReason.DEAD_PEER));
        assertEquals(1, reaper.stats().reapedTotal());
    }

    private static long millis(long nanos) {
        return TimeUnit.NANOSECONDS.toMillis(nanos);
    }

    @ParameterizedTest
    @EnumSource(value = TcpTransport.class, names = {"NIO", "EPOLL", "IO_URING"})
    void keepAlive_peerVanishes_kernelClosesWithinIdlePlusIntervalTimesCount(TcpTransport k) throws Exception {
        IdleReaper reaper = reaper().tcpKeepAlive(Duration.ofSeconds(1), Duration.ofSeconds(1), 2).build();
        Channel child = acceptFromVanishingPeer(k, reaper);
        long acceptedAt = System.nanoTime();
        ns.linkDown();
        long downAt = System.nanoTime();

        long closedAt = closesWithin(child, downAt, KEEPALIVE_BOUND.plus(SLACK));

        // The kernel's idle clock started at the handshake's last segment, just before the accept: it gives up one
        // idle plus two unanswered probes later, not before.
        assertTrue(millis(closedAt - acceptedAt) >= KEEPALIVE_BOUND.toMillis() - EARLY_MS,
                "closed " + millis(closedAt - acceptedAt) + "ms after the accept");
        assertDeadPeer(reaper, KEEPALIVE_BOUND);
    }

    @ParameterizedTest
    @EnumSource(value = TcpTransport.class, names = {"NIO", "EPOLL"})
    void noKeepAlive_peerVanishes_connectionStaysOpenOverTheSameWindow(TcpTransport k) throws Exception {
        IdleReaper reaper = reaper().build();
        Channel child = acceptFromVanishingPeer(k, reaper);
        ns.linkDown();

        Duration window = KEEPALIVE_BOUND.plus(SLACK);
        await().during(window).atMost(window.plusSeconds(5)).until(child::isActive);
        assertEquals(0, reaper.stats().reapedTotal());
        assertTrue(listened.isEmpty());
    }

    @ParameterizedTest
    @EnumSource(value = TcpTransport.class, names = {"EPOLL", "IO_URING"})
    void userTimeout_peerVanishesWithDataUnacknowledged_kernelClosesWithinTheTimeout(TcpTransport k) throws Exception {
        IdleReaper reaper = reaper().tcpUserTimeout(USER_TIMEOUT).build();
        Channel client = connectToVanishingPeer(k, reaper);
        ns.linkDown();
        long writeAt = System.nanoTime();
        // The kernel takes the bytes into its send buffer at once; they are never acknowledged.
        client.writeAndFlush(Unpooled.wrappedBuffer(new byte[1024])).syncUninterruptibly();

        long closedAt = closesWithin(client, writeAt, USER_TIMEOUT.plus(SLACK));

        assertTrue(millis(closedAt - writeAt) >= USER_TIMEOUT.toMillis() - EARLY_MS,
                "closed " + millis(closedAt - writeAt) + "ms after the write");
        assertDeadPeer(reaper, USER_TIMEOUT);
    }

    @ParameterizedTest
    @EnumSource(value = TcpTransport.class, names = {"EPOLL"})
    void noUserTimeout_peerVanishesWithDataUnacknowledged_connectionStaysOpenOverTheSameWindow(TcpTransport k)
            throws Exception {
        IdleReaper reaper = reaper().build();
        Channel client = connectToVanishingPeer(k, reaper);
        ns.linkDown();
        client.writeAndFlush(Unpooled.wrappedBuffer(new byte[1024])).syncUninterruptibly();

        Duration window = USER_TIMEOUT.plus(SLACK);
        await().during(window).atMost(window.plusSeconds(5)).until(client::isActive);
        assertEquals(0, reaper.stats().reapedTotal());
    }
}
