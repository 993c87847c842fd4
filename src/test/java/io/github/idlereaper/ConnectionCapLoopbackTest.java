package io.github.idlereaper;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The connection cap on real loopback sockets (NIO and epoll): at the cap a newcomer is refused with a RST before the
 * host's handlers see it, or the idlest connection of its loop is evicted for it, never a busy or recently active
 * one; the per-address limit; a dry run reports and admits; a pipeline built by hand is capped too. One event loop,
 * so that every connection shares the newcomer's wheel.
 */
class ConnectionCapLoopbackTest {

    private static final Duration RES = Duration.ofMillis(100);

    private EventLoopGroup boss;
    private EventLoopGroup workers;
    private final List<ReapEvent> events = new CopyOnWriteArrayList<>();
    private final List<Channel> eventChannels = new CopyOnWriteArrayList<>();
    /** Server channels the host's initializer saw, in order of accept. */
    private final List<Channel> hostSaw = new CopyOnWriteArrayList<>();
    private final AtomicInteger hostActive = new AtomicInteger();
    private final List<Socket> sockets = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        for (Socket s : sockets) {
            s.close();
        }
        for (EventLoopGroup g : new EventLoopGroup[] {workers, boss}) {
            if (g != null) {
                g.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
            }
        }
    }

    private IdleReaper.Builder reaper() {
        return IdleReaper.builder().tickResolution(RES).listener((ch, e) -> {
            eventChannels.add(ch);
            events.add(e);
        });
    }

    /** The host: counts what it sees, echoes nothing, drops what it reads. */
    private final class Host extends ChannelInboundHandlerAdapter {
        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            hostActive.incrementAndGet();
            ctx.fireChannelActive();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ((ByteBuf) msg).release();
        }
    }

    private InetSocketAddress start(Transport t, IdleReaper reaper, boolean byHand) {
        boss = t.group(1);
        workers = t.group(1);
        ServerBootstrap b = new ServerBootstrap().group(boss, workers).channel(t.serverChannel())
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        hostSaw.add(ch);
                        if (byHand) {
                            ch.pipeline().addLast(IdleReaper.HANDLER_NAME, reaper.newHandler());
                        }
                        ch.pipeline().addLast(new Host());
                    }
                });
        if (!byHand) {
            reaper.install(b);
        }
        return (InetSocketAddress) b.bind("127.0.0.1", 0).syncUninterruptibly().channel().localAddress();
    }

    private Socket connect(InetSocketAddress at) throws Exception {
        return connect(at, null);
    }

    private Socket connect(InetSocketAddress at, InetAddress from) throws Exception {
        Socket s = new Socket();
        sockets.add(s);
        if (from != null) {
            s.bind(new InetSocketAddress(from, 0));
        }
        s.connect(at, 5_000);
        s.setSoTimeout(10_000);
        return s;
    }

    /**
     * Connects a newcomer the server should refuse, and says whether it got a RST. The reaper resets a refused
     * connection as soon as it is accepted, so the RST may come while {@code connect()} is still waiting for the
     * handshake to finish (seen on JDK 25): that is a reset too.
     */
    private boolean refused(InetSocketAddress at) throws Exception {
        Socket s;
        try {
            s = connect(at);
        } catch (SocketException resetWhileConnecting) {
            return true;
        }
        return endsWithReset(s);
    }

    /** The socket's end: true for a RST (connection reset), false for an orderly close. */
    private static boolean endsWithReset(Socket s) throws Exception {
        InputStream in = s.getInputStream();
        try {
            while (in.read() >= 0) {
                // the goodbye, if any
            }
            return false;
        } catch (SocketException reset) {
            return true;
        }
    }

    private List<ReapReason> reasons() {
        return events.stream().map(ReapEvent::reason).toList();
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void reject_atTheCap_theNewcomerGetsARst_theHostNeverSeesIt_andAFreedPlaceIsTakenAgain(Transport t)
            throws Exception {
        IdleReaper reaper = reaper().maxConnections(2, CapPolicy.REJECT).build();
        InetSocketAddress at = start(t, reaper, false);
        Socket a = connect(at);
        connect(at);
        await().atMost(Duration.ofSeconds(5)).until(() -> reaper.stats().open() == 2);
        assertTrue(refused(at), "the newcomer is reset");
        await().atMost(Duration.ofSeconds(5)).until(() -> events.size() == 1);
        assertEquals(List.of(ReapReason.REJECTED), reasons());
        assertEquals("rejected: 2 open at maxConnections 2", events.get(0).message());
        assertEquals(2, hostSaw.size(), "the host's initializer never ran for the newcomer");
        assertEquals(2, hostActive.get());
        assertEquals(1, reaper.stats().reaped(ReapReason.REJECTED));
        // A place freed is taken again.
        a.close();
        await().atMost(Duration.ofSeconds(5)).until(() -> reaper.stats().open() == 1);
        connect(at);
        await().atMost(Duration.ofSeconds(5)).until(() -> reaper.stats().open() == 2);
        assertEquals(3, hostSaw.size());
        assertEquals(1, events.size(), events.toString());
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void evict_atTheCap_theIdlestGoes_neverTheBusyOrTheRecentlyActive(Transport t) throws Exception {
        IdleReaper reaper = reaper().maxConnections(3, CapPolicy.EVICT_IDLEST).build();
        InetSocketAddress at = start(t, reaper, false);
        Socket a = connect(at);
        await().atMost(Duration.ofSeconds(5)).until(() -> hostSaw.size() == 1);
        Socket b = connect(at);
        await().atMost(Duration.ofSeconds(5)).until(() -> hostSaw.size() == 2);
        connect(at);
        await().atMost(Duration.ofSeconds(5)).until(() -> reaper.stats().open() == 3);
        // c has work in flight; a, the first, is the idlest; b becomes active.
        Channel c = hostSaw.get(2);
        c.eventLoop().submit(() -> IdleReaper.markBusy(c)).syncUninterruptibly();
        long idleFrom = System.nanoTime();
        await().atMost(Duration.ofSeconds(5)).until(() -> System.nanoTime() - idleFrom >= 1_300_000_000L);
        b.getOutputStream().write('x');
        b.getOutputStream().flush();
        await().atMost(Duration.ofSeconds(5)).pollDelay(Duration.ofMillis(300)).until(() -> true);
        connect(at);
        assertFalse(endsWithReset(a), "the evicted one is closed, not reset");
        await().atMost(Duration.ofSeconds(5)).until(() -> events.size() == 1);
        assertEquals(List.of(ReapReason.EVICTED), reasons());
        assertEquals(hostSaw.get(0), eventChannels.get(0), "the idlest was evicted");
        assertTrue(events.get(0).idleFor().toMillis() >= 1_000, events.toString());
        assertEquals("3 open", events.get(0).message().replaceAll(".*: (3 open).*", "$1"));
        await().atMost(Duration.ofSeconds(5)).until(() -> hostActive.get() == 4);
        assertTrue(hostSaw.get(1).isActive() && c.isActive() && hostSaw.get(3).isActive(),
                "b (active), c (busy) and the newcomer stay");
        // Now no one may go: b was active within a second, c is busy, the newcomer is new. The next is refused.
        assertTrue(refused(at), "refused: no connection could be evicted");
        await().atMost(Duration.ofSeconds(5)).until(() -> events.size() == 2);
        assertEquals(List.of(ReapReason.EVICTED, ReapReason.REJECTED), reasons());
        assertEquals(3, reaper.stats().open());
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void perAddress_limitsOneAddress_notTheOthers(Transport t) throws Exception {
        IdleReaper reaper = reaper().maxConnectionsPerAddress(2).build();
        InetSocketAddress at = start(t, reaper, false);
        connect(at);
        connect(at);
        await().atMost(Duration.ofSeconds(5)).until(() -> reaper.stats().open() == 2);
        assertTrue(refused(at), "a third from 127.0.0.1 is reset");
        connect(at, InetAddress.getByName("127.0.0.2"));
        await().atMost(Duration.ofSeconds(5)).until(() -> reaper.stats().open() == 3);
        assertEquals(List.of(ReapReason.REJECTED), reasons());
        assertEquals("rejected: 2 open from its address at maxConnectionsPerAddress 2", events.get(0).message());
        for (Socket s : sockets) {
            s.close();
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> reaper.stats().open() == 0);
        assertEquals(0, reaper.core().cap().addressesTracked(), "every address released");
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void dryRun_reportsTheRefusal_andAdmits(Transport t) throws Exception {
        IdleReaper reaper = reaper().maxConnections(1, CapPolicy.REJECT).dryRun(true).build();
        InetSocketAddress at = start(t, reaper, false);
        connect(at);
        await().atMost(Duration.ofSeconds(5)).until(() -> reaper.stats().open() == 1);
        connect(at);
        await().atMost(Duration.ofSeconds(5)).until(() -> reaper.stats().open() == 2);
        assertEquals(1, events.size());
        assertTrue(events.get(0).dryRun());
        assertEquals(ReapReason.REJECTED, events.get(0).reason());
        assertEquals(1, reaper.stats().wouldReap(ReapReason.REJECTED));
        assertEquals(0, reaper.stats().reapedTotal());
        assertEquals(2, hostActive.get());
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void pipelineBuiltByHand_isCappedToo_theHostSeesNoChannelActive(Transport t) throws Exception {
        IdleReaper reaper = reaper().maxConnections(1, CapPolicy.REJECT).build();
        InetSocketAddress at = start(t, reaper, true);
        connect(at);
        await().atMost(Duration.ofSeconds(5)).until(() -> reaper.stats().open() == 1);
        assertTrue(refused(at));
        await().atMost(Duration.ofSeconds(5)).until(() -> events.size() == 1);
        assertEquals(List.of(ReapReason.REJECTED), reasons());
        assertEquals(1, hostActive.get(), "the refused channel's activation went no further than the reaper");
        assertEquals(1, reaper.stats().open());
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void everyPlaceIsReleased_whateverClosedTheConnection(Transport t) throws Exception {
        IdleReaper reaper = reaper().maxConnections(2, CapPolicy.REJECT).readIdleTimeout(Duration.ofMillis(500))
                .build();
        InetSocketAddress at = start(t, reaper, false);
        for (int round = 0; round < 3; round++) {
            Socket x = connect(at);
            Socket y = connect(at);
            await().atMost(Duration.ofSeconds(5)).until(() -> reaper.stats().open() == 2);
            x.close(); // the peer's close
            // y: the reaper's (read idle)
            assertFalse(endsWithReset(y));
            await().atMost(Duration.ofSeconds(5)).until(() -> reaper.stats().open() == 0);
            assertEquals(0, reaper.core().cap().count(), "round " + round);
        }
        assertEquals(0, reaper.stats().reaped(ReapReason.REJECTED));
        assertThrows(IllegalStateException.class, () -> IdleReaper.builder().maxConnectionsPerAddress(1)
                .maxConnectionsPerAddress(1));
    }
}
