package io.github.idlereaper;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Per-channel calls: safe from any thread at any time, reaching every reaper, following the channel's loop. */
class ChannelControlTest {

    private static final Duration RES = Duration.ofMillis(100);
    private static final long STEP = RES.toNanos() / 2;

    private final FakeTicker ticker = new FakeTicker();
    private final List<EmbeddedChannel> embedded = new ArrayList<>();
    private final List<EventLoopGroup> groups = new ArrayList<>();

    @AfterEach
    void tearDown() {
        for (EmbeddedChannel ch : embedded) {
            ch.finishAndReleaseAll();
        }
        for (EventLoopGroup g : groups) {
            g.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    private IdleReaper reaper(List<ReapEvent> reaps) {
        return IdleReaper.builder().tickResolution(RES).ticker(ticker).readIdleTimeout(Duration.ofSeconds(1))
                .listener((c, e) -> reaps.add(e)).build();
    }

    private EmbeddedChannel embedded(IdleReaper... reapers) {
        EmbeddedChannel ch = new EmbeddedChannel();
        for (int i = 0; i < reapers.length; i++) {
            ch.pipeline().addFirst(IdleReaper.HANDLER_NAME + i, reapers[i].newHandler());
        }
        embedded.add(ch);
        return ch;
    }

    private void advance(EmbeddedChannel ch, Duration d, IdleReaper... reapers) {
        for (long n = d.toNanos() / STEP; n > 0 && ch.isActive(); n--) {
            ticker.advanceNanos(STEP);
            for (IdleReaper r : reapers) {
                r.core().wheelFor(ch.eventLoop()).advance(ticker.read());
            }
            ch.runPendingTasks();
        }
    }

    @Test
    void markBusyAndIdle_onAClosedChannel_doNothing_fromAnyThread() throws Exception {
        List<ReapEvent> reaps = new ArrayList<>();
        EmbeddedChannel ch = embedded(reaper(reaps));
        ReaperHandler h = ch.pipeline().get(ReaperHandler.class);
        ch.close().sync();
        assertDoesNotThrow(() -> IdleReaper.markIdle(ch));
        assertDoesNotThrow(() -> IdleReaper.markBusy(ch));
        h.busy(); // as a host's channelInactive might, before the pipeline is torn down
        assertEquals(0, h.busyCount(), "nothing counted on a closed channel");
        CompletableFuture.runAsync(() -> IdleReaper.markIdle(ch)).get(10, TimeUnit.SECONDS);
        ch.runPendingTasks();
        assertDoesNotThrow(() -> IdleReaper.overrideTimeouts(ch, IdleTimeouts.DISABLED));
        assertDoesNotThrow(() -> IdleReaper.overrideHeartbeat(ch, Heartbeat.DISABLED));
        // The documented recipe (mark idle later, on another thread) once the pipeline is gone entirely.
        EmbeddedChannel bare = new EmbeddedChannel();
        bare.close().sync();
        assertDoesNotThrow(() -> IdleReaper.markIdle(bare));
    }

    @Test
    void markBusy_onAnOpenChannelWithoutAReaper_failsLoudly() {
        EmbeddedChannel ch = new EmbeddedChannel();
        embedded.add(ch);
        IllegalStateException e =
                org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, () -> IdleReaper.markBusy(ch));
        assertEquals("no IdleReaper handler in the pipeline of " + ch, e.getMessage());
    }

    @Test
    void busyToken_closedTwice_marksIdleOnce() {
        List<ReapEvent> reaps = new ArrayList<>();
        IdleReaper r = reaper(reaps);
        EmbeddedChannel ch = embedded(r);
        Busy outer = IdleReaper.busy(ch);
        Busy inner = IdleReaper.busy(ch);
        ReaperHandler h = ch.pipeline().get(ReaperHandler.class);
        assertEquals(2, h.busyCount());
        inner.close();
        inner.close();
        assertEquals(1, h.busyCount(), "the second close did nothing");
        assertTrue(inner.isClosed());
        advance(ch, Duration.ofSeconds(3), r);
        assertTrue(ch.isActive(), "the outer work is still in flight");
        outer.close();
        advance(ch, Duration.ofSeconds(2), r);
        assertFalse(ch.isActive());
    }

    @Test
    void twoReapersOnOneChannel_markBusyReachesBoth() {
        List<ReapEvent> reaps = new ArrayList<>();
        IdleReaper a = reaper(reaps);
        IdleReaper b = reaper(reaps);
        EmbeddedChannel ch = embedded(a, b);
        IdleReaper.markBusy(ch);
        advance(ch, Duration.ofSeconds(3), a, b);
        assertTrue(ch.isActive(), "neither reaper reaps busy work: " + reaps);
        IdleReaper.markIdle(ch);
        advance(ch, Duration.ofSeconds(2), a, b);
        assertFalse(ch.isActive());
        assertEquals(ReapReason.READ_IDLE, reaps.get(0).reason());
    }

    @Test
    void busyCount_atItsMaximum_warnsAndStays() {
        List<ReapEvent> reaps = new ArrayList<>();
        EmbeddedChannel ch = embedded(reaper(reaps));
        ReaperHandler h = ch.pipeline().get(ReaperHandler.class);
        for (int i = 0; i < ReaperHandler.BUSY_MAX; i++) {
            h.busy();
        }
        assertEquals(ReaperHandler.BUSY_MAX, h.busyCount());
        h.busy(); // logged at WARN and ignored: the count does not wrap into the flags
        assertEquals(ReaperHandler.BUSY_MAX, h.busyCount());
        assertTrue((h.state & ReaperHandler.COUNTED) != 0, "the flags are intact");
    }

    @Test
    void overridesRacing_theOneThatBreaksTheRuleOnTheLoop_isRefused() {
        List<ReapEvent> reaps = new ArrayList<>();
        EmbeddedChannel ch = embedded(reaper(reaps));
        ReaperHandler h = ch.pipeline().get(ReaperHandler.class);
        // Each was valid against the snapshot its caller saw; together they break "heartbeat fits inside".
        h.override(IdleTimeouts.builder().readIdle(Duration.ofMillis(600)).build(), null);
        h.override(null, Heartbeat.of(Duration.ofMillis(500), Duration.ofMillis(200), 2,
                ch2 -> io.netty.buffer.Unpooled.EMPTY_BUFFER));
        assertEquals(Duration.ofMillis(600), h.settings().timeouts.readIdle());
        assertFalse(h.settings().heartbeat.pings(), "the heartbeat that does not fit was refused");
    }

    @Test
    void overrideHeartbeat_leavesTheTimeoutsFollowingTheReaper() {
        List<ReapEvent> reaps = new ArrayList<>();
        IdleReaper r = reaper(reaps);
        EmbeddedChannel ch = embedded(r);
        IdleReaper.overrideHeartbeat(ch, Heartbeat.of(Duration.ofMillis(300), Duration.ofMillis(100), 1,
                ch2 -> io.netty.buffer.Unpooled.EMPTY_BUFFER));
        r.updateTimeouts(IdleTimeouts.builder().readIdle(Duration.ofSeconds(5)).build());
        assertEquals(Duration.ofSeconds(5), IdleReaper.channelTimeouts(ch).readIdle());
        assertEquals(Duration.ofMillis(300), IdleReaper.channelHeartbeat(ch).interval());
    }

    /** A loopback server with {@code reaper} installed, one client connected; returns the server's channel. */
    private static Channel acceptOne(EventLoopGroup group, IdleReaper reaper) throws InterruptedException {
        List<Channel> accepted = new CopyOnWriteArrayList<>();
        ServerBootstrap sb = new ServerBootstrap().group(group).channel(Transport.NIO.serverChannel())
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        accepted.add(ch);
                    }
                });
        reaper.install(sb);
        Channel server = sb.bind("127.0.0.1", 0).sync().channel();
        new Bootstrap().group(group).channel(Transport.NIO.channel()).handler(new ChannelInboundHandlerAdapter())
                .connect(server.localAddress()).sync();
        await().atMost(Duration.ofSeconds(10)).until(() -> accepted.size() == 1);
        return accepted.get(0);
    }

    @Test
    void markBusy_beforeTheChannelIsActive_counts() throws Exception {
        EventLoopGroup group = Transport.NIO.group(1);
        groups.add(group);
        IdleReaper r = IdleReaper.builder().readIdleTimeout(Duration.ofMillis(500)).build();
        Channel server = new ServerBootstrap().group(group).channel(Transport.NIO.serverChannel())
                .childHandler(new ChannelInboundHandlerAdapter()).bind("127.0.0.1", 0).sync().channel();
        Bootstrap b = new Bootstrap().group(group).channel(Transport.NIO.channel())
                .handler(new ChannelInboundHandlerAdapter());
        r.install(b);
        Channel client = b.register().sync().channel(); // registered, not yet connected
        IdleReaper.markBusy(client);
        client.connect(server.localAddress()).sync();
        ReaperHandler h = client.pipeline().get(ReaperHandler.class);
        assertEquals(1, (int) client.eventLoop().submit(h::busyCount).get());
        await().during(Duration.ofMillis(1500)).atMost(Duration.ofSeconds(5)).until(client::isActive);
    }

    @Test
    void markBusyAndIdle_offTheLoop_onARealConnection_andAfterItCloses() throws Exception {
        EventLoopGroup group = Transport.NIO.group(1);
        groups.add(group);
        IdleReaper r = IdleReaper.builder().readIdleTimeout(Duration.ofMillis(500)).build();
        Channel ch = acceptOne(group, r);
        IdleReaper.markBusy(ch); // from the test thread
        await().during(Duration.ofMillis(1500)).atMost(Duration.ofSeconds(5)).until(ch::isActive);
        IdleReaper.markIdle(ch);
        await().atMost(Duration.ofSeconds(10)).until(() -> !ch.isActive());
        await().atMost(Duration.ofSeconds(10)).until(() -> ch.pipeline().context(ReaperHandler.class) == null);
        assertDoesNotThrow(() -> IdleReaper.markIdle(ch));
        assertDoesNotThrow(() -> IdleReaper.markBusy(ch));
    }

    @Test
    void channelMovedToAnotherLoop_leavesTheOldWheelAndIsReapedFromTheNew() throws Exception {
        EventLoopGroup group = Transport.NIO.group(2);
        groups.add(group);
        List<ReapEvent> reaps = new CopyOnWriteArrayList<>();
        IdleReaper r = IdleReaper.builder().readIdleTimeout(Duration.ofMillis(800)).listener((c, e) -> reaps.add(e))
                .build();
        Channel ch = acceptOne(group, r);
        EventLoop first = ch.eventLoop();
        EventLoop other = group.next() == first ? group.next() : group.next();
        while (other == first) {
            other = group.next();
        }
        IdleReaper.markBusy(ch); // keep it while it moves
        ch.deregister().sync();
        IdleReaper.markBusy(ch); // while registered nowhere: waits for the next loop
        IdleReaper.markIdle(ch);
        LoopWheel oldWheel = r.core().wheelFor(first);
        await().atMost(Duration.ofSeconds(5)).until(() -> first.submit(oldWheel::size).get() == 0);
        other.register(ch).sync();
        EventLoop target = other;
        assertEquals(1, (int) target.submit(() -> r.core().wheelFor(target).size()).get());
        IdleReaper.markIdle(ch); // hops onto the new loop
        await().atMost(Duration.ofSeconds(10)).until(() -> !ch.isActive());
        assertEquals(ReapReason.READ_IDLE, reaps.get(0).reason());
        assertEquals(0, r.stats().open());
    }
}
