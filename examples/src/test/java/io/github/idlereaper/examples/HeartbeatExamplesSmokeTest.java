package io.github.idlereaper.examples;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketClientHandshakerFactory;
import io.netty.handler.codec.http.websocketx.WebSocketClientProtocolHandler;
import io.netty.handler.codec.http.websocketx.WebSocketVersion;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2PingFrame;
import io.netty.handler.codec.mqtt.MqttDecoder;
import io.netty.handler.codec.mqtt.MqttEncoder;
import io.netty.handler.codec.mqtt.MqttMessage;
import io.netty.handler.codec.mqtt.MqttMessageBuilders;
import io.netty.handler.codec.mqtt.MqttReasonCodeAndPropertiesVariableHeader;
import io.netty.handler.codec.mqtt.MqttVersion;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Keeps the heartbeat examples compiling and running: each server pings, says goodbye and closes as documented. */
class HeartbeatExamplesSmokeTest {

    private final EventLoopGroup clients = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final List<String> saw = new CopyOnWriteArrayList<>();

    @AfterEach
    void tearDown() {
        clients.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
    }

    private Channel connect(InetSocketAddress to, ChannelHandler... handlers) {
        return new Bootstrap().group(clients).channel(NioSocketChannel.class)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(handlers);
                    }
                }).connect(to).syncUninterruptibly().channel();
    }

    /** Records and drops pings and goodbyes; passes the rest on. */
    private ChannelInboundHandlerAdapter recorder(boolean passPings) {
        return new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                String s = describe(msg);
                saw.add(s);
                if (!(s.startsWith("ws ") || s.startsWith("h2 ") || s.startsWith("mqtt "))
                        || s.startsWith("ws ping") && passPings || s.equals("ws text hi")) {
                    ctx.fireChannelRead(msg);
                    return;
                }
                ReferenceCountUtil.release(msg);
            }

            @Override
            public void channelInactive(ChannelHandlerContext ctx) {
                saw.add("closed");
                ctx.fireChannelInactive();
            }
        };
    }

    private static String describe(Object msg) {
        if (msg instanceof PingWebSocketFrame) {
            return "ws ping";
        }
        if (msg instanceof CloseWebSocketFrame) {
            return "ws close " + ((CloseWebSocketFrame) msg).statusCode();
        }
        if (msg instanceof TextWebSocketFrame) {
            return "ws text " + ((TextWebSocketFrame) msg).text();
        }
        if (msg instanceof Http2PingFrame) {
            return "h2 ping";
        }
        if (msg instanceof Http2GoAwayFrame) {
            return "h2 goaway " + ((Http2GoAwayFrame) msg).errorCode();
        }
        if (msg instanceof MqttMessage && ((MqttMessage) msg).variableHeader()
                instanceof MqttReasonCodeAndPropertiesVariableHeader) {
            return "mqtt " + ((MqttMessage) msg).fixedHeader().messageType() + " " + ((MqttReasonCodeAndPropertiesVariableHeader)
                    ((MqttMessage) msg).variableHeader()).reasonCode();
        }
        if (msg instanceof MqttMessage) {
            return "mqtt " + ((MqttMessage) msg).fixedHeader().messageType();
        }
        return msg.getClass().getSimpleName();
    }

    @Test
    void webSocketServer_echoes_pings_andSaysGoingAwayToASilentClient() {
        try (WebSocketServer server = new WebSocketServer(
                WebSocketServer.reaper(Duration.ofMillis(500), Duration.ofMillis(200)), 0)) {
            URI uri = URI.create("ws://127.0.0.1:" + server.address().getPort() + "/ws");
            Channel ch = connect(server.address(), new HttpClientCodec(), new HttpObjectAggregator(65536),
                    recorder(false), new WebSocketClientProtocolHandler(WebSocketClientHandshakerFactory
                            .newHandshaker(uri, WebSocketVersion.V13, null, false, new DefaultHttpHeaders())));
            await().atMost(Duration.ofSeconds(10)).until(() -> {
                if (ch.isActive() && saw.isEmpty()) {
                    ch.writeAndFlush(new TextWebSocketFrame("hi"));
                }
                return saw.contains("closed");
            });
            assertTrue(saw.contains("ws ping"), "pinged: " + saw);
            assertTrue(saw.indexOf("ws close 1001") == saw.indexOf("closed") - 1, "1001 before the close: " + saw);
        }
    }

    @Test
    void http2Server_pingsAndSendsGoAwayToASilentClient() {
        try (Http2Server server = new Http2Server(Http2Server.reaper(Duration.ofMillis(500), Duration.ofMillis(200)),
                0)) {
            connect(server.address(), Http2FrameCodecBuilder.forClient().autoAckPingFrame(false).build(),
                    recorder(false));
            await().atMost(Duration.ofSeconds(10)).until(() -> saw.contains("closed"));
            assertTrue(saw.contains("h2 ping"), "pinged: " + saw);
            assertTrue(saw.contains("h2 goaway 0"), "GOAWAY NO_ERROR: " + saw);
        }
    }

    @Test
    void mqttBroker_enforcesTheClientsKeepAlive_withDisconnect0x8D() {
        try (MqttBroker broker = new MqttBroker(MqttBroker.reaper(Duration.ofSeconds(30)), 0)) {
            Channel ch = connect(broker.address(), MqttEncoder.INSTANCE, new MqttDecoder(), recorder(false));
            ch.writeAndFlush(MqttMessageBuilders.connect().clientId("smoke").protocolVersion(MqttVersion.MQTT_5)
                    .keepAlive(1).build());
            long start = System.nanoTime();
            await().atMost(Duration.ofSeconds(10)).until(() -> saw.contains("closed"));
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertTrue(ms >= 1500, "1.5 x keep-alive, never early: " + ms + "ms");
            assertTrue(saw.contains("mqtt CONNACK"), "accepted: " + saw);
            assertTrue(saw.contains("mqtt DISCONNECT -115"), "DISCONNECT 0x8D: " + saw);
        }
    }
}
