package io.github.idlereaper;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.unix.Errors;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Issue #9: every close the kernel causes is counted, once, with its cause. A server with the reaper installed
 * accepts a peer that runs in a network namespace ({@link Netns}, {@link NetnsPeer}); the peer then goes away in one
 * of the ways that make the kernel give up on the connection, each with its own errno:
 *
 * <ul>
 *   <li>ETIMEDOUT: silence (the link goes down) and keepalive's probes go unanswered. Keepalive alone never yields
 *       EHOSTUNREACH: a probe carries the sequence number before the window, so the kernel ignores the ICMP error
 *       that a failed neighbour resolution reports for it.
 *   <li>EHOSTUNREACH: data waits for its acknowledgement while the host cannot find the peer on the link (its ARP
 *       requests go unanswered): the soft error replaces ETIMEDOUT at the user timeout. Or the host's route to the
 *       peer is withdrawn with an {@code unreachable} route while data waits.
 *   <li>ENETUNREACH: the route is withdrawn with a {@code throw} route (no route at all) while data waits.
 *   <li>ECONNRESET: the peer's host forgot the connection (it rebooted) and answers a keepalive probe with an RST:
 *       a dead peer. An RST the peer sends on its own (it aborts the connection) is the peer's close, not counted,
 *       however long the peer was silent before: while it acknowledged a download, or answered keepalive's probes,
 *       no probe was waiting for an answer (the socket's TCP_INFO shows {@code tcpi_probes} 0 at such an RST, and
 *       1 or more at one that answers a probe).
 * </ul>
 *
 * Each verdict reaches the channel either as an exception on a read or as a failed write, which Netty turns into a
 * close with no exception event; both must be counted as {@link ReapReason#DEAD_PEER} exactly once, with the
 * kernel's exception as {@link ReapEvent#cause()}.
 *
 * <p>TCP_USER_TIMEOUT (epoll and io_uring only) is what makes waiting data time out within a test's time: with NIO
 * the kernel retransmits for {@code tcp_retries2} (about 15 minutes), so the EHOSTUNREACH and ENETUNREACH cases
 * run on the native transports only. Needs root, iproute2 and {@code ss}; skips with the reason otherwise. Every
 * namespace, link and route is removed after each test (checked).
 */
class NetnsKernelCloseTest {

    /** How late a close may be seen on a busy machine, beyond the kernel's bound. */
    private static final Duration SLACK = Duration.ofMillis(2500);
    /** How early the kernel may act, for its timer granularity. */
    private static final long EARLY_MS = 100;
    /** Keepalive 1 s / 1 s / 2: the kernel gives up 3 s after the last segment it received. */
    private static final Duration KEEPALIVE_BOUND = Duration.ofSeconds(1 + 1 * 2);
    private static final Duration USER_TIMEOUT = Duration.ofSeconds(2);

    /** The kernel's verdicts these tests provoke, with Linux's numbers and strerror texts (NIO gives only these). */
    enum Errno {
        ETIMEDOUT(110, "Connection timed out"),
        EHOSTUNREACH(113, "No route to host"),
        ENETUNREACH(101, "Network is unreachable"),
        ECONNRESET(104, "Connection reset"), // NIO: "Connection reset" on a read, "... by peer" on a write
        EPIPE(32, "Broken pipe");

        final int number;
        final String text;

        Errno(int number, String text) {
            this.number = number;
            this.text = text;
        }

        /** The errno {@code cause} carries (the native transports' number, else NIO's text), or null. */
        static Errno of(Throwable cause) {
            Throwable t = cause;
            for (int depth = 0; t != null && depth < 8; depth++, t = t.getCause()) {
                for (Errno e : values()) {
                    if (t instanceof Errors.NativeIoException
                            ? Math.abs(((Errors.NativeIoException) t).expectedErr()) == e.number
                            : t instanceof IOException && t.getMessage() != null && t.getMessage().contains(e.text)) {
                        return e;
                    }
                }
            }
            return null;
        }
    }

    @RegisterExtension
    static final NetnsCheck NETNS = new NetnsCheck(true);

    private final List<EventLoopGroup> groups = new ArrayList<>();
    private final List<Channel> channels = new ArrayList<>();
    private final BlockingQueue<Channel> accepted = new LinkedBlockingQueue<>();
    /** What the listener was told. */
    private final List<ReapEvent> listened = new CopyOnWriteArrayList<>();
    /** The ReapEvents that came down the pipeline. */
    private final List<ReapEvent> fired = new CopyOnWriteArrayList<>();
    /** The exceptions the host's handler saw. */
    private final List<Throwable> caught = new CopyOnWriteArrayList<>();
    /** The causes of the host's failed writes. */
    private final List<Throwable> failedWrites = new CopyOnWriteArrayList<>();
    private final AtomicLong unregisteredAt = new AtomicLong();
    private Netns ns;
    private Netns.Peer peer;

    @AfterEach
    void tearDown() {
        NetnsCheck.closeAll(channels, groups);
        accepted.clear();
        listened.clear();
        fired.clear();
        caught.clear();
        failedWrites.clear();
        unregisteredAt.set(0);
        peer = null;
        if (ns != null) {
            Netns done = ns;
            ns = null;
            done.close();
            assertFalse(done.exists(), "namespace " + done.name + ", link " + done.hostLink + " or route to "
                    + done.nsAddress + " left behind");
        }
    }

    /** The application's handler, after the reaper's: records what reaches it. */
    private final class Host extends AcceptingHost {
        Host() {
            super(NetnsKernelCloseTest.this.accepted);
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof ReapEvent) {
                fired.add((ReapEvent) evt);
            }
            ctx.fireUserEventTriggered(evt);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            caught.add(cause);
        }

        @Override
        public void channelUnregistered(ChannelHandlerContext ctx) {
            unregisteredAt.compareAndSet(0, System.nanoTime());
            ctx.fireChannelUnregistered();
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
    private Channel acceptFromPeer(TcpTransport k, IdleReaper reaper, String behaviour) throws Exception {
        ServerBootstrap b = new ServerBootstrap().group(group(k), group(k)).channel(k.serverChannel())
                .childHandler(new Host());
        reaper.install(b);
        ns = Netns.create();
        Channel server = b.bind(ns.hostAddress, 0).syncUninterruptibly().channel();
        channels.add(server);
        int port = ((InetSocketAddress) server.localAddress()).getPort();
        peer = ns.startPeer("connect", ns.hostAddress, port, behaviour);
        Netns.expect(peer.lines, "ready");
        Channel child = accepted.poll(30, TimeUnit.SECONDS);
        assertNotNull(child, "the server accepted the peer");
        channels.add(child);
        return child;
    }

    /** Writes and flushes {@code size} bytes, recording the write's failure. */
    private ChannelFuture write(Channel ch, int size) {
        return ch.writeAndFlush(Unpooled.wrappedBuffer(new byte[size])).addListener(f -> {
            if (!f.isSuccess()) {
                failedWrites.add(f.cause());
            }
        });
    }

    /**
     * Waits for {@code ch} to be closed and done with (unregistered: every event of its close has passed the
     * pipeline) within {@code bound} of {@code fromNanos}; returns the milliseconds from {@code fromNanos} to the
     * close.
     */
    private long closesWithin(Channel ch, long fromNanos, Duration bound) {
        AtomicLong closedAt = new AtomicLong();
        ch.closeFuture().addListener(f -> closedAt.set(System.nanoTime()));
        Duration left = bound.minusNanos(System.nanoTime() - fromNanos);
        await().atMost(left).pollInterval(Duration.ofMillis(20)).until(() -> closedAt.get() != 0);
        await().atMost(Duration.ofSeconds(5)).until(() -> unregisteredAt.get() != 0);
        return TimeUnit.NANOSECONDS.toMillis(closedAt.get() - fromNanos);
    }

    /** The kernel's verdict as the application saw it: the first exception, else the first failed write. */
    private Throwable seen() {
        return !caught.isEmpty() ? caught.get(0) : failedWrites.isEmpty() ? null : failedWrites.get(0);
    }

    /** The cause the reaper reports with its event. */
    private static Throwable causeOf(ReapEvent e) {
        return e.cause();
    }

    /** Prints the scenario's figures (for the before/after record of issue #9) in one line. */
    private void figure(String scenario, TcpTransport k, long closeMs, IdleReaper reaper) {
        ReaperStats stats = reaper.stats();
        StringBuilder line = new StringBuilder("KERNEL-CLOSE ").append(scenario).append(" [").append(k).append("]: ")
                .append("seen ").append(Errno.of(seen())).append(" via ")
                .append(!caught.isEmpty() ? "exceptionCaught" : !failedWrites.isEmpty() ? "failed write" : "nothing")
                .append(" (").append(seen()).append("), closed after ").append(closeMs).append("ms; counted ")
                .append(stats.reaped(ReapReason.DEAD_PEER)).append(" DEAD_PEER, ").append(stats.reapedTotal())
                .append(" in all, listener ").append(listened.size()).append(", events ").append(fired.size());
        if (!listened.isEmpty()) {
            ReapEvent e = listened.get(0);
            line.append(", ").append(e.message()).append(", cause ").append(Errno.of(causeOf(e)));
        }
        System.out.println(line);
    }

    /** Counted exactly once as DEAD_PEER, everywhere a reap shows, with a cause carrying one of {@code errnos}. */
    private void assertCountedOnce(IdleReaper reaper, Errno... errnos) {
        await().atMost(Duration.ofSeconds(2)).until(() -> !listened.isEmpty());
        assertEquals(1, reaper.stats().reaped(ReapReason.DEAD_PEER), () -> "stats " + reaper.stats());
        assertEquals(1, reaper.stats().reapedTotal(), () -> "stats " + reaper.stats());
        assertEquals(1, listened.size(), listened::toString);
        assertEquals(1, fired.size(), fired::toString);
        ReapEvent e = listened.get(0);
        assertEquals(ReapReason.DEAD_PEER, e.reason(), e::toString);
        assertEquals(e.message(), fired.get(0).message());
        assertNotNull(causeOf(e), () -> "the event of " + e + " carries the kernel's exception");
        assertTrue(Arrays.asList(errnos).contains(Errno.of(causeOf(e))),
                () -> "cause " + causeOf(e) + ", expected " + Arrays.toString(errnos));
    }

    private void assertNotCounted(IdleReaper reaper) {
        assertEquals(0, reaper.stats().reapedTotal(), () -> "stats " + reaper.stats());
        assertEquals(List.of(), listened);
        assertEquals(List.of(), fired);
    }

    // 1. Silence: keepalive's probes go unanswered.

    @ParameterizedTest
    @EnumSource(value = TcpTransport.class, names = {"NIO", "EPOLL", "IO_URING"})
    void linkDown_keepAliveGivesUp_countedOnceWithTimedOut(TcpTransport k) throws Exception {
        IdleReaper reaper = reaper().tcpKeepAlive(Duration.ofSeconds(1), Duration.ofSeconds(1), 2).build();
        Channel child = acceptFromPeer(k, reaper, "hold");
        long acceptedAt = System.nanoTime();
        ns.linkDown();

        long closeMs = closesWithin(child, acceptedAt, KEEPALIVE_BOUND.plus(SLACK));
        figure("link down, keepalive 1s/1s/2", k, closeMs, reaper);

        assertTrue(closeMs >= KEEPALIVE_BOUND.toMillis() - EARLY_MS, "closed " + closeMs + "ms after the accept");
        assertCountedOnce(reaper, Errno.ETIMEDOUT);
    }

    // 2. The peer's host is gone from the link: neighbour resolution fails while data waits.

    @ParameterizedTest
    @EnumSource(value = TcpTransport.class, names = {"EPOLL", "IO_URING"})
    void peerHostGone_linkUp_dataUnacknowledged_countedOnceWithNoRouteToHost(TcpTransport k) throws Exception {
        IdleReaper reaper = reaper().tcpUserTimeout(USER_TIMEOUT).build();
        Channel child = acceptFromPeer(k, reaper, "hold");
        ns.fastNeighbourFailure();
        ns.peerAddressGone();
        ns.forgetNeighbours();
        long writeAt = System.nanoTime();
        write(child, 1024).syncUninterruptibly();

        long closeMs = closesWithin(child, writeAt, USER_TIMEOUT.plus(SLACK));
        figure("peer address gone, link up, neighbour fails in 100ms, user timeout 2s, 1 KiB waiting", k, closeMs,
                reaper);

        assertTrue(closeMs >= USER_TIMEOUT.toMillis() - EARLY_MS, "closed " + closeMs + "ms after the write");
        assertCountedOnce(reaper, Errno.EHOSTUNREACH);
    }

    /**
     * The soak's case, with the kernel's own neighbour settings: the link goes down with data waiting; three ARP
     * requests a second apart go unanswered, 3 s, before the 4 s user timeout.
     */
    @ParameterizedTest
    @EnumSource(value = TcpTransport.class, names = {"EPOLL"})
    void linkDown_dataUnacknowledged_neighbourFailsBeforeTheUserTimeout_countedOnceWithNoRouteToHost(TcpTransport k)
            throws Exception {
        Duration userTimeout = Duration.ofSeconds(4);
        IdleReaper reaper = reaper().tcpUserTimeout(userTimeout).build();
        Channel child = acceptFromPeer(k, reaper, "hold");
        ns.linkDown();
        long writeAt = System.nanoTime();
        write(child, 1024).syncUninterruptibly();

        long closeMs = closesWithin(child, writeAt, userTimeout.plus(SLACK));
        figure("link down, user timeout 4s, 1 KiB waiting", k, closeMs, reaper);

        assertTrue(closeMs >= userTimeout.toMillis() - EARLY_MS, "closed " + closeMs + "ms after the write");
        assertCountedOnce(reaper, Errno.EHOSTUNREACH);
    }

    // 3. The host's route to the peer is withdrawn.

    static Stream<Arguments> withdrawnRoutes() {
        return Stream.of(Arguments.of(TcpTransport.EPOLL, "unreachable", Errno.EHOSTUNREACH),
                Arguments.of(TcpTransport.IO_URING, "throw", Errno.ENETUNREACH));
    }

    /**
     * The peer's host is gone (its address, with the host's neighbour entry still valid, so the host's packets
     * leave and nothing holds them), data waits, then the route is withdrawn: the retransmissions fail at the
     * route lookup, whose error replaces ETIMEDOUT at the user timeout. (A route withdrawn before the data is sent,
     * or keepalive's probes, leave no such error: ETIMEDOUT.)
     */
    @ParameterizedTest
    @MethodSource("withdrawnRoutes")
    void routeWithdrawn_dataUnacknowledged_countedOnceWithTheRoutesError(TcpTransport k, String type, Errno errno)
            throws Exception {
        IdleReaper reaper = reaper().tcpUserTimeout(USER_TIMEOUT).build();
        Channel child = acceptFromPeer(k, reaper, "hold");
        ns.peerAddressGone();
        long writeAt = System.nanoTime();
        write(child, 1024).syncUninterruptibly();
        // The segment left: the retransmission timer runs. Only retransmissions look the route up again.
        await().atMost(Duration.ofSeconds(1)).pollInterval(Duration.ofMillis(10))
                .until(() -> ns.kernelTimer().startsWith("timer:(on,"));
        ns.routeToPeer(type);

        long closeMs = closesWithin(child, writeAt, USER_TIMEOUT.plus(SLACK));
        figure("peer address gone, 1 KiB waiting, then an " + type + " route, user timeout 2s", k, closeMs, reaper);

        assertTrue(closeMs >= USER_TIMEOUT.toMillis() - EARLY_MS, "closed " + closeMs + "ms after the write");
        assertCountedOnce(reaper, errno);
    }

    /** NIO: no user timeout, so keepalive finds it; its probes fail at the route lookup and leave no error. */
    @ParameterizedTest
    @EnumSource(value = TcpTransport.class, names = {"NIO"})
    void routeWithdrawn_keepAliveGivesUp_countedOnceWithTimedOut(TcpTransport k) throws Exception {
        IdleReaper reaper = reaper().tcpKeepAlive(Duration.ofSeconds(1), Duration.ofSeconds(1), 2).build();
        Channel child = acceptFromPeer(k, reaper, "hold");
        long acceptedAt = System.nanoTime();
        ns.routeToPeer("unreachable");

        long closeMs = closesWithin(child, acceptedAt, KEEPALIVE_BOUND.plus(SLACK));
        figure("unreachable route, peer alive, keepalive 1s/1s/2", k, closeMs, reaper);

        assertTrue(closeMs >= KEEPALIVE_BOUND.toMillis() - EARLY_MS, "closed " + closeMs + "ms after the accept");
        assertCountedOnce(reaper, Errno.ETIMEDOUT);
    }

    // 4. A write sees the verdict first: Netty fails the write and closes, with no exception event.

    /**
     * A large response to a peer that vanished: the kernel takes what its send buffer holds, the rest waits in
     * Netty for the socket to become writable, so the kernel's verdict comes to the waiting write.
     */
    @ParameterizedTest
    @EnumSource(value = TcpTransport.class, names = {"EPOLL", "IO_URING"})
    void linkDown_responseWaitingInNetty_userTimeout_closedByTheFailedWrite_countedOnce(TcpTransport k)
            throws Exception {
        IdleReaper reaper = reaper().tcpUserTimeout(USER_TIMEOUT).build();
        Channel child = acceptFromPeer(k, reaper, "hold");
        ns.linkDown();
        long writeAt = System.nanoTime();
        ChannelFuture response = write(child, 4 << 20);

        long closeMs = closesWithin(child, writeAt, USER_TIMEOUT.plus(SLACK));
        figure("link down, 4 MiB response, user timeout 2s", k, closeMs, reaper);

        assertTrue(closeMs >= USER_TIMEOUT.toMillis() - EARLY_MS, "closed " + closeMs + "ms after the write");
        assertEquals(Errno.ETIMEDOUT, Errno.of(response.cause()), () -> "the response failed with " + response.cause());
        assertCountedOnce(reaper, Errno.ETIMEDOUT);
    }

    /**
     * The loop is busy when keepalive's verdict comes, and the first thing it does after is a write: the write
     * fails with the verdict and Netty closes, before the read side ever sees it.
     */
    @ParameterizedTest
    @EnumSource(value = TcpTransport.class, names = {"NIO"})
    void keepAliveGivesUp_whileTheLoopIsBusy_closedByTheNextWrite_countedOnce(TcpTransport k) throws Exception {
        IdleReaper reaper = reaper().tcpKeepAlive(Duration.ofSeconds(1), Duration.ofSeconds(1), 2).build();
        Channel child = acceptFromPeer(k, reaper, "hold");
        long acceptedAt = System.nanoTime();
        ns.linkDown();
        List<ChannelFuture> writes = new CopyOnWriteArrayList<>();
        child.eventLoop().execute(() -> {
            await().atMost(KEEPALIVE_BOUND.plus(SLACK)).pollInterval(Duration.ofMillis(20))
                    .until(() -> !ns.holdsEstablished());
            writes.add(write(child, 16));
        });

        long closeMs = closesWithin(child, acceptedAt, KEEPALIVE_BOUND.plus(SLACK));
        figure("link down, keepalive 1s/1s/2, busy loop, then a write", k, closeMs, reaper);

        assertTrue(closeMs >= KEEPALIVE_BOUND.toMillis() - EARLY_MS, "closed " + closeMs + "ms after the accept");
        assertEquals(1, writes.size());
        assertEquals(Errno.ETIMEDOUT, Errno.of(writes.get(0).cause()), () -> "the write failed with "
                + writes.get(0).cause());
        assertEquals(List.of(), caught, "no exception event: the write saw the verdict first");
        assertCountedOnce(reaper, Errno.ETIMEDOUT);
    }

    // 5. Resets: the peer's own close, or its host's answer after it forgot the connection.

    @ParameterizedTest
    @EnumSource(value = TcpTransport.class, names = {"NIO", "EPOLL", "IO_URING"})
    void peerResets_linkUp_isThePeersClose_notCounted(TcpTransport k) throws Exception {
        IdleReaper reaper = reaper().tcpKeepAlive(Duration.ofSeconds(1), Duration.ofSeconds(1), 3).build();
        Channel child = acceptFromPeer(k, reaper, "hold");
        long resetAt = System.nanoTime();
        peer.tell("reset bye");
        Netns.expect(peer.lines, "reset");

        long closeMs = closesWithin(child, resetAt, SLACK.plusSeconds(2));
        figure("peer sends 3 bytes and resets (SO_LINGER 0), link up, keepalive 1s/1s/3", k, closeMs, reaper);

        assertEquals(Errno.ECONNRESET, Errno.of(seen()), () -> "the application saw " + seen());
        assertNotCounted(reaper);
    }

    /**
     * The peer's host reboots: the link goes down, the peer aborts (its RST is lost) and its kernel forgets the
     * connection; a keepalive probe goes unanswered; the link comes back, and the next probe is answered with an
     * RST. ECONNRESET after keepalive's probes: a dead peer.
     */
    @ParameterizedTest
    @EnumSource(value = TcpTransport.class, names = {"NIO", "EPOLL", "IO_URING"})
    void peerForgetsTheConnection_resetAnswersAKeepAliveProbe_countedOnceWithReset(TcpTransport k) throws Exception {
        Duration bound = Duration.ofSeconds(1 + 1 * 3);
        IdleReaper reaper = reaper().tcpKeepAlive(Duration.ofSeconds(1), Duration.ofSeconds(1), 3).build();
        Channel child = acceptFromPeer(k, reaper, "hold");
        long acceptedAt = System.nanoTime();
        ns.linkDown();
        peer.tell("reset");
        Netns.expect(peer.lines, "reset");
        await().atMost(bound).pollInterval(Duration.ofMillis(20)).until(() -> ns.keepAliveProbes() >= 1);
        int probes = ns.keepAliveProbes();
        ns.linkUp();

        long closeMs = closesWithin(child, acceptedAt, bound.plus(SLACK));
        figure("peer forgets the connection, link back after " + probes + " probe(s), keepalive 1s/1s/3", k,
                closeMs, reaper);

        assertTrue(probes >= 1 && probes < 3, "probes unanswered before the link came back: " + probes);
        assertTrue(closeMs >= 1000 * 2 - EARLY_MS, "closed " + closeMs + "ms after the accept, before the 2nd probe");
        assertCountedOnce(reaper, Errno.ECONNRESET);
    }

    /**
     * An idle peer that is alive: keepalive's first probe is answered, and then the peer aborts the connection on its
     * own (as clients that drop idle connections with SO_LINGER 0 do). The RST answers no probe: the peer's close,
     * however long it was silent. NIO is not here: without TCP_INFO nothing tells this RST from one that answers a
     * probe.
     */
    @ParameterizedTest
    @EnumSource(value = TcpTransport.class, names = {"EPOLL", "IO_URING"})
    void idlePeerAnswersAProbeThenResets_isThePeersClose_notCounted(TcpTransport k) throws Exception {
        IdleReaper reaper = reaper().tcpKeepAlive(Duration.ofSeconds(1), Duration.ofSeconds(1), 3).build();
        Channel child = acceptFromPeer(k, reaper, "hold");
        // Told apart by the socket's count of unanswered probes, which Netty 4.1's incubator io_uring does not
        // expose (no tcpInfo): there, as on NIO, this RST cannot be told from one that answers a probe.
        Assumptions.assumeTrue(SocketProgress.measures(child.getClass()),
                () -> child.getClass().getName() + " exposes no TCP_INFO");
        // No data for more than keepalive's idle, and an acknowledgement since: the probe's answer.
        await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(20)).until(() -> {
            long rcv = ns.kernelMillis("lastrcv");
            long ack = ns.kernelMillis("lastack");
            return rcv >= 1200 && ack >= 0 && ack < rcv - 100 && ns.keepAliveProbes() == 0;
        });
        long resetAt = System.nanoTime();
        peer.tell("reset");

        long closeMs = closesWithin(child, resetAt, SLACK.plusSeconds(2));
        figure("idle peer answers keepalive's probe, then resets on its own, keepalive 1s/1s/3", k, closeMs,
                reaper);

        assertEquals(Errno.ECONNRESET, Errno.of(seen()), () -> "the application saw " + seen());
        assertNotCounted(reaper);
    }

    /**
     * A download the peer cancels with an RST after a long time of saying nothing: it acknowledged every segment, so
     * keepalive never probed however long it was silent, and the RST is the peer's close.
     */
    @ParameterizedTest
    @EnumSource(value = TcpTransport.class, names = {"NIO", "EPOLL"})
    void downloadResetByThePeerAfterLongSilence_withoutProbes_notCounted(TcpTransport k) throws Exception {
        IdleReaper reaper = reaper().tcpKeepAlive(Duration.ofSeconds(1), Duration.ofSeconds(1), 3).build();
        Channel child = acceptFromPeer(k, reaper, "drain");
        ScheduledFuture<?> download = child.eventLoop().scheduleAtFixedRate(() -> {
            if (child.isActive()) {
                write(child, 16 * 1024);
            }
        }, 0, 50, TimeUnit.MILLISECONDS);
        try {
            // Silent for 1.5 s, past keepalive's idle, and never probed.
            await().during(Duration.ofMillis(1500)).atMost(Duration.ofSeconds(5))
                    .until(() -> ns.keepAliveProbes() <= 0 && child.isActive());
            long resetAt = System.nanoTime();
            peer.tell("reset");

            long closeMs = closesWithin(child, resetAt, SLACK.plusSeconds(2));
            figure("download of 16 KiB per 50ms, peer silent 1.5s, then resets, keepalive 1s/1s/3", k, closeMs,
                    reaper);
        } finally {
            download.cancel(false);
        }

        assertTrue(Errno.of(seen()) == Errno.ECONNRESET || Errno.of(seen()) == Errno.EPIPE,
                () -> "the application saw " + seen());
        assertNotCounted(reaper);
    }
}
