package io.github.idlereaper.bench;

import io.github.idlereaper.IdleReaper;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandler;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.ChannelOutboundHandler;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * The parts the HTTP layer's benchmarks share (issue #10): the configurations, the server pipeline (the reaper's
 * handler first, {@link HttpServerCodec}, the HTTP layer's companion when on, a tiny application that answers every
 * request with a {@link FullHttpResponse}), and one such connection on a {@link CallerLoop}, for JMH and the tests.
 * The pipeline is built exactly as a server's is: the host's initializer behind {@link IdleReaper#install}'s, on a
 * channel with a parent (the layer is for a server's accepted channels).
 */
final class HttpBench {

    /** The configurations compared: the same reaper options, with and without {@code http()}. */
    enum Layer {
        /** The reaper with read idle 60 s, no HTTP layer. */
        PLAIN("plain reaper"),
        /** The same reaper with {@code http()} (its defaults, but no request limit; see {@link #reaper}). */
        HTTP("reaper + http()"),
        /**
         * The plain reaper plus a handler that only forwards, where the companion sits (right after the codec) and
         * of the same kind (it implements both handler interfaces itself, so Netty calls it for every event): what
         * one more handler in that place costs, so that HTTP minus HOP is the companion's own work.
         */
        HOP("plain reaper + forwarding handler"),
        /**
         * As {@link #HOP}, but the forwarder extends {@link ChannelDuplexHandler} and overrides only what the
         * companion needs per request ({@code channelRead}, {@code write}, {@code flush}): Netty's skip mask then
         * passes it by for {@code channelReadComplete} and {@code read}. HOP − HOP_SKIP is what implementing the
         * interfaces directly (to save the adapter's one-byte field) costs per request.
         */
        HOP_SKIP("plain reaper + forwarding ChannelDuplexHandler");

        final String label;

        Layer(String label) {
            this.label = label;
        }
    }

    /** What wrk sends: a GET with a Host header, keep-alive by HTTP/1.1's default. */
    static final String REQUEST_TEXT = "GET / HTTP/1.1\r\nHost: 127.0.0.1:18080\r\n\r\n";
    /** The request, pre-encoded; each use takes a {@code retainedDuplicate()}. */
    static final ByteBuf REQUEST = Unpooled.unreleasableBuffer(
            Unpooled.copiedBuffer(REQUEST_TEXT, StandardCharsets.US_ASCII)).asReadOnly();
    /** The response body, as the example server's: "hello\n". */
    static final ByteBuf BODY = Unpooled.unreleasableBuffer(Unpooled.copiedBuffer("hello\n", StandardCharsets.US_ASCII));

    private HttpBench() {
    }

    /**
     * The reaper of {@code layer}: read idle 60 s; with {@code http()} for {@link Layer#HTTP}. The request limit is
     * off ({@code maxRequestsPerConnection(0)}): with its default of 1000 the measured connection would be closed
     * after its 1000th response, and a load generator's connections rotated, which measures the rotation (a
     * feature), not the layer's cost per request.
     */
    static IdleReaper reaper(Layer layer) {
        IdleReaper.Builder b = IdleReaper.builder().readIdleTimeout(Duration.ofSeconds(60));
        if (layer == Layer.HTTP) {
            b.http().maxRequestsPerConnection(0);
        }
        return b.build();
    }

    /** The host's own initializer: the codec and the application (and, for the HOP layers, the forwarder). */
    static ChannelInitializer<Channel> host(Layer layer) {
        return new ChannelInitializer<>() {
            @Override
            protected void initChannel(Channel ch) {
                ch.pipeline().addLast("codec", new HttpServerCodec());
                if (layer == Layer.HOP) {
                    ch.pipeline().addLast("forward", new Forward());
                } else if (layer == Layer.HOP_SKIP) {
                    ch.pipeline().addLast("forward", new ForwardSkipping());
                }
                ch.pipeline().addLast("app", App.INSTANCE);
            }
        };
    }

    /** The child handler a server with {@code reaper} installed gives each accepted channel. */
    static ChannelHandler childHandler(IdleReaper reaper, Layer layer) {
        ServerBootstrap b = new ServerBootstrap().childHandler(host(layer));
        reaper.install(b);
        return b.config().childHandler();
    }

    /**
     * The application: answers each request, once its last content arrived, with a 200 "hello\n" (the example
     * server's answer, without its aggregator), with {@code writeAndFlush(msg)} as most servers do.
     */
    @ChannelHandler.Sharable
    static final class App extends ChannelInboundHandlerAdapter {
        static final App INSTANCE = new App();

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            boolean end = msg instanceof LastHttpContent;
            ReferenceCountUtil.release(msg);
            if (end) {
                FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                        BODY.retainedDuplicate());
                res.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.TEXT_PLAIN)
                        .setInt(HttpHeaderNames.CONTENT_LENGTH, BODY.readableBytes());
                ctx.writeAndFlush(res);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    /**
     * Forwards every event, implementing both handler interfaces itself as the companion does (Netty's skip mask
     * then skips none of its methods).
     */
    static final class Forward implements ChannelInboundHandler, ChannelOutboundHandler {
        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
        }

        @Override
        public void handlerRemoved(ChannelHandlerContext ctx) {
        }

        @Override
        @SuppressWarnings("deprecation")
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.fireExceptionCaught(cause);
        }

        @Override
        public void channelRegistered(ChannelHandlerContext ctx) {
            ctx.fireChannelRegistered();
        }

        @Override
        public void channelUnregistered(ChannelHandlerContext ctx) {
            ctx.fireChannelUnregistered();
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            ctx.fireChannelActive();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            ctx.fireChannelInactive();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ctx.fireChannelRead(msg);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.fireChannelReadComplete();
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            ctx.fireUserEventTriggered(evt);
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            ctx.fireChannelWritabilityChanged();
        }

        @Override
        public void bind(ChannelHandlerContext ctx, SocketAddress localAddress, ChannelPromise promise) {
            ctx.bind(localAddress, promise);
        }

        @Override
        public void connect(ChannelHandlerContext ctx, SocketAddress remote, SocketAddress local, ChannelPromise p) {
            ctx.connect(remote, local, p);
        }

        @Override
        public void disconnect(ChannelHandlerContext ctx, ChannelPromise promise) {
            ctx.disconnect(promise);
        }

        @Override
        public void close(ChannelHandlerContext ctx, ChannelPromise promise) {
            ctx.close(promise);
        }

        @Override
        public void deregister(ChannelHandlerContext ctx, ChannelPromise promise) {
            ctx.deregister(promise);
        }

        @Override
        public void read(ChannelHandlerContext ctx) {
            ctx.read();
        }

        @Override
        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
            ctx.write(msg, promise);
        }

        @Override
        public void flush(ChannelHandlerContext ctx) {
            ctx.flush();
        }
    }

    /**
     * Forwards {@code channelRead}, {@code write} and {@code flush}, and inherits the rest from Netty's adapter,
     * whose methods Netty skips.
     */
    static final class ForwardSkipping extends ChannelDuplexHandler {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ctx.fireChannelRead(msg);
        }

        @Override
        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
            ctx.write(msg, promise);
        }

        @Override
        public void flush(ChannelHandlerContext ctx) {
            ctx.flush();
        }
    }

    /** A {@link SimChannel} whose "socket" counts the bytes it takes. */
    static final class CountingChannel extends SimChannel {
        long written;

        CountingChannel(Channel parent) {
            super(parent);
        }

        @Override
        protected void doWrite(ChannelOutboundBuffer in) {
            Object m;
            while ((m = in.current()) != null) {
                if (m instanceof ByteBuf) {
                    written += ((ByteBuf) m).readableBytes();
                }
                in.remove();
            }
        }
    }

    /**
     * One keep-alive HTTP/1.1 connection of a server with the reaper installed, on a {@link CallerLoop}: the caller's
     * thread is its event loop, so a request runs the whole pipeline inline, in and out, through the channel's real
     * outbound buffer and flush. The wheel's scheduled tasks never run: its clock stands still, which is a server's
     * steady path between two ticks (the HTTP layer's visits and timers are not part of a request's cost).
     */
    static final class Conn implements AutoCloseable {
        final Layer layer;
        final CallerLoop loop = new CallerLoop();
        final CountingChannel channel;
        final ChannelPipeline pipeline;

        Conn(Layer layer) {
            this.layer = layer;
            channel = new CountingChannel(new SimChannel());
            channel.pipeline().addLast(childHandler(reaper(layer), layer));
            loop.register(channel);
            loop.runTasks();
            pipeline = channel.pipeline();
            boolean companion = pipeline.get(IdleReaper.HTTP_NAME) != null;
            if (companion != (layer == Layer.HTTP)) {
                throw new IllegalStateException(layer + ": the HTTP layer's companion is "
                        + (companion ? "" : "not ") + "in the pipeline: " + pipeline.names());
            }
        }

        /** One request in (a socket read: a buffer, then the end of the batch), its response out. */
        long request() {
            pipeline.fireChannelRead(REQUEST.retainedDuplicate());
            pipeline.fireChannelReadComplete();
            return channel.written;
        }

        @Override
        public void close() {
            channel.close();
            loop.runTasks();
            loop.shutdown();
        }
    }
}
