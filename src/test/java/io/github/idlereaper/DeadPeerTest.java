package io.github.idlereaper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import java.io.IOException;
import java.net.ConnectException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Layer 2: how the handler classifies the kernel giving up on a peer (ETIMEDOUT) as {@link ReapReason#DEAD_PEER},
 * on an EmbeddedChannel with time pushed in by hand. The real kernel paths are in {@link NetnsDeadPeerTest}.
 */
class DeadPeerTest {

    private static final Duration RES = Duration.ofMillis(100);

    private final FakeTicker ticker = new FakeTicker();
    private final List<ReapEvent> listened = new ArrayList<>();
    private final List<String> seen = new ArrayList<>();
    private EmbeddedChannel ch;
    private IdleReaper reaper;
    private LoopWheel wheel;
    /** When set, the host fires this exception once more from the head, as a second failure would. */
    private boolean refire;

    private final class Host extends ChannelInboundHandlerAdapter {
        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof ReapEvent) {
                seen.add("event " + ((ReapEvent) evt).message());
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            seen.add("exception " + cause.getMessage() + " active=" + ctx.channel().isActive());
            if (refire) {
                refire = false;
                ctx.pipeline().fireExceptionCaught(cause);
            }
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ((ByteBuf) msg).release();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            seen.add("inactive");
        }
    }

    private void start(IdleReaper.Builder b) {
        reaper = b.tickResolution(RES).ticker(ticker).listener((c, e) -> listened.add(e)).build();
        ch = new EmbeddedChannel();
        ch.pipeline().addLast(new Host());
        ch.pipeline().addFirst(IdleReaper.HANDLER_NAME, reaper.newHandler());
        wheel = reaper.core().wheelFor(ch.eventLoop());
    }

    @AfterEach
    void finish() {
        if (ch != null) {
            ch.finishAndReleaseAll();
        }
    }

    private void advance(Duration d) {
        for (long n = d.toNanos() / RES.dividedBy(2).toNanos(); n > 0; n--) {
            ticker.advance(RES.dividedBy(2));
            wheel.advance(ticker.read());
            ch.runPendingTasks();
        }
    }

    @Test
    void connectionTimedOut_isADeadPeer_countedToldAndClosed() {
        start(IdleReaper.builder().tcpKeepAlive(Duration.ofSeconds(1), Duration.ofSeconds(1), 2));
        ch.writeInbound(Unpooled.wrappedBuffer(new byte[] {1}));
        advance(Duration.ofSeconds(4));
        ch.pipeline().fireExceptionCaught(new IOException("Connection timed out"));

        assertFalse(ch.isOpen());
        assertEquals(1, reaper.stats().reaped(ReapReason.DEAD_PEER));
        assertEquals(1, reaper.stats().reapedTotal());
        assertEquals(1, listened.size());
        ReapEvent e = listened.get(0);
        assertEquals(ReapReason.DEAD_PEER, e.reason());
        assertEquals(Duration.ofSeconds(3), e.limit());
        // Silent for 4 s, measured from the wheel stamp of the last read: at most one tick less.
        long quietMs = e.idleFor().toMillis();
        assertTrue(quietMs >= 4_000 - RES.toMillis() && quietMs <= 4_000, "idleFor " + e.idleFor());
        assertEquals(List.of("event " + e.message(), "exception Connection timed out active=true", "inactive"),
                seen);
        assertTrue(e.message().startsWith("dead peer (ETIMEDOUT) after "), e.message());
        assertTrue(e.message().endsWith("ms quiet (kernel bound 3000ms)"), e.message());
        assertEquals("Connection timed out", e.cause().getMessage());
    }

    @Test
    void nativeTransportMessage_isADeadPeer() {
        start(IdleReaper.builder().tcpUserTimeout(Duration.ofSeconds(2)));
        // The message epoll and io_uring give for ETIMEDOUT on a read.
        ch.pipeline().fireExceptionCaught(
                new IOException("recvAddress(..) failed with error(-110): Connection timed out"));
        assertEquals(1, reaper.stats().reaped(ReapReason.DEAD_PEER));
        assertEquals(Duration.ofSeconds(2), listened.get(0).limit());
        assertFalse(ch.isOpen());
    }

    @Test
    void secondFailureBeforeTheClose_isCountedOnce() {
        start(IdleReaper.builder());
        refire = true;
        ch.pipeline().fireExceptionCaught(new IOException("Connection timed out"));
        assertEquals(1, reaper.stats().reaped(ReapReason.DEAD_PEER));
        assertEquals(1, listened.size());
        // No kernel option set by the reaper: the limit says so with zero.
        assertEquals(Duration.ZERO, listened.get(0).limit());
        assertEquals(2, seen.stream().filter(s -> s.startsWith("exception")).count());
    }

    @Test
    void otherFailures_passThroughUncounted() {
        start(IdleReaper.builder().tcpKeepAlive(Duration.ofSeconds(1), Duration.ofSeconds(1), 2));
        ch.pipeline().fireExceptionCaught(new IOException("Connection reset by peer"));
        ch.pipeline().fireExceptionCaught(new ConnectException("Connection timed out"));
        ch.pipeline().fireExceptionCaught(new IllegalStateException("Connection timed out"));
        ch.pipeline().fireExceptionCaught(new DecoderException("bad frame"));
        assertEquals(0, reaper.stats().reapedTotal());
        assertTrue(listened.isEmpty());
        assertTrue(ch.isOpen());
        assertEquals(4, seen.size(), seen.toString());
    }

    @Test
    void wrappedTimeout_isFoundInTheCauseChain() {
        assertEquals(DeadPeerCause.TIMED_OUT,
                DeadPeerCause.of(new DecoderException(new IOException("Operation timed out"))));
        assertEquals(DeadPeerCause.NONE, DeadPeerCause.of(new IOException((String) null)));
        assertEquals(DeadPeerCause.NONE, DeadPeerCause.of(null));
    }

    @Test
    void verdicts_byTheErrnoANativeTransportKeeps_andByTheCLibraryText() {
        int[] linux = DeadPeerCause.errnos("Linux");
        assertEquals(DeadPeerCause.TIMED_OUT, DeadPeerCause.of(new ErrnoIoException(linux[0])));
        assertEquals(DeadPeerCause.HOST_UNREACHABLE, DeadPeerCause.of(new ErrnoIoException(linux[1])));
        assertEquals(DeadPeerCause.NET_UNREACHABLE, DeadPeerCause.of(new ErrnoIoException(linux[2])));
        assertEquals(DeadPeerCause.RESET, DeadPeerCause.of(new ErrnoIoException(linux[3])));
        assertEquals(DeadPeerCause.NONE, DeadPeerCause.of(new ErrnoIoException(32))); // EPIPE: the peer's close
        assertEquals(List.of(110, 113, 101, 104), java.util.Arrays.stream(linux).boxed().toList());
        assertEquals(List.of(60, 65, 51, 54),
                java.util.Arrays.stream(DeadPeerCause.errnos("Mac OS X")).boxed().toList());
        assertEquals(DeadPeerCause.TIMED_OUT, DeadPeerCause.byText("read(..) failed: Connection timed out"));
        assertEquals(DeadPeerCause.HOST_UNREACHABLE, DeadPeerCause.byText("No route to host"));
        assertEquals(DeadPeerCause.NET_UNREACHABLE, DeadPeerCause.byText("writev(..) failed: Network is unreachable"));
        assertEquals(DeadPeerCause.RESET, DeadPeerCause.byText("Connection reset by peer"));
        assertEquals(DeadPeerCause.NONE, DeadPeerCause.byText("Broken pipe"));
    }

    @Test
    void hostAndNetworkUnreachable_areDeadPeers() {
        for (IOException e : List.of(new IOException("No route to host"), new ErrnoIoException(113),
                new IOException("Network is unreachable"), new ErrnoIoException(101))) {
            listened.clear();
            start(IdleReaper.builder().tcpKeepAlive(Duration.ofSeconds(1), Duration.ofSeconds(1), 2));
            ch.pipeline().fireExceptionCaught(e);
            assertEquals(1, reaper.stats().reaped(ReapReason.DEAD_PEER), e.toString());
            assertEquals(e, listened.get(0).cause());
            assertFalse(ch.isOpen());
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void reset_afterKeepAliveProbes_isADeadPeer_otherwiseThePeersClose() {
        // Keepalive 1 s: quiet for 2 s, the RST answered a probe (a host that rebooted).
        start(IdleReaper.builder().tcpKeepAlive(Duration.ofSeconds(1), Duration.ofSeconds(1), 3));
        advance(Duration.ofSeconds(2));
        ch.pipeline().fireExceptionCaught(new IOException("Connection reset by peer"));
        assertEquals(1, reaper.stats().reaped(ReapReason.DEAD_PEER));
        assertTrue(listened.get(0).message().startsWith("dead peer (ECONNRESET) after 19"), listened.get(0).message());
        ch.finishAndReleaseAll();

        // Quiet for 2 s, but the server wrote 500 ms ago: keepalive does not probe while data flows (the peer's
        // acknowledgements restart its clock), so the RST is the peer's own close (a cancelled download). Where
        // the socket can say (epoll, io_uring), its count of unanswered probes decides instead.
        listened.clear();
        start(IdleReaper.builder().tcpKeepAlive(Duration.ofSeconds(1), Duration.ofSeconds(1), 3));
        advance(Duration.ofMillis(1500));
        ch.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {1}));
        advance(Duration.ofMillis(500));
        ch.pipeline().fireExceptionCaught(new IOException("Connection reset by peer"));
        assertEquals(0, reaper.stats().reapedTotal());
        ch.finishAndReleaseAll();

        // Quiet for less than the keepalive idle time: no probe was sent; the RST is the peer's close.
        listened.clear();
        start(IdleReaper.builder().tcpKeepAlive(Duration.ofSeconds(3), Duration.ofSeconds(1), 3));
        advance(Duration.ofSeconds(2));
        ch.pipeline().fireExceptionCaught(new ErrnoIoException(104));
        assertEquals(0, reaper.stats().reapedTotal());
        ch.finishAndReleaseAll();

        // No keepalive from the reaper: a RST is always the peer's close.
        start(IdleReaper.builder().tcpUserTimeout(Duration.ofSeconds(1)));
        advance(Duration.ofSeconds(5));
        ch.pipeline().fireExceptionCaught(new IOException("Connection reset by peer"));
        assertEquals(0, reaper.stats().reapedTotal());
        assertTrue(listened.isEmpty());
    }

    @Test
    void reset_afterTheHeartbeatsPings_isThePeersClose_onATransportThatCannotCountProbes() {
        // Keepalive 1 s, quiet for 1.5 s, but the heartbeat pinged within the last second: the peer's kernel
        // acknowledged the pings, which restarts keepalive's clock, so no probe can have been out.
        start(IdleReaper.builder().tcpKeepAlive(Duration.ofSeconds(1), Duration.ofSeconds(1), 3)
                .heartbeat(Duration.ofMillis(500), Duration.ofMillis(450), 4,
                        (HeartbeatProtocol) c -> Unpooled.wrappedBuffer(new byte[] {9})));
        advance(Duration.ofMillis(1500));
        assertTrue(HeartbeatLogic.pingsOutstanding(ch.pipeline().get(ReaperHandler.class)) > 0, "probing");
        ch.pipeline().fireExceptionCaught(new IOException("Connection reset by peer"));
        assertEquals(0, reaper.stats().reapedTotal());
        for (Object m; (m = ch.readOutbound()) != null; ) {
            io.netty.util.ReferenceCountUtil.release(m);
        }
    }

    @Test
    void writeThatFailsWithTheVerdict_isCountedOnceAtTheClose() {
        reaper = IdleReaper.builder().tcpUserTimeout(Duration.ofSeconds(2)).tickResolution(RES).ticker(ticker)
                .listener((c, e) -> listened.add(e)).build();
        IOException failure = new IOException("writev(..) failed: Connection timed out");
        ch = new EmbeddedChannel() {
            @Override
            protected void doWrite(io.netty.channel.ChannelOutboundBuffer in) throws Exception {
                throw failure;
            }
        };
        ch.pipeline().addLast(new Host());
        ch.pipeline().addFirst(IdleReaper.HANDLER_NAME, reaper.newHandler());
        wheel = reaper.core().wheelFor(ch.eventLoop());
        io.netty.channel.ChannelFuture write = ch.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {1}));
        ch.runPendingTasks();
        assertEquals(failure, write.cause());
        assertFalse(ch.isOpen());
        assertEquals(1, reaper.stats().reaped(ReapReason.DEAD_PEER));
        assertEquals(1, listened.size());
        assertEquals(failure, listened.get(0).cause());
        // No exceptionCaught for a write's failure: the event, then the close.
        assertEquals(List.of("event " + listened.get(0).message(), "inactive"), seen);
    }

    @Test
    void writeThatFailsOtherwise_orAPlainClose_isNotCounted() {
        reaper = IdleReaper.builder().tcpUserTimeout(Duration.ofSeconds(2)).tickResolution(RES).ticker(ticker)
                .listener((c, e) -> listened.add(e)).build();
        ch = new EmbeddedChannel() {
            @Override
            protected void doWrite(io.netty.channel.ChannelOutboundBuffer in) throws Exception {
                throw new IOException("writev(..) failed: Broken pipe");
            }
        };
        ch.pipeline().addFirst(IdleReaper.HANDLER_NAME, reaper.newHandler());
        ch.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {1}));
        ch.runPendingTasks();
        assertFalse(ch.isOpen());
        assertEquals(0, reaper.stats().reapedTotal());
        ch.finishAndReleaseAll();
        start(IdleReaper.builder().tcpUserTimeout(Duration.ofSeconds(2)));
        ch.close();
        assertEquals(0, reaper.stats().reapedTotal());
        assertTrue(listened.isEmpty());
    }

    @Test
    void timeoutWhileTheReaperReaps_isNotCountedAgain() {
        // The kernel's error arrives while the reaper is closing the channel for its own reason.
        reaper = IdleReaper.builder().readIdleTimeout(Duration.ofSeconds(1)).tickResolution(RES).ticker(ticker)
                .listener((c, e) -> {
                    listened.add(e);
                    c.pipeline().fireExceptionCaught(new IOException("Connection timed out"));
                }).build();
        ch = new EmbeddedChannel();
        ch.pipeline().addLast(new Host());
        ch.pipeline().addFirst(IdleReaper.HANDLER_NAME, reaper.newHandler());
        wheel = reaper.core().wheelFor(ch.eventLoop());
        advance(Duration.ofSeconds(2));
        assertEquals(1, reaper.stats().reaped(ReapReason.READ_IDLE));
        assertEquals(0, reaper.stats().reaped(ReapReason.DEAD_PEER));
        assertEquals(1, listened.size());
        assertTrue(seen.contains("exception Connection timed out active=true"), seen.toString());
    }
}
