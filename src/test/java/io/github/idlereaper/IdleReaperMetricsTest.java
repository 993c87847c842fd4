package io.github.idlereaper;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.idlereaper.protocol.LineHeartbeat;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link IdleReaperMetrics}: every meter against what happened, with time pushed in by hand (a
 * {@link SimpleMeterRegistry}), and a real loopback reap as a Prometheus scrape shows it.
 */
class IdleReaperMetricsTest {

    private static final Duration RES = Duration.ofMillis(100);
    private static final long STEP = RES.toNanos() / 2;

    private final FakeTicker ticker = new FakeTicker();
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private IdleReaper reaper;
    private EmbeddedChannel ch;
    private LoopWheel wheel;
    private EventLoopGroup group;

    @AfterEach
    void tearDown() {
        if (ch != null) {
            ch.finishAndReleaseAll();
        }
        if (group != null) {
            group.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    /** A reaper bound to the registry before its channel opens (so the channel's lifetime is kept). */
    private void open(Consumer<IdleReaper.Builder> config) {
        IdleReaper.Builder b = IdleReaper.builder().tickResolution(RES).ticker(ticker).goodbyeTimeout(Duration.ZERO);
        config.accept(b);
        reaper = b.build();
        new IdleReaperMetrics(reaper, Tags.of("server", "test")).bindTo(registry);
        ch = new EmbeddedChannel();
        ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ReferenceCountUtil.release(msg);
            }
        });
        ch.pipeline().addFirst(IdleReaper.HANDLER_NAME, reaper.newHandler());
        wheel = reaper.core().wheelFor(ch.eventLoop());
    }

    private void advance(Duration d) {
        long end = ticker.read() + d.toNanos();
        while (ticker.read() + STEP <= end) {
            ticker.advanceNanos(STEP);
            wheel.advance(ticker.read());
            ch.runPendingTasks();
            Object m;
            while ((m = ch.readOutbound()) != null) {
                ReferenceCountUtil.release(m);
            }
        }
    }

    private double gauge(String name) {
        return registry.get(name).tag("server", "test").gauge().value();
    }

    private double reaps(ReapReason r, boolean dry) {
        return registry.get("idle.reaper.reaps").tag("server", "test")
                .tag("reason", r.name().toLowerCase(java.util.Locale.ROOT)).tag("dry.run", Boolean.toString(dry))
                .functionCounter().count();
    }

    @Test
    void gaugesCountersAndTimers_followWhatHappened() {
        open(b -> b.readIdleTimeout(Duration.ofSeconds(1)));
        assertEquals(1, gauge("idle.reaper.connections.open"));
        assertEquals(0, gauge("idle.reaper.connections.busy"));

        IdleReaper.markBusy(ch);
        IdleReaper.markBusy(ch);
        assertEquals(1, gauge("idle.reaper.connections.busy"), "a connection counts once, however busy");
        assertEquals(1, reaper.stats().busy());
        IdleReaper.markIdle(ch);
        assertEquals(1, gauge("idle.reaper.connections.busy"));
        IdleReaper.markIdle(ch);
        assertEquals(0, gauge("idle.reaper.connections.busy"));

        long openedAt = ticker.read();
        advance(Duration.ofMillis(1_500));
        assertTrue(!ch.isActive(), "reaped");
        assertEquals(1, reaps(ReapReason.READ_IDLE, false));
        assertEquals(0, reaps(ReapReason.READ_IDLE, true));
        assertEquals(0, gauge("idle.reaper.connections.open"));

        Timer idle = registry.get("idle.reaper.reap.idle").tag("reason", "read_idle").tag("dry.run", "false").timer();
        assertEquals(1, idle.count());
        assertTrue(idle.totalTime(TimeUnit.MILLISECONDS) >= 1_000, idle.totalTime(TimeUnit.MILLISECONDS) + " ms");

        Timer lifetime = registry.get("idle.reaper.connection.lifetime").tag("server", "test").timer();
        assertEquals(1, lifetime.count());
        double lived = lifetime.totalTime(TimeUnit.NANOSECONDS);
        assertTrue(lived >= 1_000_000_000L && lived <= ticker.read() - openedAt + STEP, lived + " ns");
    }

    @Test
    void aConnectionClosedBusy_leavesTheBusyGauge() {
        open(b -> b.readIdleTimeout(Duration.ofSeconds(1)));
        IdleReaper.markBusy(ch);
        assertEquals(1, gauge("idle.reaper.connections.busy"));
        ch.close();
        assertEquals(0, gauge("idle.reaper.connections.busy"));
        assertEquals(0, gauge("idle.reaper.connections.open"));
        assertEquals(1, registry.get("idle.reaper.connection.lifetime").timer().count());
    }

    @Test
    void probing_countsAPingUnanswered_untilAByteComesBack() {
        open(b -> b.readIdleTimeout(Duration.ofSeconds(10)).heartbeat(Duration.ofSeconds(1), Duration.ofMillis(500),
                2, LineHeartbeat.of("PING\n", StandardCharsets.US_ASCII)));
        // The first ping comes within an interval of silence (the first one is backdated by a random part of it).
        for (int i = 0; i < 40 && gauge("idle.reaper.connections.probing") == 0; i++) {
            advance(Duration.ofMillis(100));
        }
        assertEquals(1, gauge("idle.reaper.connections.probing"), "a ping went out");
        assertEquals(1, reaper.stats().probing());
        ch.writeInbound(Unpooled.copiedBuffer("PONG\n", StandardCharsets.US_ASCII));
        advance(Duration.ofMillis(600)); // the visit at the ping's timeout sees the answer
        assertEquals(0, gauge("idle.reaper.connections.probing"), "the answer ends the probe");
        // Silent from now on: two misses reap, and the close leaves the gauge.
        advance(Duration.ofSeconds(4));
        assertTrue(!ch.isActive());
        assertEquals(1, reaps(ReapReason.HEARTBEAT_TIMEOUT, false));
        assertEquals(0, gauge("idle.reaper.connections.probing"));
    }

    @Test
    void dryRun_isCountedApart_andTheConnectionStays() {
        open(b -> b.readIdleTimeout(Duration.ofSeconds(1)).dryRun(true));
        advance(Duration.ofMillis(1_500));
        assertTrue(ch.isActive());
        assertEquals(0, reaps(ReapReason.READ_IDLE, false));
        assertEquals(1, reaps(ReapReason.READ_IDLE, true));
        assertEquals(1, registry.get("idle.reaper.reap.idle").tag("dry.run", "true").timer().count());
        assertEquals(1, gauge("idle.reaper.connections.open"));
    }

    @Test
    void pressureGauges_onlyWithThePressureOption() {
        open(b -> b.readIdleTimeout(Duration.ofSeconds(1)));
        assertNull(registry.find("idle.reaper.timeout.scale").gauge());
        SimpleMeterRegistry other = new SimpleMeterRegistry();
        IdleReaper withPressure = IdleReaper.builder().readIdleTimeout(Duration.ofSeconds(1)).ticker(ticker)
                .reduceTimeoutsUnderPressure(0.5, 0.9, 0.25).pressureSource(() -> 0.1).build();
        new IdleReaperMetrics(withPressure).bindTo(other);
        assertEquals(1.0, other.get("idle.reaper.timeout.scale").gauge().value());
        assertEquals(0.0, other.get("idle.reaper.pressure").gauge().value(), 0.11);
    }

    @Test
    void bindingTwiceToOneRegistry_recordsOnce_andEachRegistryRecords() {
        open(b -> b.readIdleTimeout(Duration.ofSeconds(1)));
        IdleReaperMetrics again = new IdleReaperMetrics(reaper, Tags.of("server", "test"));
        again.bindTo(registry);
        again.bindTo(registry);
        SimpleMeterRegistry second = new SimpleMeterRegistry();
        new IdleReaperMetrics(reaper).bindTo(second);
        advance(Duration.ofMillis(1_500));
        // Two binders on the first registry: its meters are shared, so each reap is counted once per binder's
        // recorder; that is the caller's doing, and the counter (read from the reaper) is still exact.
        assertEquals(1, reaps(ReapReason.READ_IDLE, false));
        assertEquals(1, second.get("idle.reaper.reaps").tag("reason", "read_idle").tag("dry.run", "false")
                .functionCounter().count());
        assertEquals(1, second.get("idle.reaper.reap.idle").timer().count());
    }

    @Test
    void prometheusScrape_showsARealReap_underItsPrometheusNames() throws Exception {
        PrometheusMeterRegistry prometheus = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        IdleReaper real = IdleReaper.builder().readIdleTimeout(Duration.ofMillis(400)).build();
        new IdleReaperMetrics(real, Tags.of("server", "loopback")).bindTo(prometheus);
        group = Transport.NIO.group(1);
        ServerBootstrap sb = new ServerBootstrap().group(group).channel(Transport.NIO.serverChannel())
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel c) {
                    }
                });
        real.install(sb);
        InetSocketAddress addr = (InetSocketAddress) sb.bind("127.0.0.1", 0).sync().channel().localAddress();
        try (Socket silent = new Socket(addr.getAddress(), addr.getPort())) {
            await().atMost(Duration.ofSeconds(10)).until(() -> silent.getInputStream().read() == -1);
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> real.stats().open() == 0);
        String scrape = prometheus.scrape();
        assertTrue(scrape.contains(
                "idle_reaper_reaps_total{dry_run=\"false\",reason=\"read_idle\",server=\"loopback\"} 1.0"), scrape);
        assertTrue(scrape.contains("idle_reaper_connections_open{server=\"loopback\"} 0.0"), scrape);
        assertTrue(scrape.contains("idle_reaper_reap_idle_seconds_count{dry_run=\"false\",reason=\"read_idle\","
                + "server=\"loopback\"} 1"), scrape);
        assertTrue(scrape.contains("idle_reaper_connection_lifetime_seconds_count{server=\"loopback\"} 1"), scrape);
        assertTrue(scrape.contains("# TYPE idle_reaper_tcp_mismatches_total counter"), scrape);
    }
}
