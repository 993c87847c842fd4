package io.github.idlereaper.bench;

import io.github.idlereaper.bench.HttpBench.Layer;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.local.LocalAddress;
import io.netty.channel.local.LocalChannel;
import io.netty.channel.local.LocalIoHandler;
import io.netty.channel.local.LocalServerChannel;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.EventExecutor;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.openjdk.jol.info.ClassLayout;

/**
 * Issue #10, per connection: the heap one HTTP/1.1 keep-alive connection retains with and without the HTTP layer, on
 * in-VM LocalChannel pairs (both ends in this JVM, the server end measured by difference). For each configuration
 * ({@link Layer}: PLAIN, HTTP, HOP), n connections are opened to a server whose pipeline {@link HttpBench#host} plus
 * the reaper's {@code install()} builds, and each sends one request and reads its response (so the codec and the
 * layer are in their steady state, between two requests); a class histogram after a full GC before and after
 * (as figure 1, {@link HeapFigure}), over n, per class. Both ends use the unpooled allocator, so that a pool's
 * growth (shared chunks, not per connection) is not counted against the configuration that happened to grow it. PLAIN runs first and again last (the noise). The figure is
 * HTTP − PLAIN, with the classes that make it; HOP − PLAIN is one more handler of any kind. Also the shallow sizes
 * (JOL) of the companion, of Netty's context that holds it, and of the reaper's handler.
 *
 * <pre>
 * java -Xms1g -Xmx2g -XX:+UseG1GC -Dio.netty.leakDetection.level=disabled \
 *     -cp "target/test-classes:target/classes:$(cat target/bench/classpath.txt)" \
 *     io.github.idlereaper.bench.HttpHeapFigure [n=20000] [--out=target/bench/http-heap.md]
 * </pre>
 */
public final class HttpHeapFigure {

    /** Measured in this order; PLAIN again at the end, to show the noise. */
    static final List<Layer> ORDER = List.of(Layer.PLAIN, Layer.HTTP, Layer.HOP, Layer.PLAIN);

    /** One round: bytes per connection in total and per class. */
    record PerConn(double total, Map<String, Double> perClass) {
        /** Bytes per connection of {@code className} over {@code base}'s. */
        double over(PerConn base, String className) {
            return perClass.getOrDefault(className, 0.0) - base.perClass.getOrDefault(className, 0.0);
        }
    }

    /** The rounds of {@link #ORDER}, in order, and the report's Markdown. */
    record Figure(List<PerConn> rounds, String markdown) {
        PerConn plain() {
            return rounds.get(0);
        }

        PerConn http() {
            return rounds.get(1);
        }

        PerConn hop() {
            return rounds.get(2);
        }
    }

    private final EventLoopGroup serverGroup = new MultiThreadIoEventLoopGroup(1, LocalIoHandler.newFactory());
    private final EventLoopGroup clientGroup = new MultiThreadIoEventLoopGroup(1, LocalIoHandler.newFactory());
    private final Handlers.Counter counter = new Handlers.Counter();
    private final Received received = new Received();
    private int seq;

    private HttpHeapFigure() {
    }

    /** Counts the response bytes the clients read, and drops them. */
    @ChannelHandler.Sharable
    static final class Received extends ChannelInboundHandlerAdapter {
        final AtomicLong bytes = new AtomicLong();

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof ByteBuf) {
                bytes.addAndGet(((ByteBuf) msg).readableBytes());
            }
            ReferenceCountUtil.release(msg);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            // abrupt closes at the end of a round
        }
    }

    /** n connections with {@code layer}'s server pipeline, one request served on each; then the histogram. */
    private PerConn round(Layer layer, int n) throws Exception {
        Histogram before = settled(0);
        LocalAddress addr = new LocalAddress("http-heap-" + (seq++));
        ChannelHandler child = HttpBench.childHandler(HttpBench.reaper(layer), layer);
        Channel server = new ServerBootstrap().group(serverGroup).channel(LocalServerChannel.class)
                .childOption(ChannelOption.ALLOCATOR, UnpooledByteBufAllocator.DEFAULT)
                .childHandler(new io.netty.channel.ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(counter, child);
                    }
                }).bind(addr).sync().channel();
        Bootstrap cb = new Bootstrap().group(clientGroup).channel(LocalChannel.class)
                .option(ChannelOption.ALLOCATOR, UnpooledByteBufAllocator.DEFAULT).handler(received);
        List<Channel> clients = new ArrayList<>(n);
        List<ChannelFuture> batch = new ArrayList<>();
        long expected = received.bytes.get();
        long perResponse = -1;
        for (int i = 0; i < n; i++) {
            batch.add(cb.connect(addr, Locals.next()));
            if (batch.size() == 1000 || i == n - 1) {
                for (ChannelFuture f : batch) {
                    Channel c = f.sync().channel();
                    clients.add(c);
                    c.writeAndFlush(HttpBench.REQUEST.retainedDuplicate());
                    if (perResponse < 0) {
                        // The first response's size, to know when every connection got its own.
                        long base = expected;
                        Measure.await("the first response", 10_000, () -> received.bytes.get() > base);
                        Thread.sleep(50);
                        perResponse = received.bytes.get() - base;
                    }
                }
                batch.clear();
            }
        }
        long want = expected + perResponse * n;
        Measure.await(n + " responses", 120_000, () -> received.bytes.get() >= want);
        Measure.await(n + " local connections", 60_000, () -> counter.active.get() == n);
        Histogram after = settled((long) n * 2);
        if (layer == Layer.HTTP) {
            // The layer is there: one companion per connection.
            long companions = after.instances.getOrDefault("io.github.idlereaper.HttpCompanion", 0L)
                    - before.instances.getOrDefault("io.github.idlereaper.HttpCompanion", 0L);
            if (companions != n) {
                throw new IllegalStateException("expected " + n + " HttpCompanion, counted " + companions);
            }
        }
        for (Channel c : clients) {
            c.close();
        }
        for (Channel c : clients) {
            c.closeFuture().sync();
        }
        server.close().sync();
        Measure.await("local connections to close", 60_000, () -> counter.active.get() == 0);
        Map<String, Double> perClass = new HashMap<>();
        for (Map.Entry<String, Long> e : after.bytes.entrySet()) {
            long d = e.getValue() - before.bytes.getOrDefault(e.getKey(), 0L);
            if (d != 0) {
                perClass.put(e.getKey(), (double) d / n);
            }
        }
        for (Map.Entry<String, Long> e : before.bytes.entrySet()) {
            if (!after.bytes.containsKey(e.getKey())) {
                perClass.put(e.getKey(), (double) -e.getValue() / n);
            }
        }
        return new PerConn((double) (after.totalBytes - before.totalBytes) / n, perClass);
    }

    /** A histogram taken once exactly {@code expected} LocalChannels are alive. */
    private Histogram settled(long expected) throws Exception {
        long seen = -1;
        for (int attempt = 0; attempt < 100; attempt++) {
            for (EventLoopGroup g : List.of(serverGroup, clientGroup)) {
                for (EventExecutor e : g) {
                    e.submit(() -> { }).sync();
                }
            }
            Histogram h = Histogram.take();
            seen = h.instances.getOrDefault(LocalChannel.class.getName(), 0L);
            if (seen == expected) {
                return h;
            }
            Thread.sleep(50);
        }
        throw new IllegalStateException("expected " + expected + " live LocalChannel, saw " + seen);
    }

    private void close() {
        serverGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        clientGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** The classes whose bytes per connection differ between {@code a} and {@code b} by 0.5 B or more. */
    static String classes(PerConn a, PerConn b) {
        Map<String, Double> d = new HashMap<>(a.perClass());
        b.perClass().forEach((k, v) -> d.merge(k, -v, Double::sum));
        StringBuilder sb = new StringBuilder();
        d.entrySet().stream()
                .filter(e -> Math.abs(e.getValue()) >= 0.5)
                .sorted((x, y) -> Double.compare(Math.abs(y.getValue()), Math.abs(x.getValue())))
                .limit(8)
                .forEach(e -> sb.append(sb.length() == 0 ? "" : ", ").append(simpleName(e.getKey()))
                        .append(String.format(Locale.ROOT, " %+.1f", e.getValue())));
        return sb.length() == 0 ? "no class differs by 0.5 B or more" : sb.toString();
    }

    private static String simpleName(String className) {
        int dot = className.lastIndexOf('.');
        return dot < 0 ? className : className.substring(dot + 1);
    }

    static long shallow(String className) throws ClassNotFoundException {
        return ClassLayout.parseClass(Class.forName(className)).instanceSize();
    }

    /** Measures, after {@code warmup} connections per configuration. */
    static Figure run(int n, int warmup) throws Exception {
        HttpHeapFigure f = new HttpHeapFigure();
        try {
            for (Layer l : ORDER) {
                f.round(l, warmup);
            }
            f.round(Layer.PLAIN, n); // grows the shared tables (the local registry) to n once
            List<PerConn> got = new ArrayList<>();
            for (Layer l : ORDER) {
                PerConn p = f.round(l, n);
                got.add(p);
                System.out.printf(Locale.ROOT, "  %-8s %.1f B/conn%n", l, p.total());
            }
            PerConn plain = got.get(0);
            PerConn http = got.get(1);
            PerConn hop = got.get(2);
            PerConn plainAgain = got.get(3);
            long companion = shallow("io.github.idlereaper.HttpCompanion");
            long context = shallow("io.netty.channel.DefaultChannelHandlerContext");
            long handler = shallow("io.github.idlereaper.ReaperHandler");
            StringBuilder sb = new StringBuilder();
            sb.append(String.format(Locale.ROOT, "Per connection, retained heap (HttpHeapFigure): %,d in-VM "
                    + "LocalChannel pairs per configuration, one request served on each, class histograms after a "
                    + "full GC; %s.%n%n", n, System.getProperty("java.vm.name") + " " + Runtime.version()));
            sb.append("| configuration | B per connection (both ends) | over the plain reaper | classes that differ |\n");
            sb.append("|---|---:|---:|---|\n");
            sb.append(String.format(Locale.ROOT, "| %s | %.1f | | |%n", Layer.PLAIN.label, plain.total()));
            sb.append(String.format(Locale.ROOT, "| %s | %.1f | %+.1f | %s |%n", Layer.HTTP.label, http.total(),
                    http.total() - plain.total(), classes(http, plain)));
            sb.append(String.format(Locale.ROOT, "| %s | %.1f | %+.1f | %s |%n", Layer.HOP.label, hop.total(),
                    hop.total() - plain.total(), classes(hop, plain)));
            sb.append(String.format(Locale.ROOT, "| %s, again at the end | %.1f | %+.1f | %s |%n", Layer.PLAIN.label,
                    plainAgain.total(), plainAgain.total() - plain.total(), classes(plainAgain, plain)));
            sb.append(String.format(Locale.ROOT, "%nShallow sizes (JOL, this JVM's layout): HttpCompanion %d B, "
                    + "DefaultChannelHandlerContext (Netty's node for it in the pipeline) %d B, ReaperHandler %d B.%n",
                    companion, context, handler));
            return new Figure(got, sb.toString());
        } finally {
            f.close();
        }
    }

    public static void main(String[] args) throws Exception {
        int n = 20_000;
        Path out = Path.of("target", "bench", "http-heap.md");
        for (String a : args) {
            if (a.startsWith("--out=")) {
                out = Path.of(a.substring("--out=".length()));
            } else {
                n = Integer.parseInt(a);
            }
        }
        System.out.println(ClassLayout.parseClass(Class.forName("io.github.idlereaper.HttpCompanion")).toPrintable());
        String text = run(n, Math.min(n, 500)).markdown();
        System.out.println(text);
        Files.createDirectories(out.toAbsolutePath().getParent());
        Files.writeString(out, text, StandardCharsets.UTF_8);
        System.out.println("Written to " + out);
        System.exit(0);
    }
}
