package io.github.idlereaper;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.idlereaper.examples.HttpServer;
import io.github.idlereaper.protocol.WebSocketHeartbeat;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoopGroup;
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
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Layer 4: a real NIO server on loopback whose {@code ChannelInitializer} adds {@code reaper.newHandler()} first and
 * never calls {@code install()} (the example {@link HttpServer#builtByHand}), against the same server installed the
 * usual way: the HTTP layer holds the idle timers off for a request in flight and closes a connection that never
 * sends one, the WebSocket heartbeat's watch counts a ping flood as abuse, and a pipeline built by hand that
 * {@code install()} wraps too gets one of each handler.
 */
class HandBuiltLoopbackTest {

    private static final Duration TICK = Duration.ofMillis(50);

    private HttpServer server;
    private EventLoopGroup boss;
    private EventLoopGroup clients;
    private ScheduledExecutorService pacer;
    private final List<ReapEvent> reaps = new CopyOnWriteArrayList<>();
    private final List<String> clientSaw = new CopyOnWriteArrayList<>();

    @AfterEach
    void stop() {
        if (pacer != null) {
            pacer.shutdownNow();
        }
        if (server != null) {
            server.close();
        }
        for (EventLoopGroup g : new EventLoopGroup[] {clients, boss}) {
            if (g != null) {
                g.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
            }
        }
    }

    private IdleReaper.Builder reaper() {
        return IdleReaper.builder().tickResolution(TICK).listener((ch, e) -> reaps.add(e));
    }

    private InetSocketAddress builtByHand(IdleReaper reaper) {
        server = HttpServer.builtByHand(reaper, 0);
        return server.address();
    }

    @Test
    void http_slowRequest_isNotReapedWhileInFlight_andTheIdleConnectionIsAfterIt() throws Exception {
        try (RawHttp c = new RawHttp(builtByHand(reaper().http().readIdleTimeout(Duration.ofMillis(400)).build()))) {
            c.send(RawHttp.get("/slow?ms=1500"));
            RawHttp.Response r = c.read();
            assertEquals(200, r.status, r::toString);
            assertEquals("hello", r.body.trim());
            assertEquals(List.of(), reaps, "reaped in flight");
            c.awaitEnd();
        }
        await().until(() -> reaps.size() == 1);
        assertEquals(ReapReason.READ_IDLE, reaps.get(0).reason());
    }

    @Test
    void http_aConnectionThatSendsNothing_isClosedAtTheHeaderTimeout() throws Exception {
        long open = System.nanoTime();
        try (RawHttp c = new RawHttp(builtByHand(reaper().requestHeaderTimeout(Duration.ofMillis(500))
                .keepAliveTimeout(Duration.ofSeconds(30)).build()))) {
            long end = c.awaitEnd(); // fails if any byte (a 408) comes
            long ms = TimeUnit.NANOSECONDS.toMillis(end - open);
            assertTrue(ms >= 500 - TICK.toMillis(), () -> "early: " + ms);
        }
        await().until(() -> reaps.size() == 1);
        assertEquals(ReapReason.REQUEST_HEADER_TIMEOUT, reaps.get(0).reason());
    }

    /** A WebSocket client on Netty's own codec that records closes; the handshake done. */
    private Channel wsClient(InetSocketAddress addr) {
        if (clients == null) {
            clients = Transport.NIO.group(1);
        }
        URI uri = URI.create("ws://127.0.0.1:" + addr.getPort() + "/ws");
        WebSocketClientProtocolHandler ws = new WebSocketClientProtocolHandler(WebSocketClientHandshakerFactory
                .newHandshaker(uri, WebSocketVersion.V13, null, false, new DefaultHttpHeaders()));
        Channel ch = new Bootstrap().group(clients).channel(Transport.NIO.channel())
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel c) {
                        c.pipeline().addLast(new HttpClientCodec(), new HttpObjectAggregator(65536),
                                new ChannelInboundHandlerAdapter() {
                                    @Override
                                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                        if (msg instanceof CloseWebSocketFrame) {
                                            clientSaw.add("close " + ((CloseWebSocketFrame) msg).statusCode());
                                            ReferenceCountUtil.release(msg);
                                            return;
                                        }
                                        ctx.fireChannelRead(msg);
                                    }
                                }, ws, new ChannelInboundHandlerAdapter() {
                                    @Override
                                    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                                        if (evt == WebSocketClientProtocolHandler.ClientHandshakeStateEvent
                                                .HANDSHAKE_COMPLETE) {
                                            clientSaw.add("handshake");
                                        }
                                        ctx.fireUserEventTriggered(evt);
                                    }
                                });
                    }
                }).connect(addr).syncUninterruptibly().channel();
        await().until(() -> clientSaw.contains("handshake"));
        return ch;
    }

    @Test
    void webSocket_pingFlooder_isReapedForAbuse_withClose1008() {
        IdleReaper reaper = reaper().readIdleTimeout(Duration.ofSeconds(60))
                .heartbeat(Duration.ofSeconds(20), Duration.ofSeconds(5), 2, WebSocketHeartbeat.INSTANCE)
                .permitPeerPings(Duration.ofMillis(300)).build();
        Channel client = wsClient(builtByHand(reaper));
        pacer = Executors.newSingleThreadScheduledExecutor();
        pacer.scheduleAtFixedRate(() -> {
            if (reaps.isEmpty()) {
                client.writeAndFlush(new PingWebSocketFrame());
            }
        }, 0, 20, TimeUnit.MILLISECONDS);
        await().until(() -> reaps.size() == 1);
        assertEquals(ReapReason.PING_ABUSE, reaps.get(0).reason());
        await().until(() -> clientSaw.contains("close 1008"));
    }

    @Test
    void builtByHand_andInstalledToo_getsOneOfEach_onARealServer() throws Exception {
        IdleReaper reaper = reaper().http().readIdleTimeout(Duration.ofSeconds(30))
                .heartbeat(Duration.ofSeconds(5), Duration.ofSeconds(1), 2, WebSocketHeartbeat.INSTANCE)
                .permitPeerPings(Duration.ofSeconds(1)).build();
        BlockingQueue<Channel> accepted = new LinkedBlockingQueue<>();
        boss = Transport.NIO.group(1);
        ServerBootstrap b = new ServerBootstrap().group(boss).channel(Transport.NIO.serverChannel())
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(IdleReaper.HANDLER_NAME, reaper.newHandler()) // by hand, first
                                .addLast(new HttpServerCodec(), new HttpObjectAggregator(1 << 16),
                                        new WebSocketServerProtocolHandler("/ws"));
                        accepted.add(ch);
                    }
                });
        reaper.install(b); // and install() too
        InetSocketAddress addr = (InetSocketAddress) b.bind("127.0.0.1", 0).syncUninterruptibly().channel()
                .localAddress();
        wsClient(addr);
        Channel ch = accepted.poll(5, TimeUnit.SECONDS);
        ChannelPipeline p = ch.pipeline();
        List<String> names = ch.eventLoop().submit(p::names).get(5, TimeUnit.SECONDS);
        assertEquals(1, count(p, ReaperHandler.class), names::toString);
        assertEquals(1, count(p, HttpCompanion.class), names::toString);
        assertEquals(1, count(p, HeartbeatWatch.class), names::toString);
        assertTrue(names.stream().noneMatch(n -> n.startsWith("idleReaper") && n.contains("#")), names::toString);
        assertEquals(1, reaper.stats().open());
    }

    private static int count(ChannelPipeline p, Class<?> type) throws Exception {
        return p.channel().eventLoop().submit(() -> {
            int n = 0;
            for (Map.Entry<String, ChannelHandler> e : p) {
                if (type.isInstance(e.getValue())) {
                    n++;
                }
            }
            return n;
        }).get(5, TimeUnit.SECONDS);
    }
}
