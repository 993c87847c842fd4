package io.github.idlereaper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.idlereaper.protocol.LineHeartbeat;
import io.github.idlereaper.protocol.MqttHeartbeat;
import io.github.idlereaper.protocol.WebSocketHeartbeat;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.DefaultChannelId;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.LineBasedFrameDecoder;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolHandler;
import io.netty.handler.codec.mqtt.MqttDecoder;
import io.netty.handler.codec.mqtt.MqttEncoder;
import io.netty.handler.codec.mqtt.MqttMessageBuilders;
import io.netty.handler.codec.mqtt.MqttVersion;
import io.netty.handler.codec.string.StringDecoder;
import io.netty.handler.codec.string.StringEncoder;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Layer 2: pipelines built by hand ({@code reaper.newHandler()} added first, by the host, before its decoders exist)
 * get what {@code install()} gives, placed behind the decoders by the handler itself: the HTTP layer, the heartbeat
 * protocol's watch (activity apart from liveness, peer-ping strikes) and its companion (MQTT's CONNECT keep-alive).
 * Built the two ways a host builds one: inside an initializer at registration (as a {@code ChannelInitializer} or
 * Reactor Netty's {@code doOnChannelInit} does), and added to a pipeline that is already live. Each gets one of
 * each, also when {@code install()}'s own placement runs too. EmbeddedChannel with a fake ticker, stepped one wheel
 * tick at a time.
 */
class HandBuiltPipelineTest {

    private static final Duration RES = Duration.ofMillis(100);
    private static final long STEP = RES.toNanos() / 2;

    private final FakeTicker ticker = new FakeTicker();
    private final List<ReapEvent> reaps = new ArrayList<>();
    private final List<String> hostSaw = new ArrayList<>();
    private final List<EmbeddedChannel> channels = new ArrayList<>();
    private IdleReaper reaper;
    private EmbeddedChannel ch;
    private LoopWheel wheel;

    @AfterEach
    void finish() {
        for (EmbeddedChannel c : channels) {
            c.finishAndReleaseAll();
        }
    }

    private IdleReaper reaper(UnaryOperator<IdleReaper.Builder> options) {
        reaper = options.apply(IdleReaper.builder().tickResolution(RES).ticker(ticker)
                .listener((c, e) -> reaps.add(e))).build();
        return reaper;
    }

    /**
     * An accepted channel (it has a parent, as the HTTP layer and MQTT's companion want) whose pipeline a
     * {@code ChannelInitializer} builds at registration, as a host's own initializer or Reactor Netty's
     * {@code doOnChannelInit} does: the reaper's handler first, then the host's handlers.
     */
    private EmbeddedChannel builtAtRegistration(Consumer<ChannelPipeline> host) {
        return track(new EmbeddedChannel(parent(), DefaultChannelId.newInstance(), true, false,
                new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel c) {
                        c.pipeline().addLast(IdleReaper.HANDLER_NAME, reaper.newHandler());
                        host.accept(c.pipeline());
                    }
                }));
    }

    /** An accepted channel, registered and active with an empty pipeline, to which the host adds handlers later. */
    private EmbeddedChannel live() {
        return track(new EmbeddedChannel(parent(), DefaultChannelId.newInstance(), true, false));
    }

    private EmbeddedChannel parent() {
        EmbeddedChannel p = new EmbeddedChannel();
        channels.add(p);
        return p;
    }

    private EmbeddedChannel track(EmbeddedChannel c) {
        channels.add(c);
        ch = c;
        wheel = reaper.core().wheelFor(c.eventLoop());
        return c;
    }

    /** Records the requests that reach the end of the host's pipeline, and releases everything. */
    private ChannelHandler host() {
        return new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                if (msg instanceof HttpRequest) {
                    hostSaw.add("request " + ((HttpRequest) msg).uri());
                }
                ReferenceCountUtil.release(msg);
            }
        };
    }

    /** Advances one wheel tick at a time, running what became due, as a real event loop would. */
    private void advance(Duration d) {
        long end = ticker.read() + d.toNanos();
        long next = (Math.floorDiv(ticker.read(), STEP) + 1) * STEP;
        while (next <= end && ch.isActive()) {
            ticker.advanceNanos(next - ticker.read());
            next += STEP;
            wheel.advance(ticker.read());
            ch.runPendingTasks();
            releaseOutbound();
        }
    }

    private void releaseOutbound() {
        Object m;
        while ((m = ch.readOutbound()) != null) {
            ReferenceCountUtil.release(m);
        }
    }

    private void send(String text) {
        ch.writeInbound(Unpooled.copiedBuffer(text, StandardCharsets.US_ASCII));
    }

    private static int indexOf(ChannelPipeline p, String name) {
        return p.names().indexOf(name);
    }

    /** How many handlers of {@code type} the pipeline holds. */
    private static int count(ChannelPipeline p, Class<?> type) {
        int n = 0;
        for (Map.Entry<String, ChannelHandler> e : p) {
            if (type.isInstance(e.getValue())) {
                n++;
            }
        }
        return n;
    }

    private static final String GET = "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n";

    private void respond() {
        DefaultFullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        HttpUtil.setContentLength(res, 0);
        ch.writeAndFlush(res);
        releaseOutbound();
    }

    // ---------------------------------------------------------------- the HTTP layer

    @Test
    void http_builtAtRegistration_getsTheLayerBehindTheCodec_andARequestInFlightIsNotIdle() {
        reaper(b -> b.readIdleTimeout(Duration.ofSeconds(1)).keepAliveTimeout(Duration.ofMillis(600)));
        builtAtRegistration(p -> p.addLast("codec", new HttpServerCodec()).addLast(host()));
        ChannelPipeline p = ch.pipeline();
        assertEquals(0, indexOf(p, IdleReaper.HANDLER_NAME), p.names()::toString);
        assertEquals(indexOf(p, "codec") + 1, indexOf(p, IdleReaper.HTTP_NAME), p.names()::toString);

        send(GET);
        assertEquals(List.of("request /slow"), hostSaw);
        advance(Duration.ofSeconds(3)); // three read idle timeouts with the request in flight
        assertTrue(ch.isActive(), () -> "reaped in flight: " + reaps);
        respond();
        advance(Duration.ofSeconds(2));
        assertFalse(ch.isActive());
        assertEquals(1, reaps.size(), reaps::toString);
        assertEquals(ReapReason.KEEPALIVE_TIMEOUT, reaps.get(0).reason()); // 600 ms after the response
    }

    @Test
    void http_addedToALivePipeline_idle_isPlacedAtTheFirstVisit_andTheFirstRequestDeadlineApplies() {
        reaper(b -> b.requestHeaderTimeout(Duration.ofMillis(800)).keepAliveTimeout(Duration.ofSeconds(30)));
        live();
        ChannelPipeline p = ch.pipeline();
        p.addLast(IdleReaper.HANDLER_NAME, reaper.newHandler()); // first, before the codec exists
        p.addLast("codec", new HttpServerCodec()).addLast(host());
        assertNull(p.get(IdleReaper.HTTP_NAME), "nothing placed while the host builds its pipeline");
        advance(RES);
        assertEquals(indexOf(p, "codec") + 1, indexOf(p, IdleReaper.HTTP_NAME), p.names()::toString);
        advance(Duration.ofSeconds(2)); // sends nothing
        assertFalse(ch.isActive());
        assertEquals(ReapReason.REQUEST_HEADER_TIMEOUT, reaps.get(0).reason());
    }

    @Test
    void http_addedToALivePipeline_firstRead_isPlacedBeforeTheReadGoesOn() {
        reaper(b -> b.http().readIdleTimeout(Duration.ofSeconds(1)));
        live();
        ch.pipeline().addLast(IdleReaper.HANDLER_NAME, reaper.newHandler());
        ch.pipeline().addLast("codec", new HttpServerCodec()).addLast(host());
        send(GET); // before any visit
        assertNotNull(ch.pipeline().get(IdleReaper.HTTP_NAME));
        advance(Duration.ofSeconds(3));
        assertTrue(ch.isActive(), () -> "the request counts as in flight: " + reaps);
        respond();
        advance(Duration.ofSeconds(2));
        assertEquals(ReapReason.READ_IDLE, reaps.get(0).reason());
    }

    // ---------------------------------------------------------------- the heartbeat's watch and companion

    private static final LineHeartbeat LINE = LineHeartbeat.of("PING\n", StandardCharsets.US_ASCII)
            .recognizing("PING").watchAfter("string");

    private void lineCodec(ChannelPipeline p) {
        p.addLast("frames", new LineBasedFrameDecoder(256))
                .addLast("string", new StringDecoder(StandardCharsets.US_ASCII))
                .addLast(new StringEncoder(StandardCharsets.US_ASCII), host());
    }

    /** The line codec behind the reaper's handler, added at registration, or to a live pipeline. */
    private void buildLinePipeline(boolean live) {
        if (!live) {
            builtAtRegistration(this::lineCodec);
            return;
        }
        live();
        ch.pipeline().addLast(IdleReaper.HANDLER_NAME, reaper.newHandler());
        lineCodec(ch.pipeline());
        advance(RES); // the first visit places the watch
    }

    @Test
    void line_builtByHand_getsTheWatch_peerPingsAreStrikes() {
        reaper(b -> b.readIdleTimeout(Duration.ofSeconds(10))
                .heartbeat(Duration.ofSeconds(2), Duration.ofMillis(500), 2, LINE)
                .permitPeerPings(Duration.ofMillis(500)));
        buildLinePipeline(true);
        ChannelPipeline p = ch.pipeline();
        assertEquals(indexOf(p, "string") + 1, indexOf(p, IdleReaper.PEER_PINGS_NAME), p.names()::toString);
        for (int i = 0; i < 6 && ch.isActive(); i++) {
            send("PING\n");
            ticker.advance(Duration.ofMillis(10));
        }
        assertFalse(ch.isActive(), "a ping flood is abuse");
        assertEquals(ReapReason.PING_ABUSE, reaps.get(0).reason());
        assertEquals(3, reaps.get(0).count());
    }

    @Test
    void line_builtByHand_peerPingsAreNotActivity_soAPeerThatOnlyPingsIsReapedIdle() {
        reaper(b -> b.readIdleTimeout(Duration.ofSeconds(3))
                .heartbeat(Duration.ofSeconds(1), Duration.ofMillis(500), 2, LINE));
        buildLinePipeline(false);
        assertTrue(ch.pipeline().names().contains(IdleReaper.PEER_PINGS_NAME), ch.pipeline().names()::toString);
        for (int i = 0; i < 10 && ch.isActive(); i++) {
            send("PING\n"); // alive, and never a probe's miss; but not in use
            advance(Duration.ofMillis(500));
        }
        assertFalse(ch.isActive());
        assertEquals(ReapReason.READ_IDLE, reaps.get(0).reason());
    }

    @Test
    void mqtt_builtAtRegistration_getsTheCompanion_theConnectKeepAliveSetsTheReadIdle() {
        reaper(b -> b.readIdleTimeout(Duration.ofSeconds(60))
                .heartbeat(Duration.ZERO, Duration.ZERO, 1, MqttHeartbeat.INSTANCE));
        builtAtRegistration(p -> p.addLast("decoder", new MqttDecoder()).addLast(MqttEncoder.INSTANCE, host()));
        EmbeddedChannel encoder = new EmbeddedChannel(MqttEncoder.INSTANCE);
        channels.add(encoder);
        encoder.writeOutbound(MqttMessageBuilders.connect().clientId("c1").protocolVersion(MqttVersion.MQTT_3_1_1)
                .keepAlive(2).cleanSession(true).build());
        ByteBuf connect = encoder.readOutbound();
        ch.writeInbound(connect);
        ch.runPendingTasks();
        assertEquals(Duration.ofSeconds(3), IdleReaper.channelTimeouts(ch).readIdle(), "1.5 × keep-alive");
        advance(Duration.ofSeconds(4));
        assertFalse(ch.isActive());
        assertEquals(ReapReason.READ_IDLE, reaps.get(0).reason());
        assertEquals(Duration.ofSeconds(3), reaps.get(0).limit());
    }

    // ---------------------------------------------------------------- once

    @Test
    void builtByHand_andPlacedByInstallToo_getsOneOfEach() {
        reaper(b -> b.http().readIdleTimeout(Duration.ofSeconds(30))
                .heartbeat(Duration.ofSeconds(5), Duration.ofSeconds(1), 2, WebSocketHeartbeat.INSTANCE)
                .permitPeerPings(Duration.ofSeconds(1)));
        builtAtRegistration(p -> p.addLast(new HttpServerCodec(), new HttpObjectAggregator(1 << 16),
                new WebSocketServerProtocolHandler("/ws"), host()));
        ChannelHandler h = ch.pipeline().first();
        assertTrue(h instanceof ReaperHandler);
        // What install() does after the host's initializer, and every chance the handler has to place them.
        reaper.addWatchers(ch, h);
        ((ReaperHandler) h).place();
        send(GET);
        advance(RES);
        ChannelPipeline p = ch.pipeline();
        assertEquals(1, count(p, ReaperHandler.class), p.names()::toString);
        assertEquals(1, count(p, HttpCompanion.class), p.names()::toString);
        assertEquals(1, count(p, HeartbeatWatch.class), p.names()::toString);
        assertTrue(p.names().stream().noneMatch(n -> n.startsWith("idleReaper") && n.contains("#")),
                p.names()::toString);
        assertEquals(1, reaper.stats().open());
    }

    @Test
    void installFirst_thenEveryChanceOfTheHandler_addsNothingMore() {
        reaper(b -> b.http().heartbeat(Duration.ofSeconds(5), Duration.ofSeconds(1), 2, LINE));
        live();
        ChannelHandler h = reaper.newHandler();
        ch.pipeline().addLast(IdleReaper.HANDLER_NAME, h);
        ch.pipeline().addLast("codec", new HttpServerCodec()).addLast("string", new StringDecoder())
                .addLast(host());
        reaper.addWatchers(ch, h); // install()'s placement, first
        List<String> placed = new ArrayList<>(ch.pipeline().names());
        send(GET);
        advance(RES.multipliedBy(3));
        ch.pipeline().fireChannelRegistered();
        assertEquals(placed, ch.pipeline().names());
        assertEquals(1, count(ch.pipeline(), HttpCompanion.class));
        assertEquals(1, count(ch.pipeline(), HeartbeatWatch.class));
    }
}
