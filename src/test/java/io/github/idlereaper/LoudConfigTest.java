package io.github.idlereaper;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.idlereaper.protocol.LineHeartbeat;
import io.github.idlereaper.protocol.MqttHeartbeat;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MessageSizeEstimator;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Loud, never silent: each misconfiguration that once passed in silence now fails at build() or warns once. */
class LoudConfigTest {

    private static final Duration RES = Duration.ofMillis(100);
    private static final long STEP = RES.toNanos() / 2;

    private static void fails(Class<? extends Throwable> type, String message, Executable call) {
        Throwable t = assertThrows(type, call);
        assertEquals(message, t.getMessage());
    }

    private static final HeartbeatProtocol PING = ch -> Unpooled.copiedBuffer("PING\n", StandardCharsets.US_ASCII);

    @Test
    void heartbeatWithoutPings_refusesATimeoutOrMissesItWouldIgnore() {
        fails(IllegalArgumentException.class,
                "heartbeat timeout must be zero when heartbeat interval is zero (no pings): PT5S",
                () -> IdleReaper.builder().heartbeat(Duration.ZERO, Duration.ofSeconds(5), 1, PING).build());
        fails(IllegalArgumentException.class,
                "heartbeat maxMissed must be 1 when heartbeat interval is zero (no pings): 3",
                () -> IdleReaper.builder().heartbeat(Duration.ZERO, Duration.ZERO, 3, PING).build());
    }

    @Test
    void permitPeerPings_withAProtocolThatCannotRecogniseThem_failsAtBuild() {
        fails(IllegalStateException.class,
                "permitPeerPings needs a heartbeat protocol that recognises the peer's pings, and MqttHeartbeat "
                        + "recognises none",
                () -> IdleReaper.builder().heartbeat(Duration.ZERO, Duration.ZERO, 1, MqttHeartbeat.INSTANCE)
                        .permitPeerPings(Duration.ofSeconds(10)).build());
        LineHeartbeat noWatch = LineHeartbeat.of("PING\n", StandardCharsets.US_ASCII).recognizing("PING");
        fails(IllegalStateException.class,
                "permitPeerPings needs a heartbeat protocol that recognises the peer's pings, and " + noWatch
                        + " recognises none",
                () -> IdleReaper.builder().heartbeat(Duration.ofSeconds(5), Duration.ofSeconds(1), 1, noWatch)
                        .permitPeerPings(Duration.ofSeconds(10)).build());
    }

    @Test
    void permitPeerPings_belowOneMillisecond_isRejected_asDocumented() {
        fails(IllegalArgumentException.class, "permitPeerPings must be between PT0.001S and PT720H: PT0.0005S",
                () -> IdleReaper.builder().permitPeerPings(Duration.ofNanos(500_000)));
    }

    @Test
    void aProtocolWhoseCodecIsMissing_failsAtBuild_namingTheArtifact() {
        HeartbeatProtocol needsCodec = new HeartbeatProtocol() {
            @Override
            public Object ping(Channel channel) {
                return null;
            }

            @Override
            public void checkAvailable() {
                throw new IllegalStateException("needs io.example:codec on the class path");
            }
        };
        fails(IllegalStateException.class, "needs io.example:codec on the class path",
                () -> IdleReaper.builder().heartbeat(Duration.ofSeconds(5), Duration.ofSeconds(1), 1, needsCodec)
                        .build());
    }

    @Test
    void heartbeatIsActivity_setTwice_isAnIllegalState() {
        fails(IllegalStateException.class, "heartbeatIsActivity was already set to true",
                () -> IdleReaper.builder().heartbeatIsActivity(true).heartbeatIsActivity(false));
    }

    @Test
    void disabledHeartbeat_printsAsDisabled() {
        assertEquals("Heartbeat(disabled)", Heartbeat.DISABLED.toString());
    }

    @Test
    void summary_ofOneReap_isSingular() {
        FakeTicker ticker = new FakeTicker();
        ReaperCore core = IdleReaper.builder().ticker(ticker).build().core();
        core.reaped(new EmbeddedChannel(), new ReapEvent(ReapReason.READ_IDLE, 1, 1));
        ticker.advance(Duration.ofSeconds(61));
        assertEquals("reaped 1 connection in the last 60s (READ_IDLE=1); 0 open", core.summary(ticker.read()));
    }

    @Test
    void lineGoodbye_namesTheReason_andOneReasonCanHaveItsOwn() {
        LineHeartbeat line = LineHeartbeat.of("PING\n", StandardCharsets.US_ASCII).withGoodbye("-ERR {reason}\n")
                .withGoodbye(ReapReason.PING_ABUSE, "-ERR too many pings\n");
        EmbeddedChannel ch = new EmbeddedChannel();
        try {
            assertEquals("-ERR read idle\n", text(line.goodbye(ch, ReapReason.READ_IDLE)));
            assertEquals("-ERR too many pings\n", text(line.goodbye(ch, ReapReason.PING_ABUSE)));
            assertEquals(null, line.goodbye(ch, ReapReason.WRITE_STALL));
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    private static String text(Object msg) {
        ByteBuf b = (ByteBuf) msg;
        try {
            return b.toString(StandardCharsets.UTF_8);
        } finally {
            b.release();
        }
    }

    @Test
    void handlerNotFirst_warnsOnce() {
        IdleReaper r = IdleReaper.builder().writeStallTimeout(Duration.ofSeconds(1)).build();
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.pipeline().addLast(new ChannelOutboundHandlerAdapter(), r.newHandler());
        try {
            assertTrue(r.core().warnedNotFirst, "warned that outbound progress cannot be measured");
        } finally {
            ch.finishAndReleaseAll();
        }
        IdleReaper first = IdleReaper.builder().writeStallTimeout(Duration.ofSeconds(1)).build();
        EmbeddedChannel ok = new EmbeddedChannel();
        ok.pipeline().addLast(first.newHandler(), new ChannelOutboundHandlerAdapter());
        try {
            assertFalse(first.core().warnedNotFirst);
        } finally {
            ok.finishAndReleaseAll();
        }
    }

    @Test
    void customSizeEstimator_stallIsStillMeasured() {
        MessageSizeEstimator one = () -> msg -> 1;
        try (StallRig rig = new StallRig(b -> b.writeStallTimeout(Duration.ofSeconds(1)),
                ch -> ch.config().setMessageSizeEstimator(one))) {
            rig.ch.writeAndFlush(Unpooled.wrappedBuffer(new byte[4096]));
            for (int i = 0; i < 60 && rig.ch.isActive(); i++) {
                rig.tick();
                // The application keeps writing into the stalled buffer: sized by the wrong estimate, every
                // write would look like progress.
                rig.ch.writeAndFlush(Unpooled.wrappedBuffer(new byte[100]));
            }
            assertFalse(rig.ch.isActive(), "a write that never drains is a stall, whatever the estimator says");
            assertEquals(ReapReason.WRITE_STALL, rig.reaps.get(0).reason());
        }
    }

    @Test
    void pingThatFailsToWrite_isLogged_andAProtocolNeverReady_isReported() {
        FakeTicker ticker = new FakeTicker();
        HeartbeatProtocol never = ch -> null;
        IdleReaper failing = IdleReaper.builder().tickResolution(RES).ticker(ticker)
                .heartbeat(Duration.ofMillis(300), Duration.ofMillis(100), 1, PING).build();
        IdleReaper notReady = IdleReaper.builder().tickResolution(RES).ticker(ticker)
                .heartbeat(Duration.ofMillis(300), Duration.ofMillis(100), 1, never).build();
        ChannelHandler rejectsWrites = new ChannelOutboundHandlerAdapter() {
            @Override
            public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
                ReferenceCountUtil.release(msg);
                promise.setFailure(new IllegalArgumentException("unsupported message type: ByteBuf"));
            }
        };
        EmbeddedChannel a = new EmbeddedChannel(failing.newHandler(), rejectsWrites);
        EmbeddedChannel b = new EmbeddedChannel(notReady.newHandler());
        try {
            for (int i = 0; i < 40; i++) {
                ticker.advanceNanos(STEP);
                failing.core().wheelFor(a.eventLoop()).advance(ticker.read());
                notReady.core().wheelFor(b.eventLoop()).advance(ticker.read());
                a.runPendingTasks();
                b.runPendingTasks();
            }
            assertTrue(failing.core().warnedPingFailure, "the failed ping was logged");
            assertTrue(notReady.core().warnedNotReady, "the protocol that never became ready was reported");
        } finally {
            a.finishAndReleaseAll();
            b.finishAndReleaseAll();
        }
    }

    @Test
    void installAndNewHandlerTogether_giveOneHandler_countedOnce() throws Exception {
        EventLoopGroup group = Transport.NIO.group(1);
        try {
            IdleReaper r = IdleReaper.builder().readIdleTimeout(Duration.ofSeconds(30)).build();
            List<Channel> accepted = new CopyOnWriteArrayList<>();
            ServerBootstrap sb = new ServerBootstrap().group(group).channel(Transport.NIO.serverChannel())
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            ch.pipeline().addFirst(IdleReaper.HANDLER_NAME, r.newHandler()); // and install() too
                            accepted.add(ch);
                        }
                    });
            r.install(sb);
            Channel server = sb.bind("127.0.0.1", 0).sync().channel();
            Channel client = new Bootstrap().group(group).channel(Transport.NIO.channel())
                    .handler(new ChannelInboundHandlerAdapter()).connect(server.localAddress()).sync().channel();
            await().atMost(Duration.ofSeconds(10)).until(() -> r.stats().opened() == 1);
            Channel ch = accepted.get(0);
            assertTrue(ch.isActive(), "not dropped on a duplicate name");
            long handlers = 0;
            for (Map.Entry<String, ChannelHandler> e : ch.pipeline()) {
                handlers += e.getValue() instanceof ReaperHandler ? 1 : 0;
            }
            assertEquals(1, handlers);
            assertTrue(r.core().warnedInstalledTwice);
            client.close().sync();
            server.close().sync();
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }
}
