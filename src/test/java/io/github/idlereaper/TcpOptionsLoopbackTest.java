package io.github.idlereaper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Layer 4: the reaper's TCP options on real loopback sockets, server side (accepted channels) and client side
 * (connected channels), on every transport that loads here. Each value is checked twice: through the reaper's own
 * read-back, and independently through the transport's own option constants.
 */
class TcpOptionsLoopbackTest {

    /** The transport's own reading of an option, bypassing the reaper; null where it has no such option. */
    private static Object own(TcpTransport k, Channel ch, String option) {
        ChannelOption<Integer> o = k.own(option);
        return o == null ? null : ch.config().getOption(o);
    }

    private final List<EventLoopGroup> groups = new ArrayList<>();
    private final List<Channel> channels = new ArrayList<>();
    private final BlockingQueue<Channel> accepted = new LinkedBlockingQueue<>();

    /** A client handler that does nothing, shared by the clients of one bootstrap. */
    @ChannelHandler.Sharable
    private static final class Quiet extends ChannelInboundHandlerAdapter {
    }

    /** The host's child handler: hands each accepted channel to the test. */
    @ChannelHandler.Sharable
    private final class Accepted extends ChannelInboundHandlerAdapter {
        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            accepted.add(ctx.channel());
            ctx.fireChannelActive();
        }
    }

    @AfterEach
    void tearDown() {
        // Channels first, then their loops: the 4.1 incubator's io_uring loop never finishes shutting down while a
        // channel of it still has an operation in flight.
        for (Channel ch : channels) {
            ch.close().awaitUninterruptibly(10, TimeUnit.SECONDS);
        }
        for (EventLoopGroup g : groups) {
            assertTrue(g.shutdownGracefully(0, 0, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS),
                    "event loop group shut down: " + g);
        }
        // JUnit may keep a parameterized test's instance after it ran: hold no loop or channel past the test.
        groups.clear();
        channels.clear();
        accepted.clear();
    }

    private EventLoopGroup group(TcpTransport k) {
        EventLoopGroup g = k.group(1);
        groups.add(g);
        return g;
    }

    /** A server with {@code serverReaper} installed, and a connected client with {@code clientReaper}. */
    private Channel[] connect(TcpTransport k, IdleReaper serverReaper, IdleReaper clientReaper) throws Exception {
        k.assumeAvailable();
        ServerBootstrap sb = new ServerBootstrap().group(group(k), group(k)).channel(k.serverChannel())
                .childHandler(new Accepted());
        serverReaper.install(sb);
        Channel server = sb.bind("127.0.0.1", 0).syncUninterruptibly().channel();
        Bootstrap cb = new Bootstrap().group(group(k)).channel(k.channel())
                .handler(new ChannelInboundHandlerAdapter());
        if (clientReaper != null) {
            clientReaper.install(cb);
        }
        Channel client = cb.connect((InetSocketAddress) server.localAddress()).syncUninterruptibly().channel();
        Channel child = accepted.poll(10, TimeUnit.SECONDS);
        assertTrue(child != null, "the server accepted the connection");
        channels.addAll(List.of(child, client, server));
        return new Channel[] {child, client};
    }

    private static TcpSettings expected(TcpTransport k, boolean keepAlive, int idle, int interval, int count,
            int userTimeoutMs) {
        // NIO cannot read TCP_USER_TIMEOUT (the JDK has none); kqueue on macOS and FreeBSD has none either.
        boolean hasUserTimeout = k == TcpTransport.EPOLL || k == TcpTransport.IO_URING;
        return new TcpSettings(k.name, keepAlive, Duration.ofSeconds(idle), Duration.ofSeconds(interval), count,
                hasUserTimeout ? Duration.ofMillis(userTimeoutMs) : null);
    }

    @ParameterizedTest
    @EnumSource(TcpTransport.class)
    void options_areAppliedToAcceptedAndConnectedChannels_andReadBack(TcpTransport k) throws Exception {
        IdleReaper reaper = IdleReaper.builder().tcpKeepAlive(Duration.ofSeconds(7), Duration.ofSeconds(3), 4)
                .tcpUserTimeout(Duration.ofMillis(2500)).build();
        Channel[] chans = connect(k, reaper, reaper);
        TcpSettings want = expected(k, true, 7, 3, 4, 2500);
        for (Channel ch : chans) {
            String side = ch == chans[0] ? "accepted" : "connected";
            assertEquals(want, IdleReaper.tcpSettings(ch), side);
            assertEquals(Boolean.TRUE, ch.config().getOption(ChannelOption.SO_KEEPALIVE), side);
            if (k != TcpTransport.KQUEUE) {
                assertEquals(7, own(k, ch, TcpOptionLookup.TCP_KEEPIDLE), side);
                assertEquals(3, own(k, ch, TcpOptionLookup.TCP_KEEPINTVL), side);
                assertEquals(4, own(k, ch, TcpOptionLookup.TCP_KEEPCNT), side);
            }
            if (k == TcpTransport.EPOLL || k == TcpTransport.IO_URING) {
                assertEquals(2500, own(k, ch, TcpOptionLookup.TCP_USER_TIMEOUT), side);
            }
        }
        ReaperStats stats = reaper.stats();
        assertEquals(Map.of(k.name, want), stats.tcpSettings());
        // Where TCP_USER_TIMEOUT is not in effect, both channels count as a mismatch.
        assertEquals(k == TcpTransport.EPOLL || k == TcpTransport.IO_URING ? 0 : 2, stats.tcpMismatches());
        if (k == TcpTransport.NIO) {
            assertEquals("nio ignored TCP_USER_TIMEOUT: asked 2500ms, in effect unknown (the host's "
                    + "net.ipv4.tcp_retries2 applies); the JDK has no TCP_USER_TIMEOUT; use the epoll or io_uring "
                    + "transport", TcpOptionApplier.warned().get("nio/TCP_USER_TIMEOUT"));
        }
    }

    @ParameterizedTest
    @EnumSource(value = TcpTransport.class, names = {"NIO", "EPOLL"})
    void noOptions_leaveTheSocketsAsTheyWere(TcpTransport k) throws Exception {
        IdleReaper reaper = IdleReaper.builder().build();
        Channel[] chans = connect(k, reaper, null);
        TcpSettings s = IdleReaper.tcpSettings(chans[0]);
        assertEquals(false, s.keepAlive());
        assertEquals(k.name, s.transport());
        // The host's defaults show through: tcp_keepalive_time, and no user timeout (0) where it can be read.
        String hostIdle = procFile("/proc/sys/net/ipv4/tcp_keepalive_time");
        if (hostIdle != null) {
            assertEquals(Optional.of(Duration.ofSeconds(Long.parseLong(hostIdle))), s.keepAliveIdle());
        }
        assertEquals(k == TcpTransport.EPOLL ? Optional.of(Duration.ZERO) : Optional.empty(), s.userTimeout());
        assertEquals(Map.of(), reaper.stats().tcpSettings());
        assertEquals(0, reaper.stats().tcpMismatches());
    }

    @ParameterizedTest
    @EnumSource(value = TcpTransport.class, names = {"NIO", "EPOLL"})
    void userTimeoutZero_setsNothing_andWarnsNothing(TcpTransport k) throws Exception {
        TcpOptionApplier.forgetWarnings();
        IdleReaper reaper = IdleReaper.builder().tcpUserTimeout(Duration.ZERO).build();
        Channel[] chans = connect(k, reaper, reaper);
        // The kernel's default is in effect: no user timeout (0) where the transport can read it.
        assertEquals(k == TcpTransport.EPOLL ? Optional.of(Duration.ZERO) : Optional.empty(),
                IdleReaper.tcpSettings(chans[0]).userTimeout());
        assertEquals(Map.of(), reaper.stats().tcpSettings());
        assertEquals(0, reaper.stats().tcpMismatches());
        assertEquals(Map.of(), TcpOptionApplier.warned());
    }

    /** A /proc/sys value, or null where there is none; in one large read, which /proc/sys integer files need. */
    private static String procFile(String path) {
        try (InputStream in = Files.newInputStream(Path.of(path))) {
            return new String(in.readNBytes(64), StandardCharsets.US_ASCII).trim();
        } catch (IOException e) {
            return null;
        }
    }

    @Test
    void ignoredOption_warnsOncePerTransportAndOption() throws Exception {
        TcpOptionApplier.forgetWarnings();
        PrintStream err = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        IdleReaper reaper = IdleReaper.builder().tcpUserTimeout(Duration.ofSeconds(5)).build();
        Channel[] first;
        try {
            System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
            first = connect(TcpTransport.NIO, reaper, reaper);
            Bootstrap more = new Bootstrap().group(groups.get(2)).channel(NioSocketChannel.class)
                    .handler(new Quiet());
            for (int i = 0; i < 3; i++) {
                more.connect(first[1].remoteAddress()).syncUninterruptibly();
                assertTrue(accepted.poll(10, TimeUnit.SECONDS) != null);
            }
        } finally {
            System.setErr(err);
        }
        String log = captured.toString(StandardCharsets.UTF_8);
        String message = "nio ignored TCP_USER_TIMEOUT: asked 5000ms, in effect unknown (the host's "
                + "net.ipv4.tcp_retries2 applies); the JDK has no TCP_USER_TIMEOUT; use the epoll or io_uring "
                + "transport";
        assertEquals(1, log.split("WARN io.github.idlereaper.IdleReaper - " + message.replace("(", "\\(")
                .replace(")", "\\)"), -1).length - 1, log);
        assertEquals(Map.of("nio/TCP_USER_TIMEOUT", message), TcpOptionApplier.warned());
        // Five channels (two from the first connection, three more accepted); each missed the option.
        assertEquals(5, reaper.stats().tcpMismatches());
    }

    /**
     * The raw path that kqueue relies on (IntegerUnixChannelOption with the platform's option numbers), proven on
     * epoll, where the same Linux numbers can be checked against epoll's named options.
     */
    @Test
    void rawOptions_setTheSameSocketOptionsAsNamedOnes() throws Exception {
        Channel[] chans = connect(TcpTransport.EPOLL, IdleReaper.builder().build(), null);
        Channel ch = chans[0];
        KernelOptions opts = KernelOptions.NONE.withKeepAlive(Duration.ofSeconds(11), Duration.ofSeconds(5), 3)
                .withUserTimeout(Duration.ofMillis(4321));
        TcpOptionLookup.Found raw = TcpOptionLookup.raw(ch);
        assertTrue(raw.idle.name().startsWith("idleReaper.raw."), raw.idle.name());
        TcpOptionApplier layer = new TcpOptionApplier(opts);
        ch.eventLoop().submit(() -> layer.apply(ch, raw)).syncUninterruptibly();
        assertEquals(11, ch.config().getOption(EpollChannelOption.TCP_KEEPIDLE));
        assertEquals(5, ch.config().getOption(EpollChannelOption.TCP_KEEPINTVL));
        assertEquals(3, ch.config().getOption(EpollChannelOption.TCP_KEEPCNT));
        assertEquals(4321, ch.config().getOption(EpollChannelOption.TCP_USER_TIMEOUT));
        assertEquals(0, layer.mismatches());
        assertEquals(expected(TcpTransport.EPOLL, true, 11, 5, 3, 4321), TcpOptionApplier.read(ch, raw, "epoll"));
    }

    @Test
    void tcpSettings_refusesNonTcpAndClosedChannels() throws Exception {
        EmbeddedChannel embedded = new EmbeddedChannel();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> IdleReaper.tcpSettings(embedded));
        assertEquals("not a TCP socket channel: " + embedded, e.getMessage());
        embedded.finishAndReleaseAll();

        Channel[] chans = connect(TcpTransport.NIO, IdleReaper.builder().build(), null);
        chans[1].close().syncUninterruptibly();
        IllegalStateException closed = assertThrows(IllegalStateException.class,
                () -> IdleReaper.tcpSettings(chans[1]));
        assertEquals("channel is closed: " + chans[1], closed.getMessage());
    }

    @Test
    void tcpSettings_printsWhatIsUnknown() {
        TcpSettings s = new TcpSettings("nio", true, Duration.ofSeconds(60), Duration.ofSeconds(10), 6, null);
        assertEquals("nio: SO_KEEPALIVE on, TCP_KEEPIDLE 60s, TCP_KEEPINTVL 10s, TCP_KEEPCNT 6, "
                + "TCP_USER_TIMEOUT unknown", s.toString());
        assertEquals(OptionalInt.of(6), s.keepAliveCount());
        assertEquals(OptionalInt.empty(),
                new TcpSettings("x", false, null, null, -1, Duration.ZERO).keepAliveCount());
    }
}
