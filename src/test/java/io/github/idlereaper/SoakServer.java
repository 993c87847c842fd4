package io.github.idlereaper;

import io.github.idlereaper.protocol.LineHeartbeat;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.LineBasedFrameDecoder;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerKeepAliveHandler;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.string.StringDecoder;
import io.netty.handler.codec.string.StringEncoder;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * The soak's server ({@link SoakMain}): four ports on one epoll event loop group, each with the reaper installed the
 * way a user installs it, and a recorder at the tail of every pipeline that dates each accept, reap and close. It
 * also injects the soak's in-process faults: an event loop held for 2 s, a listener that throws on every 50th reap,
 * and a host handler that throws on the {@link ReapEvent} on one connection in ten.
 */
final class SoakServer implements AutoCloseable {

    /** The tick of every reaper here: the most a reap may come after its bound, before the loop's own delay. */
    static final Duration TICK = Duration.ofMillis(200);

    /** The soak's ports, each with its own reaper. */
    enum Port {
        /** Line protocol with heartbeats, peer-ping enforcement and half-close. */
        LINE,
        /** The same reaper as LINE; the application streams to the peer, marked busy; a fixed 64 KiB send buffer. */
        STREAM,
        /** HTTP/1.1 with the HTTP layer. */
        HTTP,
        /** Line protocol with a maximum connection age and no heartbeat. */
        AGE
    }

    /** One accepted connection, as the server saw it. Times are {@link System#nanoTime()}, 0 for "not yet". */
    static final class Conn {
        final SoakGroup group;
        final String address;
        final int remotePort;
        final int loop;
        final long openNanos;
        volatile long reapNanos;
        volatile ReapReason reason;
        volatile long closeNanos;

        Conn(SoakGroup group, String address, int remotePort, int loop, long openNanos) {
            this.group = group;
            this.address = address;
            this.remotePort = remotePort;
            this.loop = loop;
            this.openNanos = openNanos;
        }
    }

    private static final AttributeKey<Conn> CONN = AttributeKey.valueOf("idlereaper.soak.conn");
    private static final String HOST_THROWS = "soak: a host handler throws on ReapEvent";
    private static final String LISTENER_THROWS = "soak: a listener throws";

    private final EventLoopGroup group;
    private final List<EventExecutor> loops = new ArrayList<>();
    private final Map<String, SoakGroup> groups;
    private final Map<Port, Integer> ports = new ConcurrentHashMap<>();
    private final List<Channel> servers = new ArrayList<>();
    private final List<IdleReaper> reapers = new ArrayList<>();
    final Set<Conn> open = ConcurrentHashMap.newKeySet();
    final Queue<Conn> closed = new ConcurrentLinkedQueue<>();
    /** Exceptions that reached the recorder, other than I/O errors and the soak's own throws: each is a defect. */
    final List<String> errors = new CopyOnWriteArrayList<>();
    final AtomicLong ioErrors = new AtomicLong();
    final AtomicLong hostThrows = new AtomicLong();
    final AtomicLong listenerCalls = new AtomicLong();
    final AtomicLong listenerThrows = new AtomicLong();
    final AtomicLong unknownPeers = new AtomicLong();
    private final java.util.concurrent.atomic.AtomicInteger peakOpen = new java.util.concurrent.atomic.AtomicInteger();
    private final List<SoakReport.Hold> lags = java.util.Collections.synchronizedList(new ArrayList<>());
    private static final long SAMPLE_NANOS = TimeUnit.MILLISECONDS.toNanos(50);
    private static final long LAG_FLOOR_NANOS = TimeUnit.MILLISECONDS.toNanos(20);

    /**
     * Binds the four ports on {@code bindAddress}.
     *
     * @param groups the group of each client address
     */
    SoakServer(String bindAddress, Map<String, SoakGroup> groups) throws InterruptedException {
        this.groups = groups;
        TcpTransport transport = io.netty.channel.epoll.Epoll.isAvailable() ? TcpTransport.EPOLL : TcpTransport.NIO;
        this.group = transport.group(2);
        group.forEach(loops::add);
        for (int i = 0; i < loops.size(); i++) {
            sampleLag(i, System.nanoTime());
        }
        for (Port port : Port.values()) {
            IdleReaper reaper = reaper(port);
            reapers.add(reaper);
            ServerBootstrap b = new ServerBootstrap().group(group).channel(transport.serverChannel())
                    .option(ChannelOption.SO_BACKLOG, 4096)
                    .childOption(ChannelOption.ALLOW_HALF_CLOSURE, port == Port.LINE || port == Port.STREAM)
                    .childHandler(initializer(port));
            if (port == Port.STREAM) {
                b.childOption(ChannelOption.SO_SNDBUF, 64 * 1024);
            }
            reaper.install(b);
            Channel server = b.bind(bindAddress, 0).sync().channel();
            servers.add(server);
            ports.put(port, ((InetSocketAddress) server.localAddress()).getPort());
        }
    }

    int port(Port port) {
        return ports.get(port);
    }

    String transport() {
        return group.next().getClass().getSimpleName() + " on " + servers.get(0).getClass().getSimpleName();
    }

    /** The most connections open at once. */
    int peakOpen() {
        return peakOpen.get();
    }

    /** The reapers, one per {@link Port}, in its order. */
    List<IdleReaper> reapers() {
        return reapers;
    }

    private IdleReaper reaper(Port port) {
        IdleReaper.Builder b = IdleReaper.builder().tickResolution(TICK).listener(this::onReap);
        switch (port) {
            case LINE:
            case STREAM:
                LineHeartbeat heartbeat = LineHeartbeat.of("PING\n", StandardCharsets.US_ASCII)
                        .recognizing("PING").recognizingPong("PONG").watchAfter("strings")
                        .withGoodbye("BYE " + LineHeartbeat.REASON + "\n");
                return b.readIdleTimeout(Duration.ofSeconds(10))
                        .writeStallTimeout(Duration.ofSeconds(6))
                        .heartbeat(Duration.ofSeconds(4), Duration.ofSeconds(2), 2, heartbeat)
                        .permitPeerPings(Duration.ofSeconds(1))
                        .halfCloseTimeout(Duration.ofSeconds(5))
                        .tcpKeepAlive(Duration.ofSeconds(60), Duration.ofSeconds(10), 3)
                        .build();
            case HTTP:
                return b.http()
                        .keepAliveTimeout(Duration.ofSeconds(5))
                        .requestHeaderTimeout(Duration.ofSeconds(4))
                        .requestBodyTimeout(Duration.ofSeconds(4))
                        .maxRequestsPerConnection(0)
                        .build();
            default:
                return b.readIdleTimeout(Duration.ofSeconds(10))
                        .maxConnectionAge(Duration.ofSeconds(20))
                        .maxConnectionAgeJitter(0.1)
                        .maxConnectionAgeGrace(Duration.ofSeconds(2))
                        .build();
        }
    }

    /** The listener: counts, and throws on every 50th call (a listener that throws only logs). */
    private void onReap(Channel channel, ReapEvent event) {
        if (listenerCalls.incrementAndGet() % 50 == 0) {
            listenerThrows.incrementAndGet();
            throw new IllegalStateException(LISTENER_THROWS);
        }
    }

    private ChannelInitializer<Channel> initializer(Port port) {
        return new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
                InetSocketAddress remote = (InetSocketAddress) ch.remoteAddress();
                String address = remote.getAddress().getHostAddress();
                SoakGroup g = groups.get(address);
                if (g == null) {
                    unknownPeers.incrementAndGet();
                }
                Conn conn = new Conn(g, address, remote.getPort(), loops.indexOf(ch.eventLoop()), System.nanoTime());
                ch.attr(CONN).set(conn);
                open.add(conn);
                peakOpen.accumulateAndGet(open.size(), Math::max);
                ChannelPipeline p = ch.pipeline();
                if (port == Port.HTTP) {
                    p.addLast("codec", new HttpServerCodec());
                    p.addLast(new HttpServerKeepAliveHandler());
                    p.addLast(new HttpObjectAggregator(64 * 1024));
                    p.addLast(new HttpApp());
                } else {
                    p.addLast("lines", new LineBasedFrameDecoder(4096));
                    p.addLast("strings", new StringDecoder(StandardCharsets.US_ASCII));
                    p.addLast(new StringEncoder(StandardCharsets.US_ASCII));
                    p.addLast(new LineApp());
                }
                if (conn.remotePort / 2 % 10 == 3) { // one in ten (Linux gives connect() even ports)
                    p.addLast(new ThrowOnReap());
                }
                p.addLast(RECORDER_NAME, recorder);
            }
        };
    }

    private static final String RECORDER_NAME = "soakRecorder";

    /** Dates the reap and the close of every connection, and sorts the exceptions that reach the end. */
    private final ChannelHandler recorder = new Recorder();

    @ChannelHandler.Sharable
    private final class Recorder extends ChannelInboundHandlerAdapter {
        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof ReapEvent) {
                Conn conn = ctx.channel().attr(CONN).get();
                if (conn.reapNanos == 0) {
                    conn.reason = ((ReapEvent) evt).reason();
                    conn.reapNanos = System.nanoTime();
                }
            }
            ctx.fireUserEventTriggered(evt);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            Conn conn = ctx.channel().attr(CONN).get();
            conn.closeNanos = System.nanoTime();
            open.remove(conn);
            closed.add(conn);
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (HOST_THROWS.equals(cause.getMessage())) {
                hostThrows.incrementAndGet();
            } else if (cause instanceof IOException) {
                ioErrors.incrementAndGet();
            } else if (errors.size() < 20) {
                errors.add(ctx.channel() + ": " + cause);
            }
            ctx.close();
        }
    }

    /** A host handler that passes the {@link ReapEvent} on, then throws. */
    private static final class ThrowOnReap extends ChannelInboundHandlerAdapter {
        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            ctx.fireUserEventTriggered(evt);
            if (evt instanceof ReapEvent) {
                throw new IllegalStateException(HOST_THROWS);
            }
        }
    }

    /**
     * The line application: {@code STREAM SIZE PERIOD_MS} starts a stream of SIZE bytes every PERIOD_MS while the
     * channel is writable, as work in flight ({@link IdleReaper#busy}) until the channel closes; {@code BURST SIZE}
     * writes SIZE bytes at once; every other line
     * (messages, pings, pongs) is read and dropped.
     */
    private static final class LineApp extends SimpleChannelInboundHandler<String> {
        private ScheduledFuture<?> stream;
        private Busy busy;

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, String line) {
            if (line.startsWith("BURST ")) {
                int size = Integer.parseInt(line.substring("BURST ".length()));
                ctx.writeAndFlush(ctx.alloc().buffer(size).writeZero(size));
            } else if (line.startsWith("STREAM ") && stream == null) {
                String[] parts = line.split(" ");
                int size = Integer.parseInt(parts[1]);
                long period = Long.parseLong(parts[2]);
                Channel ch = ctx.channel();
                busy = IdleReaper.busy(ch);
                stream = ch.eventLoop().scheduleAtFixedRate(() -> {
                    if (ch.isWritable()) {
                        ch.writeAndFlush(ch.alloc().buffer(size).writeZero(size));
                    }
                }, period, period, TimeUnit.MILLISECONDS);
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (stream != null) {
                stream.cancel(false);
                busy.close();
            }
            ctx.fireChannelInactive();
        }
    }

    /** The HTTP application: {@code /slow?ms=N} answers after N ms, anything else at once. */
    private static final class HttpApp extends SimpleChannelInboundHandler<FullHttpRequest> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
            boolean keepAlive = HttpUtil.isKeepAlive(request);
            String uri = request.uri();
            long delay = uri.startsWith("/slow?ms=") ? Long.parseLong(uri.substring("/slow?ms=".length())) : 0;
            FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                    Unpooled.copiedBuffer("ok\n", StandardCharsets.US_ASCII));
            HttpUtil.setContentLength(response, 3);
            HttpUtil.setKeepAlive(response, keepAlive);
            if (delay == 0) {
                ctx.writeAndFlush(response);
            } else {
                ctx.executor().schedule(() -> {
                    if (ctx.channel().isActive()) {
                        ctx.writeAndFlush(response);
                    } else {
                        response.release();
                    }
                }, delay, TimeUnit.MILLISECONDS);
            }
        }
    }

    /**
     * Holds event loop {@code index} for {@code millis}, as a blocking handler or a long collection would: the
     * loop's thread parks and serves nothing. Returns the hold's start and end, in {@link System#nanoTime()}.
     */
    long[] blockLoop(int index, long millis) throws Exception {
        EventLoop loop = (EventLoop) loops.get(index);
        return loop.submit(() -> {
            long start = System.nanoTime();
            long end = start + TimeUnit.MILLISECONDS.toNanos(millis);
            for (long now = start; now - end < 0; now = System.nanoTime()) {
                LockSupport.parkNanos(end - now);
            }
            return new long[] {start, System.nanoTime()};
        }).get(millis + 30_000, TimeUnit.MILLISECONDS);
    }

    /** Every 50 ms, how late a task on loop {@code index} ran: its delays over 20 ms become {@link #lags}. */
    private void sampleLag(int index, long due) {
        if (group.isShuttingDown()) {
            return;
        }
        loops.get(index).schedule(() -> {
            long now = System.nanoTime();
            if (now - due > LAG_FLOOR_NANOS) {
                lags.add(new SoakReport.Hold(index, due, now));
            }
            sampleLag(index, now + SAMPLE_NANOS);
        }, Math.max(0, due - System.nanoTime()), TimeUnit.NANOSECONDS);
    }

    /** The loops' delays over 20 ms, as sampled: when each loop could not run a task that was due. */
    List<SoakReport.Hold> lags() {
        return lags;
    }

    /** The largest loop lag any reaper recorded, in ms. */
    long maxLoopLagMillis() {
        long max = 0;
        for (IdleReaper r : reapers) {
            max = Math.max(max, r.stats().maxLoopLag().toMillis());
        }
        return max;
    }

    @Override
    public void close() throws InterruptedException {
        for (Channel server : servers) {
            ChannelFuture f = server.close();
            f.await(10, TimeUnit.SECONDS);
        }
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).await(30, TimeUnit.SECONDS);
    }
}
