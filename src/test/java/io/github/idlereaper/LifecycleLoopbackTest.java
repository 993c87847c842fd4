package io.github.idlereaper;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The lifecycle layer on real loopback sockets (NIO and epoll): a half-closed client gets its whole answer and is
 * closed at the half-close timeout after it; a dry run closes nothing and reports once; a channel that does not
 * allow half-closure gets one WARN. Timing checks are one-sided (never early) and loose on the late side.
 */
class LifecycleLoopbackTest {

    private static final Duration RES = Duration.ofMillis(100);
    private static final long SLACK_MS = 1_500;

    private EventLoopGroup boss;
    private EventLoopGroup workers;
    private final List<ReapEvent> listened = new CopyOnWriteArrayList<>();
    private final List<Channel> accepted = new CopyOnWriteArrayList<>();

    @AfterEach
    void tearDown() {
        for (EventLoopGroup g : new EventLoopGroup[] {workers, boss}) {
            if (g != null) {
                g.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
            }
        }
    }

    /** Answers "req" with "answer\n" 300 ms later, as a server still working after the client's FIN. */
    private final class SlowAnswer extends ChannelInboundHandlerAdapter {
        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            accepted.add(ctx.channel());
            ctx.fireChannelActive();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ((ByteBuf) msg).release();
            ctx.executor().schedule(() -> ctx.writeAndFlush(Unpooled.copiedBuffer("answer\n",
                    StandardCharsets.US_ASCII)), 300, TimeUnit.MILLISECONDS);
        }
    }

    private InetSocketAddress start(Transport t, IdleReaper reaper, boolean halfClosure) {
        boss = t.group(1);
        workers = t.group(1);
        ServerBootstrap b = new ServerBootstrap().group(boss, workers).channel(t.serverChannel())
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, halfClosure)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new SlowAnswer());
                    }
                });
        reaper.install(b);
        return (InetSocketAddress) b.bind("127.0.0.1", 0).syncUninterruptibly().channel().localAddress();
    }

    private IdleReaper.Builder reaper() {
        return IdleReaper.builder().tickResolution(RES).listener((ch, e) -> listened.add(e));
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void halfClosedClient_getsItsWholeAnswer_andIsClosedAtTheTimeoutAfterIt(Transport t) throws Exception {
        InetSocketAddress at = start(t, reaper().halfCloseTimeout(Duration.ofSeconds(1)).build(), true);
        try (Socket s = new Socket(at.getAddress(), at.getPort())) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write("req".getBytes(StandardCharsets.US_ASCII));
            s.shutdownOutput();
            InputStream in = s.getInputStream();
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            long answerAt = 0;
            int b;
            while ((b = in.read()) >= 0) {
                got.write(b);
                if (b == '\n') {
                    answerAt = System.nanoTime();
                }
            }
            long eofAfterMs = (System.nanoTime() - answerAt) / 1_000_000;
            assertEquals("answer\n", got.toString(StandardCharsets.US_ASCII), "the whole answer");
            assertTrue(eofAfterMs >= 1_000 - 50 && eofAfterMs <= 1_000 + RES.toMillis() + SLACK_MS,
                    "closed " + eofAfterMs + " ms after the answer (timeout 1000 ms)");
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> listened.size() == 1);
        assertEquals(ReapReason.HALF_CLOSED, listened.get(0).reason());
        assertTrue(listened.get(0).idleFor().compareTo(Duration.ofSeconds(1)) >= 0, listened.toString());
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void dryRun_anIdleClientStaysOpen_andIsReportedOnce(Transport t) throws Exception {
        IdleReaper reaper = reaper().readIdleTimeout(Duration.ofMillis(500)).dryRun(true).build();
        InetSocketAddress at = start(t, reaper, false);
        try (Socket s = new Socket(at.getAddress(), at.getPort())) {
            await().atMost(Duration.ofSeconds(5)).until(() -> listened.size() == 1);
            // Three more timeouts' worth: still one report, and the connection is open.
            long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1_500);
            await().atMost(Duration.ofSeconds(5)).until(() -> System.nanoTime() - until >= 0);
            assertEquals(1, listened.size(), listened.toString());
            assertTrue(listened.get(0).dryRun());
            assertEquals(ReapReason.READ_IDLE, listened.get(0).reason());
            assertTrue(accepted.get(0).isActive(), "open");
            assertEquals(1, reaper.stats().wouldReap(ReapReason.READ_IDLE));
            assertEquals(0, reaper.stats().reapedTotal());
        }
    }

    @Test
    void halfCloseTimeout_onAChannelWithoutHalfClosure_warnsOnce() throws Exception {
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        PrintStream err = System.err;
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            InetSocketAddress at = start(Transport.NIO, reaper().halfCloseTimeout(Duration.ofSeconds(1)).build(),
                    false);
            try (Socket a = new Socket(at.getAddress(), at.getPort());
                    Socket b = new Socket(at.getAddress(), at.getPort())) {
                await().atMost(Duration.ofSeconds(5)).until(() -> accepted.size() == 2);
            }
        } finally {
            System.setErr(err);
        }
        String log = captured.toString(StandardCharsets.UTF_8);
        String warn = "halfCloseTimeout is set, but the channel does not allow half-closure "
                + "(ChannelOption.ALLOW_HALF_CLOSURE is false): Netty closes it itself at the peer's FIN";
        assertEquals(1, log.split(Pattern.quote(warn), -1).length - 1, log);
        assertTrue(log.contains("WARN io.github.idlereaper.IdleReaper"), log);
    }
}
