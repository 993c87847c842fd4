package io.github.idlereaper;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.codec.LineBasedFrameDecoder;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.string.StringDecoder;
import io.netty.util.AttributeKey;
import io.netty.util.ReferenceCountUtil;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * One group of the soak's clients ({@link SoakMain}), run in its own JVM inside its group's network namespace:
 * {@code SoakClient GROUP HOST PORT COUNT DURATION_MS SEED}. It opens COUNT connections, acts as its
 * {@link SoakGroup} says, and opens a new connection for each one the server reaps while the run has time for
 * another whole cycle. Every connection's record is one line on stdout when it closes (or at the end):
 * {@code R LOCAL_PORT CONNECT_START ANCHOR CLOSE_SEEN CLIENT_LATE}, times in {@link System#nanoTime()} (one clock
 * for every process on the host); CLIENT_LATE is 1 when this client itself let a gap grow to its group's timeout,
 * which would make a reap its own doing, not the reaper's. {@code S START END}: this client's own loop could not run
 * from START to END (see {@link #watchOwnLoop}).
 *
 * <p>Its stdin takes {@code QUIET} (a vanishing group stops sending; its anchor is its last byte), {@code RECONNECT}
 * (after its link came back: drop every connection with an RST and open new ones) and {@code END} (print the
 * records of the open connections, {@code DONE}, and exit).
 */
final class SoakClient {

    private static final PrintStream OUT = System.out;
    private static final AttributeKey<Conn> CONN = AttributeKey.valueOf("idlereaper.soak.client");

    private final SoakGroup group;
    private final InetSocketAddress server;
    private final int count;
    private final long endNanos;
    private final SplittableRandom random;
    private final EventLoopGroup loop;
    private final Bootstrap bootstrap;
    private final Set<Conn> conns = ConcurrentHashMap.newKeySet();
    private final Semaphore connecting = new Semaphore(64);
    private final AtomicInteger ready = new AtomicInteger();
    private final AtomicInteger failures = new AtomicInteger();
    private volatile boolean quiet;
    private volatile boolean ended;

    private SoakClient(SoakGroup group, InetSocketAddress server, int count, long durationMillis, long seed) {
        this.group = group;
        this.server = server;
        this.count = count;
        this.endNanos = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(durationMillis);
        this.random = new SplittableRandom(seed);
        this.loop = TcpTransport.NIO.group(1);
        this.bootstrap = new Bootstrap().group(loop).channel(TcpTransport.NIO.channel())
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 10_000)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        pipeline(ch.pipeline());
                    }
                });
        if (group == SoakGroup.SLOW_READER || group == SoakGroup.STOPPED_READER) {
            bootstrap.option(ChannelOption.SO_RCVBUF, 8192);
        }
        if (group == SoakGroup.SLOW_READER) {
            bootstrap.option(ChannelOption.AUTO_READ, false)
                    .option(ChannelOption.RCVBUF_ALLOCATOR, new FixedRecvByteBufAllocator(4096).maxMessagesPerRead(1));
        }
    }

    public static void main(String[] args) throws Exception {
        SoakClient c = new SoakClient(SoakGroup.valueOf(args[0]),
                new InetSocketAddress(args[1], Integer.parseInt(args[2])), Integer.parseInt(args[3]),
                Long.parseLong(args[4]), Long.parseLong(args[5]));
        c.run();
    }

    private void run() throws Exception {
        watchOwnLoop(System.nanoTime() + WATCH_NANOS);
        // At most 400 connects a second: a group connected all at once would also come due all at once, a burst of
        // a thousand expiries that the reaper drains in slices between passes of I/O (docs/design.md), which is
        // figure 5's business (docs/performance.md), not the soak's.
        long start = System.nanoTime();
        for (int i = 0; i < count; i++) {
            LockSupport.parkNanos(start + i * CONNECT_SPACING_NANOS - System.nanoTime());
            connecting.acquireUninterruptibly(); // 64 connects at a time; only this thread waits for a permit
            connect(i, true);
        }
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line; (line = in.readLine()) != null; ) {
            switch (line.trim()) {
                case "QUIET":
                    quiet = true;
                    for (Conn c : conns) {
                        c.anchor = c.lastSend;
                    }
                    OUT.println("QUIET " + conns.size());
                    break;
                case "RECONNECT":
                    quiet = false;
                    // On a thread of its own, so that an END that comes while it connects is heard at once.
                    Thread reconnect = new Thread(this::reconnect, "soak-reconnect");
                    reconnect.setDaemon(true);
                    reconnect.start();
                    break;
                case "END":
                    end();
                    return;
                default:
                    break;
            }
        }
        end();
    }

    /**
     * Every 100 ms, how late a task on this client's own loop ran: a delay over 300 ms is printed as
     * {@code S START END}, since in that time this client answered nothing, and a reap of a kept connection then may
     * be its own doing.
     */
    private void watchOwnLoop(long due) {
        loop.schedule(() -> {
            long now = System.nanoTime();
            if (now - due > TimeUnit.MILLISECONDS.toNanos(300)) {
                OUT.println("S " + due + " " + now);
            }
            watchOwnLoop(now + WATCH_NANOS);
        }, Math.max(0, due - System.nanoTime()), TimeUnit.NANOSECONDS);
    }

    private static final long WATCH_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
    private static final long CONNECT_SPACING_NANOS = TimeUnit.SECONDS.toNanos(1) / 400;

    private void end() throws InterruptedException {
        ended = true;
        for (Conn c : conns) {
            c.print(0);
        }
        OUT.println("DONE failures=" + failures.get());
        OUT.flush();
        Runtime.getRuntime().halt(0); // the sockets close with the process, as a client's would
    }

    /** After the link came back: drops every connection with an RST and opens as many new ones. */
    private void reconnect() {
        int n = 0;
        for (Conn c : conns) {
            c.ch.config().setOption(ChannelOption.SO_LINGER, 0);
            c.ch.close();
            n++;
        }
        for (int i = 0; i < n && !ended; i++) {
            connecting.acquireUninterruptibly();
            connect(i, true);
        }
    }

    /** Opens connection {@code index}; {@code permit}: the caller took a {@link #connecting} permit for it. */
    private void connect(int index, boolean permit) {
        if (ended) {
            if (permit) {
                connecting.release();
            }
            return;
        }
        Conn conn = new Conn(index);
        conn.connectStart = System.nanoTime();
        ChannelFuture f = bootstrap.connect(server);
        conn.ch = f.channel();
        f.channel().attr(CONN).set(conn);
        f.addListener(done -> {
            if (permit) {
                connecting.release();
            }
            if (!done.isSuccess()) {
                failures.incrementAndGet();
                loop.schedule(() -> connect(index, false), 1, TimeUnit.SECONDS);
                return;
            }
            conn.localPort = ((InetSocketAddress) f.channel().localAddress()).getPort();
            conns.add(conn);
            if (ready.incrementAndGet() == count) {
                OUT.println("READY " + count);
            }
            start(conn);
        });
    }

    /** After a close: a new connection if the run has time for the group's whole cycle. */
    private void closed(Conn conn) {
        conn.closeSeen = System.nanoTime();
        conns.remove(conn);
        conn.print(conn.closeSeen);
        long cycle = TimeUnit.MILLISECONDS.toNanos(group.upperMillis() + 10_000);
        if (!ended && !group.kept() && !group.vanishes() && System.nanoTime() + cycle - endNanos < 0) {
            // Flooders are reaped within a second: they come back after 2 to 4 s, so that their churn does not
            // swamp two cores; the others after 0.2 to 1 s.
            int delay = group == SoakGroup.PING_FLOODER ? 2_000 + random.nextInt(2_000) : 200 + random.nextInt(800);
            loop.schedule(() -> connect(conn.index, false), delay, TimeUnit.MILLISECONDS);
        }
    }

    private void pipeline(ChannelPipeline p) {
        switch (group.port) {
            case HTTP:
                if (group != SoakGroup.SLOWLORIS) {
                    p.addLast(new HttpClientCodec(), new HttpObjectAggregator(64 * 1024));
                }
                break;
            case STREAM:
                break;
            default:
                p.addLast(new LineBasedFrameDecoder(4096), new StringDecoder(StandardCharsets.US_ASCII));
                break;
        }
        p.addLast(new Behaviour());
    }

    private void start(Conn c) {
        Channel ch = c.ch;
        switch (group) {
            case ACTIVE:
            case MAX_AGE:
            case VANISHED_IDLE:
                c.send("MSG");
                c.every(group == SoakGroup.ACTIVE ? 9_000 : 3_000, group == SoakGroup.ACTIVE ? 10_000 : 0,
                        () -> c.send("MSG"));
                break;
            case PING_POLITE:
                c.send("MSG");
                c.every(9_000, 10_000, () -> c.send("MSG"));
                c.pings(1_200);
                break;
            case PING_FLOODER:
                c.send("PING");
                c.pings(100);
                break;
            case HALF_CLOSED:
                ch.writeAndFlush(line("MSG")).addListener(w -> {
                    c.anchor = System.nanoTime();
                    ((DuplexChannel) ch).shutdownOutput();
                });
                break;
            case VANISHED_STREAMING:
                c.send("STREAM 4096 500");
                c.every(3_000, 0, () -> c.send("MSG"));
                break;
            case SLOW_READER:
                c.send("STREAM 4096 50");
                c.every(3_000, 0, () -> c.send("MSG"));
                c.untilClosed(ch.eventLoop().scheduleWithFixedDelay(ch::read, 250, 250, TimeUnit.MILLISECONDS));
                break;
            case STOPPED_READER:
                c.send("STREAM 4096 50");
                c.every(3_000, 0, () -> c.send("MSG"));
                ch.eventLoop().schedule(() -> {
                    ch.config().setAutoRead(false);
                    c.anchor = System.nanoTime();
                    c.send("BURST 262144");
                }, 2_000 + random.nextInt(4_000), TimeUnit.MILLISECONDS);
                break;
            case HTTP_IDLE:
                c.anchor = System.nanoTime();
                c.get("/");
                break;
            case HTTP_KEEPALIVE:
                c.get("/");
                c.every(4_500, 5_000, () -> c.get("/"));
                break;
            case HTTP_LONG:
                c.get("/slow?ms=12000");
                break;
            case SLOWLORIS:
                c.anchor = System.nanoTime();
                byte[] head = "GET / HTTP/1.1\r\nHost: soak\r\nX-Slow: ".getBytes(StandardCharsets.US_ASCII);
                int[] next = {0};
                c.every(500, 0, () -> {
                    byte b = next[0] < head.length ? head[next[0]++] : (byte) 'a';
                    ch.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {b}));
                });
                ch.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {head[next[0]++]}));
                break;
            default: // HEARTBEAT_ONLY, SILENT: nothing of their own
                if (group == SoakGroup.SILENT && c.index % 4 == 0) {
                    ch.config().setOption(ChannelOption.SO_LINGER, 0); // RST as the goodbye arrives
                }
                break;
        }
    }

    private static ByteBuf line(String s) {
        return Unpooled.copiedBuffer(s + "\n", StandardCharsets.US_ASCII);
    }

    /** One connection's state; its fields are touched on its event loop, and read at the end. */
    private final class Conn {
        final int index;
        Channel ch;
        int localPort;
        volatile long connectStart;
        volatile long anchor;
        volatile long lastSend;
        volatile long closeSeen;
        volatile boolean clientLate;

        Conn(int index) {
            this.index = index;
        }

        void send(String s) {
            if (quiet || !ch.isActive()) {
                return;
            }
            lastSend = System.nanoTime();
            ch.writeAndFlush(line(s));
        }

        /**
         * Runs {@code task} every {@code millis}, each after the last ran (so a late run never brings two closer);
         * a gap that reaches {@code limitMillis} (when not 0) marks the connection client-late.
         */
        void every(long millis, long limitMillis, Runnable task) {
            long[] last = {System.nanoTime()};
            untilClosed(ch.eventLoop().scheduleWithFixedDelay(() -> {
                long now = System.nanoTime();
                if (limitMillis > 0 && now - last[0] >= TimeUnit.MILLISECONDS.toNanos(limitMillis)) {
                    clientLate = true;
                }
                last[0] = now;
                if (ch.isActive()) {
                    task.run();
                }
            }, millis, millis, TimeUnit.MILLISECONDS));
        }

        /** Cancels {@code task} when the connection closes: a long soak opens a million of them. */
        void untilClosed(java.util.concurrent.Future<?> task) {
            ch.closeFuture().addListener(f -> task.cancel(false));
        }

        /**
         * Pings every {@code millis}, counting strikes as the server does (a ping sooner than 1 s after the last is
         * one, a later one clears them): the flooder's anchor is the ping that makes one strike more than allowed;
         * a polite pinger with a strike is client-early.
         */
        void pings(long millis) {
            long[] last = {System.nanoTime()};
            int[] strikes = {0};
            untilClosed(ch.eventLoop().scheduleWithFixedDelay(() -> {
                if (quiet || !ch.isActive()) {
                    return;
                }
                long now = System.nanoTime();
                strikes[0] = now - last[0] < TimeUnit.MILLISECONDS.toNanos(1_000) ? strikes[0] + 1 : 0;
                if (millis >= 1_000 && strikes[0] > 0) {
                    clientLate = true;
                }
                last[0] = now;
                if (strikes[0] == IdleReaper.Builder.PEER_PING_STRIKES + 1 && anchor == 0) {
                    anchor = now;
                }
                send("PING");
            }, millis, millis, TimeUnit.MILLISECONDS));
        }

        void get(String uri) {
            if (!ch.isActive()) {
                return;
            }
            DefaultFullHttpRequest request = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, uri);
            request.headers().set(HttpHeaderNames.HOST, "soak");
            lastSend = System.nanoTime();
            ch.writeAndFlush(request);
        }

        void print(long closeSeen) {
            OUT.println("R " + localPort + " " + connectStart + " " + anchor + " " + closeSeen + " "
                    + (clientLate ? 1 : 0));
        }
    }

    /** What every connection of the group does with what it reads. */
    private final class Behaviour extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            Conn c = ctx.channel().attr(CONN).get();
            try {
                if (msg instanceof String) {
                    String s = (String) msg;
                    if (s.equals("PING") && answersPings()) {
                        c.send("PONG");
                    } else if (s.startsWith("BYE") && group == SoakGroup.SILENT && c.index % 4 == 0) {
                        ctx.close();
                    }
                } else if (msg instanceof FullHttpResponse) {
                    if (group == SoakGroup.HTTP_LONG) {
                        c.get("/slow?ms=12000");
                    }
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        private boolean answersPings() {
            return group == SoakGroup.ACTIVE || group == SoakGroup.HEARTBEAT_ONLY || group == SoakGroup.VANISHED_IDLE
                    || group == SoakGroup.PING_POLITE || group == SoakGroup.MAX_AGE;
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            Conn c = ctx.channel().attr(CONN).get();
            if (c != null && conns.contains(c)) {
                closed(c);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close(); // resets and refused writes: the server's doing, dated by the close
        }
    }
}
