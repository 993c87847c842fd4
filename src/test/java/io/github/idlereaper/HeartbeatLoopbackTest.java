package io.github.idlereaper;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.idlereaper.protocol.Http2Heartbeat;
import io.github.idlereaper.protocol.LineHeartbeat;
import io.github.idlereaper.protocol.MqttHeartbeat;
import io.github.idlereaper.protocol.WebSocketHeartbeat;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.LineBasedFrameDecoder;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketClientHandshakerFactory;
import io.netty.handler.codec.http.websocketx.WebSocketClientProtocolHandler;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolHandler;
import io.netty.handler.codec.http.websocketx.WebSocketVersion;
import io.netty.handler.codec.http2.DefaultHttp2PingFrame;
import io.netty.handler.codec.http2.Http2ConnectionHandlerBuilder;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameAdapter;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2PingFrame;
import io.netty.handler.codec.mqtt.MqttConnectMessage;
import io.netty.handler.codec.mqtt.MqttDecoder;
import io.netty.handler.codec.mqtt.MqttEncoder;
import io.netty.handler.codec.mqtt.MqttMessage;
import io.netty.handler.codec.mqtt.MqttMessageBuilders;
import io.netty.handler.codec.mqtt.MqttMessageType;
import io.netty.handler.codec.mqtt.MqttReasonCodeAndPropertiesVariableHeader;
import io.netty.handler.codec.mqtt.MqttConnectReturnCode;
import io.netty.handler.codec.mqtt.MqttVersion;
import io.netty.handler.codec.string.StringDecoder;
import io.netty.handler.codec.string.StringEncoder;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Layer 4: every built-in heartbeat protocol on a real loopback server, talking to Netty's own client codecs. A
 * peer that answers is never reaped over ten intervals; a silent one is reaped within interval + timeout ×
 * maxMissed + one tick (plus slack for a busy machine, never early) and receives the protocol's goodbye first.
 */
class HeartbeatLoopbackTest {

    private static final Duration RES = Duration.ofMillis(100);
    private static final Duration INTERVAL = Duration.ofMillis(500);
    private static final Duration TIMEOUT = Duration.ofMillis(200);
    private static final int MISSED = 2;
    private static final long BOUND_MS = INTERVAL.toMillis() + TIMEOUT.toMillis() * MISSED + RES.toMillis();
    /** How late a close may be observed on a busy 2-core machine, beyond the reaper's own bound. */
    private static final long SLACK_MS = 1_500;

    private EventLoopGroup boss;
    private EventLoopGroup workers;
    private EventLoopGroup clients;
    private ScheduledExecutorService pacer;
    private final BlockingQueue<Channel> accepted = new LinkedBlockingQueue<>();
    private final List<ReapEvent> listened = new CopyOnWriteArrayList<>();
    /** What the client received, in order, as short strings. */
    private final List<String> clientSaw = new CopyOnWriteArrayList<>();

    @AfterEach
    void tearDown() {
        if (pacer != null) {
            pacer.shutdownNow();
        }
        for (EventLoopGroup g : new EventLoopGroup[] {clients, workers, boss}) {
            if (g != null) {
                g.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
            }
        }
    }

    private IdleReaper.Builder reaper(HeartbeatProtocol p) {
        return IdleReaper.builder().tickResolution(RES).listener((ch, e) -> listened.add(e))
                .heartbeat(INTERVAL, TIMEOUT, MISSED, p);
    }

    private InetSocketAddress server(IdleReaper reaper, Consumer<Channel> init) {
        boss = Transport.NIO.group(1);
        workers = Transport.NIO.group(2);
        ServerBootstrap b = new ServerBootstrap().group(boss, workers).channel(Transport.NIO.serverChannel())
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        accepted.add(ch);
                        init.accept(ch);
                    }
                });
        reaper.install(b);
        return (InetSocketAddress) b.bind("127.0.0.1", 0).syncUninterruptibly().channel().localAddress();
    }

    private Channel client(InetSocketAddress to, Consumer<Channel> init) {
        if (clients == null) {
            clients = Transport.NIO.group(1);
        }
        return new Bootstrap().group(clients).channel(Transport.NIO.channel())
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        init.accept(ch);
                    }
                }).connect(to).syncUninterruptibly().channel();
    }

    private Channel serverSide() throws InterruptedException {
        Channel ch = accepted.poll(5, TimeUnit.SECONDS);
        assertTrue(ch != null, "the server accepted the connection");
        return ch;
    }

    private static long closedAfterMs(Channel ch, long sinceNanos) {
        AtomicLong at = new AtomicLong();
        ch.closeFuture().addListener(f -> at.set(System.nanoTime()));
        await().atMost(Duration.ofSeconds(30)).until(() -> at.get() != 0);
        return TimeUnit.NANOSECONDS.toMillis(at.get() - sinceNanos);
    }

    private void assertReapedInBound(Channel server, long since, ReapReason reason) {
        long after = closedAfterMs(server, since);
        // The first ping is jittered over the interval, so the earliest reap is timeout × maxMissed.
        assertTrue(after >= TIMEOUT.toMillis() * MISSED, "reaped early, after " + after + "ms");
        assertTrue(after <= BOUND_MS + SLACK_MS, "reaped late, after " + after + "ms (bound " + BOUND_MS + ")");
        await().until(() -> !listened.isEmpty());
        assertEquals(reason, listened.get(0).reason());
    }

    private void assertNeverReapedOverTenIntervals(Channel server) {
        await().during(INTERVAL.multipliedBy(10)).atMost(INTERVAL.multipliedBy(10).plusSeconds(5))
                .until(server::isActive);
        assertEquals(List.of(), listened);
    }

    /** Records what reaches it, as short strings, and releases it. */
    private final class ClientRecorder extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            clientSaw.add(describe(msg));
            ReferenceCountUtil.release(msg);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            clientSaw.add("closed");
            ctx.fireChannelInactive();
        }
    }

    private static String describe(Object msg) {
        if (msg instanceof String) {
            return (String) msg;
        }
        if (msg instanceof CloseWebSocketFrame) {
            return "close " + ((CloseWebSocketFrame) msg).statusCode();
        }
        if (msg instanceof PingWebSocketFrame) {
            return "ping";
        }
        if (msg instanceof Http2GoAwayFrame) {
            Http2GoAwayFrame g = (Http2GoAwayFrame) msg;
            return "goaway " + Http2Error.valueOf(g.errorCode()) + " "
                    + g.content().toString(StandardCharsets.US_ASCII);
        }
        if (msg instanceof Http2PingFrame) {
            return ((Http2PingFrame) msg).ack() ? "ping ack" : "ping";
        }
        if (msg instanceof MqttMessage) {
            MqttMessage m = (MqttMessage) msg;
            if (m.fixedHeader().messageType() == MqttMessageType.DISCONNECT
                    && m.variableHeader() instanceof MqttReasonCodeAndPropertiesVariableHeader) {
                return String.format("DISCONNECT 0x%02X",
                        ((MqttReasonCodeAndPropertiesVariableHeader) m.variableHeader()).reasonCode());
            }
            return m.fixedHeader().messageType().name();
        }
        return msg.getClass().getSimpleName();
    }

    /** The last thing the client received before the connection closed. */
    private String lastBeforeClose() {
        await().until(() -> clientSaw.contains("closed"));
        int i = clientSaw.indexOf("closed");
        return i == 0 ? "(nothing)" : clientSaw.get(i - 1);
    }

    // ---------------------------------------------------------------- line protocol

    private static final LineHeartbeat LINE = LineHeartbeat.of("PING\n", StandardCharsets.US_ASCII)
            .recognizing("PING").withGoodbye("BYE\n").watchAfter("string");

    private static void lineCodec(Channel ch) {
        ch.pipeline().addLast("frames", new LineBasedFrameDecoder(256))
                .addLast("string", new StringDecoder(StandardCharsets.US_ASCII))
                .addLast(new StringEncoder(StandardCharsets.US_ASCII));
    }

    /** A line server whose host ignores everything it reads. */
    private InetSocketAddress lineServer(IdleReaper reaper) {
        return server(reaper, ch -> {
            lineCodec(ch);
            ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                @Override
                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                    ReferenceCountUtil.release(msg);
                }
            });
        });
    }

    private Channel lineClient(InetSocketAddress addr, boolean answer) {
        return client(addr, ch -> {
            lineCodec(ch);
            ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                @Override
                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                    if (answer && "PING".equals(msg)) {
                        ctx.writeAndFlush("PONG\n");
                    }
                    ctx.fireChannelRead(msg);
                }
            }).addLast(new ClientRecorder());
        });
    }

    @Test
    void line_answeringPeer_isNeverReaped() throws Exception {
        InetSocketAddress addr = lineServer(reaper(LINE).build());
        lineClient(addr, true);
        assertNeverReapedOverTenIntervals(serverSide());
        assertTrue(clientSaw.stream().filter("PING"::equals).count() >= 5, "pinged: " + clientSaw);
    }

    @Test
    void line_silentPeer_isReapedWithinTheBound_afterTheGoodbye() throws Exception {
        InetSocketAddress addr = lineServer(reaper(LINE).build());
        long since = System.nanoTime();
        lineClient(addr, false);
        assertReapedInBound(serverSide(), since, ReapReason.HEARTBEAT_TIMEOUT);
        assertEquals("no inbound data within 200ms after ping (2 of 2 missed)", listened.get(0).message());
        assertEquals("BYE", lastBeforeClose());
        assertEquals(MISSED, clientSaw.stream().filter("PING"::equals).count(), "pings: " + clientSaw);
    }

    @Test
    void custom_pingFlooder_isReapedForAbuse_andAPeerAtThePermittedRateIsNot() throws Exception {
        IdleReaper reaper = reaper(LINE).permitPeerPings(Duration.ofMillis(300)).build();
        InetSocketAddress addr = lineServer(reaper);
        Channel polite = lineClient(addr, true);
        Channel politeServer = serverSide();
        Channel flooder = lineClient(addr, true);
        Channel flooderServer = serverSide();
        pacer = Executors.newScheduledThreadPool(2);
        pacer.scheduleAtFixedRate(() -> polite.writeAndFlush("PING\n"), 0, 400, TimeUnit.MILLISECONDS);
        pacer.scheduleAtFixedRate(() -> flooder.writeAndFlush("PING\n"), 0, 20, TimeUnit.MILLISECONDS);
        closedAfterMs(flooderServer, System.nanoTime());
        assertEquals(ReapReason.PING_ABUSE, listened.get(0).reason());
        assertEquals(3, listened.get(0).count());
        await().during(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(6)).until(politeServer::isActive);
        assertEquals(1, reaper.stats().reaped(ReapReason.PING_ABUSE));
        assertEquals(1, reaper.stats().reapedTotal());
    }

    @Test
    void clientSide_installOnABootstrap_pingsTheServer_andReapsASilentOne() throws Exception {
        InetSocketAddress addr = lineServer(IdleReaper.builder().build()); // the server never answers
        IdleReaper clientReaper = reaper(LINE).build();
        clients = Transport.NIO.group(1);
        Bootstrap b = new Bootstrap().group(clients).channel(Transport.NIO.channel())
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        lineCodec(ch);
                    }
                });
        clientReaper.install(b);
        long since = System.nanoTime();
        Channel client = b.connect(addr).syncUninterruptibly().channel();
        assertReapedInBound(client, since, ReapReason.HEARTBEAT_TIMEOUT);
    }

    // ---------------------------------------------------------------- WebSocket

    private InetSocketAddress wsServer(IdleReaper reaper) {
        return server(reaper, ch -> ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(65536),
                new WebSocketServerProtocolHandler("/ws"), new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        ReferenceCountUtil.release(msg);
                    }
                }));
    }

    /**
     * A WebSocket client on Netty's own client codec. Netty's protocol handler answers pings on its own; a silent
     * client swallows them in front of it instead. Either way pings and closes are recorded.
     */
    private Channel wsClient(InetSocketAddress addr, boolean answer) {
        URI uri = URI.create("ws://127.0.0.1:" + addr.getPort() + "/ws");
        return client(addr, ch -> ch.pipeline().addLast(new HttpClientCodec(), new HttpObjectAggregator(65536),
                new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        if (msg instanceof PingWebSocketFrame || msg instanceof CloseWebSocketFrame) {
                            clientSaw.add(describe(msg));
                            if (!answer || msg instanceof CloseWebSocketFrame) {
                                ReferenceCountUtil.release(msg);
                                return;
                            }
                        }
                        ctx.fireChannelRead(msg);
                    }

                    @Override
                    public void channelInactive(ChannelHandlerContext ctx) {
                        clientSaw.add("closed");
                        ctx.fireChannelInactive();
                    }
                },
                new WebSocketClientProtocolHandler(WebSocketClientHandshakerFactory.newHandshaker(uri,
                        WebSocketVersion.V13, null, false, new DefaultHttpHeaders())),
                new ChannelInboundHandlerAdapter() {
                    @Override
                    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                        if (evt == WebSocketClientProtocolHandler.ClientHandshakeStateEvent.HANDSHAKE_COMPLETE) {
                            clientSaw.add("handshake");
                        }
                        ctx.fireUserEventTriggered(evt);
                    }
                }));
    }

    @Test
    void webSocket_answeringPeer_isNeverReaped() throws Exception {
        InetSocketAddress addr = wsServer(reaper(WebSocketHeartbeat.INSTANCE).build());
        wsClient(addr, true);
        assertNeverReapedOverTenIntervals(serverSide());
        assertTrue(clientSaw.stream().filter("ping"::equals).count() >= 5, "pinged: " + clientSaw);
    }

    @Test
    void webSocket_silentAfterTheHandshake_isReapedWithinTheBound_afterClose1001() throws Exception {
        InetSocketAddress addr = wsServer(reaper(WebSocketHeartbeat.INSTANCE).build());
        wsClient(addr, false);
        Channel server = serverSide();
        await().until(() -> clientSaw.contains("handshake"));
        long since = System.nanoTime();
        assertReapedInBound(server, since, ReapReason.HEARTBEAT_TIMEOUT);
        assertEquals("close 1001", lastBeforeClose());
    }

    @Test
    void webSocket_noPingBeforeTheHandshake() throws Exception {
        IdleReaper reaper = reaper(WebSocketHeartbeat.INSTANCE).build();
        InetSocketAddress addr = wsServer(reaper);
        List<String> raw = new CopyOnWriteArrayList<>();
        client(addr, ch -> ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                raw.add(((ByteBuf) msg).toString(StandardCharsets.ISO_8859_1));
                ReferenceCountUtil.release(msg);
            }
        }));
        Channel server = serverSide();
        // A plain TCP client that never sends its upgrade request: nothing may reach it, and nothing reaps it.
        await().during(INTERVAL.multipliedBy(4)).atMost(INTERVAL.multipliedBy(4).plusSeconds(5))
                .until(server::isActive);
        assertEquals(List.of(), raw);
        assertEquals(List.of(), listened);
    }

    // ---------------------------------------------------------------- HTTP/2

    private InetSocketAddress h2Server(IdleReaper reaper, boolean frameCodec) {
        return server(reaper, ch -> {
            if (frameCodec) {
                ch.pipeline().addLast(Http2FrameCodecBuilder.forServer().build(), new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        ReferenceCountUtil.release(msg);
                    }
                });
            } else {
                ch.pipeline().addLast(new Http2ConnectionHandlerBuilder().server(true)
                        .frameListener(new Http2FrameAdapter()).build());
            }
        });
    }

    private Channel h2Client(InetSocketAddress addr, boolean answer) {
        return client(addr, ch -> ch.pipeline().addLast(
                Http2FrameCodecBuilder.forClient().autoAckPingFrame(answer).build(), new ClientRecorder()));
    }

    @ParameterizedTest(name = "frameCodec={0}")
    @ValueSource(booleans = {true, false})
    void http2_answeringPeer_isNeverReaped(boolean frameCodec) throws Exception {
        InetSocketAddress addr = h2Server(reaper(Http2Heartbeat.INSTANCE).build(), frameCodec);
        h2Client(addr, true);
        assertNeverReapedOverTenIntervals(serverSide());
        assertTrue(clientSaw.stream().filter("ping"::equals).count() >= 5, "pinged: " + clientSaw);
    }

    @ParameterizedTest(name = "frameCodec={0}")
    @ValueSource(booleans = {true, false})
    void http2_silentPeer_isReapedWithinTheBound_afterGoAwayNoError(boolean frameCodec) throws Exception {
        InetSocketAddress addr = h2Server(reaper(Http2Heartbeat.INSTANCE).build(), frameCodec);
        long since = System.nanoTime();
        h2Client(addr, false);
        assertReapedInBound(serverSide(), since, ReapReason.HEARTBEAT_TIMEOUT);
        assertEquals("goaway NO_ERROR ", lastBeforeClose());
    }

    @Test
    void http2_pingFlooder_isReapedWithEnhanceYourCalm_andAPeerAtThePermittedRateIsNot() throws Exception {
        // The permitted interval is longer than the heartbeat's: the polite client's ACKs of the server's own
        // pings come every interval, and must never count as pings (grpc-java#12417).
        IdleReaper reaper = reaper(Http2Heartbeat.INSTANCE).permitPeerPings(Duration.ofSeconds(1)).build();
        InetSocketAddress addr = h2Server(reaper, true);
        Channel polite = h2Client(addr, true);
        Channel politeServer = serverSide();
        pacer = Executors.newScheduledThreadPool(2);
        pacer.scheduleAtFixedRate(() -> polite.writeAndFlush(new DefaultHttp2PingFrame(1)), 0, 1200,
                TimeUnit.MILLISECONDS);
        await().during(Duration.ofSeconds(4)).atMost(Duration.ofSeconds(8)).until(politeServer::isActive);
        assertEquals(List.of(), listened);

        clientSaw.clear();
        Channel flooder = h2Client(addr, true);
        Channel flooderServer = serverSide();
        // The flood stops at the reap: pings that keep coming into a closed socket make the server's kernel answer
        // with RST, which can discard the GOAWAY still unread in the client's receive buffer (on a loaded machine).
        pacer.scheduleAtFixedRate(() -> {
            if (listened.isEmpty()) {
                flooder.writeAndFlush(new DefaultHttp2PingFrame(2));
            }
        }, 0, 20, TimeUnit.MILLISECONDS);
        closedAfterMs(flooderServer, System.nanoTime());
        assertEquals(ReapReason.PING_ABUSE, listened.get(0).reason());
        await().until(() -> clientSaw.contains("goaway ENHANCE_YOUR_CALM too_many_pings"));
        assertTrue(politeServer.isActive());
    }

    // ---------------------------------------------------------------- MQTT

    private InetSocketAddress mqttServer(IdleReaper reaper) {
        return server(reaper, ch -> ch.pipeline().addLast("decoder", new MqttDecoder())
                .addLast("encoder", MqttEncoder.INSTANCE)
                .addLast(new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        MqttMessage m = (MqttMessage) msg;
                        if (m.fixedHeader().messageType() == MqttMessageType.CONNECT) {
                            ctx.writeAndFlush(MqttMessageBuilders.connAck()
                                    .returnCode(MqttConnectReturnCode.CONNECTION_ACCEPTED).build());
                        } else if (m.fixedHeader().messageType() == MqttMessageType.PINGREQ) {
                            ctx.writeAndFlush(new MqttMessage(new io.netty.handler.codec.mqtt.MqttFixedHeader(
                                    MqttMessageType.PINGRESP, false, io.netty.handler.codec.mqtt.MqttQoS.AT_MOST_ONCE,
                                    false, 0)));
                        }
                        ReferenceCountUtil.release(msg);
                    }
                }));
    }

    private IdleReaper mqttReaper(Duration readIdle) {
        return IdleReaper.builder().tickResolution(RES).listener((ch, e) -> listened.add(e))
                .readIdleTimeout(readIdle).heartbeat(Duration.ZERO, Duration.ZERO, 1, MqttHeartbeat.INSTANCE)
                .build();
    }

    private Channel mqttClient(InetSocketAddress addr, MqttVersion version, int keepAlive) {
        Channel ch = client(addr, c -> c.pipeline().addLast(MqttEncoder.INSTANCE, new MqttDecoder(),
                new ClientRecorder()));
        MqttConnectMessage connect = MqttMessageBuilders.connect().clientId("c1").protocolVersion(version)
                .keepAlive(keepAlive).cleanSession(true).build();
        ch.writeAndFlush(connect).syncUninterruptibly();
        return ch;
    }

    @Test
    void mqtt_silentClientWith2sKeepAlive_isReapedAfter3s_withDisconnect0x8D() throws Exception {
        InetSocketAddress addr = mqttServer(mqttReaper(Duration.ofSeconds(30)));
        long since = System.nanoTime();
        mqttClient(addr, MqttVersion.MQTT_5, 2);
        long after = closedAfterMs(serverSide(), since);
        assertTrue(after >= 3000, "reaped early, after " + after + "ms");
        assertTrue(after <= 3000 + RES.toMillis() + SLACK_MS, "reaped late, after " + after + "ms");
        assertEquals(ReapReason.READ_IDLE, listened.get(0).reason());
        assertEquals(Duration.ofSeconds(3), listened.get(0).limit());
        assertEquals("DISCONNECT 0x8D", lastBeforeClose());
    }

    @Test
    void mqtt5_evictedAtTheConnectionCap_getsDisconnect0x89_serverBusy() throws Exception {
        IdleReaper reaper = IdleReaper.builder().tickResolution(RES).listener((ch, e) -> listened.add(e))
                .heartbeat(Duration.ZERO, Duration.ZERO, 1, MqttHeartbeat.INSTANCE)
                .maxConnections(2, CapPolicy.EVICT_IDLEST).build();
        InetSocketAddress addr = mqttServer(reaper);
        // Two, one on each of the server's two loops (accepted in turn): the newcomer's loop then holds one to evict.
        mqttClient(addr, MqttVersion.MQTT_5, 0);
        Channel first = serverSide();
        mqttClient(addr, MqttVersion.MQTT_5, 0);
        Channel second = serverSide();
        // Idle for more than the second an eviction needs, then a newcomer takes the place of one of them.
        long from = System.nanoTime();
        await().atMost(Duration.ofSeconds(5)).until(() -> System.nanoTime() - from > 1_300_000_000L);
        client(addr, c -> c.pipeline().addLast(MqttEncoder.INSTANCE, new MqttDecoder()));
        await().atMost(Duration.ofSeconds(5)).until(() -> !first.isActive() || !second.isActive());
        assertTrue(first.isActive() != second.isActive(), "one evicted");
        assertEquals(ReapReason.EVICTED, listened.get(0).reason());
        assertEquals("DISCONNECT 0x89", lastBeforeClose());
    }

    @Test
    void mqtt_clientSendingPingreqEvery2s_isNotReaped() throws Exception {
        InetSocketAddress addr = mqttServer(mqttReaper(Duration.ofSeconds(30)));
        Channel client = mqttClient(addr, MqttVersion.MQTT_3_1_1, 2);
        Channel server = serverSide();
        pacer = Executors.newSingleThreadScheduledExecutor();
        pacer.scheduleAtFixedRate(() -> client.writeAndFlush(MqttMessage.PINGREQ), 2, 2, TimeUnit.SECONDS);
        await().during(Duration.ofSeconds(8)).atMost(Duration.ofSeconds(12)).until(server::isActive);
        assertEquals(List.of(), listened);
        assertTrue(clientSaw.contains("PINGRESP"), "the broker answered: " + clientSaw);
    }

    @Test
    void mqtt_keepAliveZero_fallsBackToTheConfiguredIdleTimeout_andMqtt311GetsNoDisconnect() throws Exception {
        InetSocketAddress addr = mqttServer(mqttReaper(Duration.ofSeconds(1)));
        long since = System.nanoTime();
        mqttClient(addr, MqttVersion.MQTT_3_1_1, 0);
        long after = closedAfterMs(serverSide(), since);
        assertTrue(after >= 1000 && after <= 1000 + RES.toMillis() + SLACK_MS, "after " + after + "ms");
        assertEquals(Duration.ofSeconds(1), listened.get(0).limit());
        assertEquals("CONNACK", lastBeforeClose());
    }
}
