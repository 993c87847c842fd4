package io.github.idlereaper.examples;

import io.github.idlereaper.IdleReaper;
import io.github.idlereaper.protocol.WebSocketHeartbeat;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerKeepAliveHandler;
import io.netty.handler.codec.http.HttpServerUpgradeHandler;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolHandler;
import io.netty.handler.codec.http2.CleartextHttp2ServerUpgradeHandler;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2ServerUpgradeCodec;
import io.netty.handler.codec.http2.Http2StreamFrame;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ApplicationProtocolNegotiationHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.util.AsciiString;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * An HTTP server with idle-reaper's HTTP layer on: HTTP/1.1 and cleartext HTTP/2 (h2c, by prior knowledge or by
 * upgrade) on one port, or HTTP/1.1 and h2 over TLS chosen by ALPN, plus a WebSocket echo at {@code /ws}. The host
 * code does nothing about timeouts: {@code http()} tracks requests in flight, closes keep-alive connections after
 * {@code keepAliveTimeout}, answers slowloris clients 408 at {@code requestHeaderTimeout}, and rotates connections
 * after {@code maxRequestsPerConnection}. After the WebSocket upgrade the heartbeat takes over.
 *
 * <p>Paths: {@code /} answers "hello"; {@code /slow?ms=N} answers after N ms (a request in flight, never reaped as
 * idle); {@code /echo} answers the request body; {@code /ws} is a WebSocket that echoes text frames.
 *
 * <p>Run: {@code mvn -q -B test-compile exec:java -Dexec.classpathScope=test
 * -Dexec.mainClass=io.github.idlereaper.examples.HttpServer}, then for example
 * {@code curl -v http://127.0.0.1:8083/ http://127.0.0.1:8083/} (one connection, reused),
 * {@code curl --http2-prior-knowledge http://127.0.0.1:8083/slow?ms=3000}, {@code curl --http2 ...} (upgrade).
 */
public final class HttpServer implements AutoCloseable {

    private final EventLoopGroup group;
    private final Channel channel;

    /** Cleartext: HTTP/1.1 and h2c on one port, on one NIO event loop. */
    public HttpServer(IdleReaper reaper, int port) {
        this(reaper, port, null, nio(1), NioServerSocketChannel.class);
    }

    /**
     * With {@code ssl} (whose ALPN offers h2 and http/1.1), TLS with ALPN; without, cleartext HTTP/1.1 and h2c. The
     * server owns {@code group} and shuts it down on {@link #close()}.
     */
    public HttpServer(IdleReaper reaper, int port, SslContext ssl, EventLoopGroup group,
            Class<? extends ServerChannel> channelClass) {
        this(reaper, port, ssl, group, channelClass, true);
    }

    /**
     * The cleartext server with its pipeline built by hand, as a server whose bootstrap is hidden must build it
     * (Reactor Netty, Spring WebFlux, a framework's own initializer): the host's initializer adds
     * {@code reaper.newHandler()} first, ahead of codecs that do not exist yet, and {@code install()} is never
     * called. The HTTP layer and the WebSocket heartbeat's watch come all the same: the handler places them behind
     * the codecs once the initializer has run.
     */
    public static HttpServer builtByHand(IdleReaper reaper, int port) {
        return new HttpServer(reaper, port, null, nio(1), NioServerSocketChannel.class, false);
    }

    private HttpServer(IdleReaper reaper, int port, SslContext ssl, EventLoopGroup group,
            Class<? extends ServerChannel> channelClass, boolean install) {
        this.group = group;
        ServerBootstrap b = new ServerBootstrap().group(group).channel(channelClass)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        if (!install) {
                            ch.pipeline().addLast(IdleReaper.HANDLER_NAME, reaper.newHandler()); // first, by hand
                        }
                        if (ssl != null) {
                            ch.pipeline().addLast(ssl.newHandler(ch.alloc()), new Alpn());
                        } else {
                            cleartext(ch.pipeline());
                        }
                    }
                });
        if (install) {
            reaper.install(b); // the one call: the HTTP layer finds the codecs, also after an upgrade or ALPN
        }
        channel = b.bind("127.0.0.1", port).syncUninterruptibly().channel();
    }

    /**
     * NIO event loops. On Netty 4.2 a server would write {@code new MultiThreadIoEventLoopGroup(threads,
     * NioIoHandler.newFactory())}; this example keeps to the API that Netty 4.1 has too, so that the 4.1 build tests
     * the HTTP layer with it.
     */
    @SuppressWarnings("deprecation")
    public static EventLoopGroup nio(int threads) {
        return new io.netty.channel.nio.NioEventLoopGroup(threads);
    }

    /** Keep-alive 5 s, headers within 10 s, at most 100 requests a connection; WebSocket pings after 20 s quiet. */
    public static IdleReaper reaper() {
        return IdleReaper.builder()
                .keepAliveTimeout(Duration.ofSeconds(5))
                .requestHeaderTimeout(Duration.ofSeconds(10))
                .requestBodyTimeout(Duration.ofSeconds(10))
                .maxRequestsPerConnection(100)
                .readIdleTimeout(Duration.ofSeconds(60))       // held off while a request is in flight
                .heartbeat(Duration.ofSeconds(20), Duration.ofSeconds(5), 2, WebSocketHeartbeat.INSTANCE)
                .build();
    }

    /** HTTP/1.1, with h2c by upgrade or by prior knowledge. */
    static void cleartext(ChannelPipeline p) {
        HttpServerCodec codec = new HttpServerCodec();
        HttpServerUpgradeHandler upgrade = new HttpServerUpgradeHandler(codec, protocol ->
                AsciiString.contentEquals(Http2CodecUtil.HTTP_UPGRADE_PROTOCOL_NAME, protocol)
                        ? new Http2ServerUpgradeCodec(Http2FrameCodecBuilder.forServer().build(),
                                new Http2MultiplexHandler(new H2Stream()))
                        : null);
        p.addLast(new CleartextHttp2ServerUpgradeHandler(codec, upgrade, new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
                // Prior knowledge: HTTP/2 from the first byte, so the HTTP/1.1 handlers go.
                dropHttp1(ch.pipeline());
                http2(ch.pipeline());
            }
        }));
        http1Behind(p);
    }

    private static final String[] HTTP1 = {"h1-keepalive", "h1-aggregator", "h1-websocket", "h1-app"};

    /** Removes the handlers that only HTTP/1.1 needs, once the connection speaks HTTP/2. */
    static void dropHttp1(ChannelPipeline p) {
        for (String name : HTTP1) {
            if (p.get(name) != null) {
                p.remove(name);
            }
        }
        for (String name : p.names()) {
            ChannelHandler h = p.get(name);
            if (h != null && h.getClass().getName().startsWith("io.netty.handler.codec.http.websocketx.")) {
                p.remove(h); // the handshake handler WebSocketServerProtocolHandler added ahead of itself
            }
        }
    }

    static void http2(ChannelPipeline p) {
        p.addLast(Http2FrameCodecBuilder.forServer().build(), new Http2MultiplexHandler(new H2Stream()));
    }

    /** What follows the HTTP/1.1 codec. */
    static void http1Behind(ChannelPipeline p) {
        p.addLast(HTTP1[0], new HttpServerKeepAliveHandler());
        p.addLast(HTTP1[1], new HttpObjectAggregator(1 << 20));
        p.addLast(HTTP1[2], new WebSocketServerProtocolHandler("/ws"));
        p.addLast(HTTP1[3], new H1App());
    }

    public InetSocketAddress address() {
        return (InetSocketAddress) channel.localAddress();
    }

    @Override
    public void close() {
        channel.close().syncUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** TLS: the protocol ALPN chose. */
    private static final class Alpn extends ApplicationProtocolNegotiationHandler {
        Alpn() {
            super(ApplicationProtocolNames.HTTP_1_1);
        }

        @Override
        protected void configurePipeline(ChannelHandlerContext ctx, String protocol) {
            if (ApplicationProtocolNames.HTTP_2.equals(protocol)) {
                http2(ctx.pipeline());
            } else {
                ctx.pipeline().addLast(new HttpServerCodec());
                http1Behind(ctx.pipeline());
            }
        }
    }

    /** How long /slow?ms=N waits, at most 60 s. */
    static long delayOf(String uri) {
        List<String> ms = new QueryStringDecoder(uri).parameters().get("ms");
        return ms == null ? 0 : Math.min(60_000, Long.parseLong(ms.get(0)));
    }

    /** HTTP/1.1 requests, and WebSocket text frames after the upgrade. */
    @ChannelHandler.Sharable
    private static final class H1App extends SimpleChannelInboundHandler<Object> {
        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof HttpServerUpgradeHandler.UpgradeEvent) {
                dropHttp1(ctx.pipeline()); // upgraded to h2c: HTTP/2 frames from now on
            }
            ctx.fireUserEventTriggered(evt);
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof TextWebSocketFrame) {
                ctx.writeAndFlush(new TextWebSocketFrame(((TextWebSocketFrame) msg).text()));
                return;
            }
            if (!(msg instanceof FullHttpRequest)) {
                return;
            }
            FullHttpRequest req = (FullHttpRequest) msg;
            boolean echo = req.uri().startsWith("/echo");
            long delay = echo ? 0 : delayOf(req.uri());
            HttpVersion version = req.protocolVersion();
            boolean keepAlive = HttpUtil.isKeepAlive(req);
            ByteBuf echoed = echo ? req.content().retainedDuplicate() : null;
            Runnable answer = () -> {
                ByteBuf body = echoed != null ? echoed : ByteBufUtil.writeUtf8(ctx.alloc(), "hello\n");
                FullHttpResponse res = new DefaultFullHttpResponse(version, HttpResponseStatus.OK, body);
                res.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain");
                HttpUtil.setContentLength(res, body.readableBytes());
                HttpUtil.setKeepAlive(res, keepAlive);
                ctx.writeAndFlush(res);
            };
            if (delay == 0) {
                answer.run();
            } else {
                // A request in flight for `delay`: the reaper's idle timers hold off by themselves.
                ctx.executor().schedule(answer, delay, TimeUnit.MILLISECONDS);
            }
        }
    }

    /** One per HTTP/2 stream: answers "hello" (or after ?ms=N) once the request ended. */
    @ChannelHandler.Sharable
    private static final class H2Stream extends SimpleChannelInboundHandler<Http2StreamFrame> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, Http2StreamFrame frame) {
            boolean end = frame instanceof Http2HeadersFrame ? ((Http2HeadersFrame) frame).isEndStream()
                    : frame instanceof Http2DataFrame && ((Http2DataFrame) frame).isEndStream();
            if (frame instanceof Http2HeadersFrame) {
                CharSequence path = ((Http2HeadersFrame) frame).headers().path();
                ctx.channel().attr(PATH).set(path == null ? "/" : path.toString());
            }
            if (!end) {
                return;
            }
            String path = ctx.channel().attr(PATH).get();
            long delay = path == null ? 0 : delayOf(path);
            Runnable answer = () -> {
                ctx.write(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status("200")));
                ctx.writeAndFlush(new DefaultHttp2DataFrame(ByteBufUtil.writeUtf8(ctx.alloc(), "hello\n"), true));
            };
            if (delay == 0) {
                answer.run();
            } else {
                ctx.executor().schedule(answer, delay, TimeUnit.MILLISECONDS);
            }
        }
    }

    private static final io.netty.util.AttributeKey<String> PATH = io.netty.util.AttributeKey.valueOf("h2path");

    public static void main(String[] args) throws InterruptedException {
        int port = args.length > 0 ? Integer.parseInt(args[0]) : 8083;
        IdleReaper reaper = reaper();
        HttpServer s = new HttpServer(reaper, port);
        System.out.println("HTTP/1.1 and h2c at http:/" + s.address() + "/ (WebSocket at /ws)");
        s.channel.closeFuture().sync();
    }
}
