package io.github.idlereaper;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.DefaultChannelId;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.OptionsBuilder;

/**
 * Issue #10: what the HTTP layer adds per request, on one keep-alive HTTP/1.1 connection. The pipeline is the
 * reaper's handler, Netty's {@code HttpServerCodec} and a host handler that answers each request's
 * {@code LastHttpContent} with a 5-byte {@code FullHttpResponse}; with {@code http}, the companion sits right after
 * the codec, added the way {@link IdleReaper#install} does it (a child channel: it has a parent). One op: one
 * pre-encoded GET in, its response out (read and released). The difference between the two configurations is the
 * layer's cost: the reaper handler's {@code HTTP_WAIT} check in channelRead, {@code firstByte}, and the companion's
 * channelRead/write/flush. Run (about 5 minutes):
 *
 * <pre>
 * mvn -q -B -o -DskipTests test-compile &amp;&amp; mvn -q -B -o dependency:build-classpath -Dmdep.includeScope=test \
 *     -Dmdep.outputFile=target/bench/classpath.txt
 * java -cp "target/test-classes:target/classes:$(cat target/bench/classpath.txt)" org.openjdk.jmh.Main \
 *     'io.github.idlereaper.HttpLayerBenchmark' -f 2 -wi 5 -i 8 -prof gc
 * </pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class HttpLayerBenchmark {

    private static final ByteBuf REQUEST = Unpooled.unreleasableBuffer(Unpooled.copiedBuffer(
            "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n",
            StandardCharsets.US_ASCII)).asReadOnly();
    private static final ByteBuf BODY = Unpooled.unreleasableBuffer(
            Unpooled.copiedBuffer("hello", StandardCharsets.US_ASCII));

    @Param({"plain", "http"})
    public String layer;

    private EmbeddedChannel parent;
    private EmbeddedChannel ch;

    /** Answers each request when its last content arrives, as a keep-alive server does. */
    static final class Host extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            boolean end = msg instanceof LastHttpContent;
            ReferenceCountUtil.release(msg);
            if (end) {
                DefaultFullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                        BODY.retainedDuplicate());
                res.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, 5);
                ctx.writeAndFlush(res, ctx.voidPromise());
            }
        }
    }

    /** One connection with the reaper's handler, the codec, the host and, for {@code http}, the companion. */
    static EmbeddedChannel connection(IdleReaper reaper, EmbeddedChannel parent) {
        EmbeddedChannel ch = new EmbeddedChannel(parent, DefaultChannelId.newInstance(), false, false);
        ChannelHandler h = reaper.newHandler();
        ch.pipeline().addLast(IdleReaper.HANDLER_NAME, h);
        ch.pipeline().addLast("codec", new HttpServerCodec());
        ch.pipeline().addLast("host", new Host());
        try {
            ch.register();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        reaper.addWatchers(ch, h);
        return ch;
    }

    static IdleReaper reaper(boolean http) {
        IdleReaper.Builder b = IdleReaper.builder().readIdleTimeout(Duration.ofSeconds(60));
        if (http) {
            b.http().maxRequestsPerConnection(0); // the default 1000 would close this one connection
        }
        return b.build();
    }

    @Setup
    public void setUp() {
        boolean http = layer.equals("http");
        parent = new EmbeddedChannel();
        ch = connection(reaper(http), parent);
        if (http != (ch.pipeline().get(HttpCompanion.class) != null)) {
            throw new IllegalStateException("companion present: " + !http + " " + ch.pipeline().names());
        }
        for (int i = 0; i < 3; i++) {
            if (request() < 5) {
                throw new IllegalStateException("no response");
            }
        }
    }

    @TearDown
    public void tearDown() {
        ch.finishAndReleaseAll();
        parent.finishAndReleaseAll();
    }

    /** One request in, its response out; returns the response's byte count. */
    @Benchmark
    public int request() {
        return serve(ch);
    }

    static int serve(EmbeddedChannel ch) {
        ch.writeInbound(REQUEST.retainedDuplicate());
        int n = 0;
        Object m;
        while ((m = ch.readOutbound()) != null) {
            if (m instanceof ByteBuf) {
                n += ((ByteBuf) m).readableBytes();
            }
            ReferenceCountUtil.release(m);
        }
        return n;
    }

    public static void main(String[] args) throws Exception {
        new Runner(new OptionsBuilder().include(HttpLayerBenchmark.class.getName() + "\\.").forks(2)
                .warmupIterations(5).measurementIterations(8).addProfiler("gc").build()).run();
    }
}
