package io.github.idlereaper.examples;

import io.github.idlereaper.IdleReaper;
import io.github.idlereaper.ReapEvent;
import io.github.idlereaper.TimeoutAdvice;
import io.github.idlereaper.doctor.IdleLimit;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The demo of the main job: an echo server with the reaper on loopback, and four scripted clients. It prints each
 * connection's fate (reaped or alive, and the reason) against its configured timeout, and exits non-zero if a fate
 * is not the expected one.
 *
 * <p>For each connection the table gives the client's last act that matters to its timer (its connect, its last
 * line sent, its last read), when the timer's clock started, when the reaper reaped it, how long the clock ran and
 * how far past the limit that was. Times are milliseconds since the demo's first connect; the server and the
 * clients run in this one JVM, on the same monotonic clock. The clock's start is where the reaper measured it
 * from: the reap's time less its {@link ReapEvent#idleFor()}. It comes after the client's act: a read idle clock
 * starts when the server has accepted the connection or read its last byte, and a write stall starts when the
 * server's sends stop making progress, which is a little after the slow reader's last read, once the kernel's
 * buffers between them have taken what that read freed. The reaper dates activity to the end of the tick it fell
 * in, never earlier, so the start may be up to about a tick after the act.
 */
public final class Demo {

    static final Duration READ_IDLE = Duration.ofSeconds(2);
    static final Duration WRITE_STALL = Duration.ofSeconds(2);
    static final Duration WATCH = Duration.ofSeconds(6);

    /** The column labels of {@link #table}, in order. */
    static final List<String> COLUMNS = List.of("connection", "behaviour", "timeout", "client's last",
            "clock started", "reaped at", "clock ran", "past limit", "fate", "expected");

    /** The client's act that starts a connection's timer. */
    enum Act {
        /** The client connected and then sent nothing: the read idle clock starts at the accept. */
        CONNECT("connect"),
        /** The client sends a line now and then: each restarts the read idle clock. */
        SENT("sent"),
        /** The client stopped reading: the write stall clock starts once the server's sends stop. */
        READ("read"),
        /** The client's request is in flight: the idle timers hold off, whatever the client's last byte. */
        BUSY("sent");

        final String label;

        Act(String label) {
            this.label = label;
        }
    }

    /** One scripted client and what became of it. */
    public static final class Fate {
        public final String name;
        public final String behaviour;
        /** The timer that applies: {@code readIdle} (readIdleTimeout) or {@code writeStall} (writeStallTimeout). */
        public final String timer;
        public final Duration limit;
        public final String expected;
        final Act act;
        /** The reaper's tick resolution: the most a reap may come after its limit. */
        final long tickMs;
        /** The demo's time zero, in {@link System#nanoTime()}: just before the first client connects. */
        final long origin;
        volatile long connectedAt;
        volatile long lastSentAt;
        volatile long lastReadAt;
        volatile String reason = "-";
        volatile long reapedAt;
        volatile long idleForNanos = -1;
        volatile long watchEndedAt;

        Fate(String name, String behaviour, String timer, Duration limit, Act act, String expected, long tickMs,
                long origin) {
            this.name = name;
            this.behaviour = behaviour;
            this.timer = timer;
            this.limit = limit;
            this.act = act;
            this.expected = expected;
            this.tickMs = tickMs;
            this.origin = origin;
        }

        boolean reaped() {
            return idleForNanos >= 0;
        }

        /** {@code "reaped"} or {@code "alive"}. */
        public String outcome() {
            return reaped() ? "reaped" : "alive";
        }

        public String reason() {
            return reason;
        }

        /** Milliseconds from the client's connect to the reap; -1 when alive. */
        public long reapedAfterMs() {
            return reaped() ? ms(reapedAt - connectedAt) : -1;
        }

        /** When the client began to connect, in ms since the demo's first connect. */
        public long connectedMs() {
            return ms(connectedAt - origin);
        }

        /** When the client's act that matters to its timer happened, in ms since the demo's first connect. */
        public long lastActMs() {
            switch (act) {
                case CONNECT:
                    return connectedMs();
                case READ:
                    return ms(lastReadAt - origin);
                default:
                    return ms(lastSentAt - origin);
            }
        }

        /** When the timer's clock started as the reaper measured it, in ms since the first connect; -1 if alive. */
        public long clockStartedMs() {
            return reaped() ? ms(reapedAt - idleForNanos - origin) : -1;
        }

        /** When the reaper reaped the connection, in ms since the first connect; -1 if alive. */
        public long reapedAtMs() {
            return reaped() ? ms(reapedAt - origin) : -1;
        }

        /** How long the clock ran until the reap ({@link ReapEvent#idleFor()}); -1 if alive. */
        public long clockRanMs() {
            return reaped() ? ms(idleForNanos) : -1;
        }

        /** How far past its limit the clock ran before the reap; -1 if alive. */
        public long pastLimitMs() {
            return reaped() ? clockRanMs() - limit.toMillis() : -1;
        }

        public boolean asExpected() {
            return expected.equals(reaped() ? reason : "alive");
        }

        /** One sentence under the table: what the client did, what started the clock, and the fate in numbers. */
        String story() {
            String clock = "its " + timer + " clock";
            long end = ms(watchEndedAt - origin);
            switch (act) {
                case SENT:
                    if (!reaped()) {
                        return "each line it sends restarts " + clock + "; its last, at " + lastActMs() + " ms, was "
                                + (end - lastActMs()) + " ms before the watch ended: alive.";
                    }
                    break;
                case BUSY:
                    if (!reaped()) {
                        return "its request is in flight, so " + clock + " holds off: silent since " + lastActMs()
                                + " ms, " + (end - lastActMs()) + " ms when the watch ended, and alive.";
                    }
                    break;
                default:
                    break;
            }
            if (!reaped()) {
                return "alive when the watch ended at " + end + " ms.";
            }
            String started = act == Act.READ
                    ? "its last read was at " + lastActMs() + " ms; the server's sends last made progress at "
                            + clockStartedMs() + " ms, which started " + clock
                    : act == Act.CONNECT
                    ? "it connected at " + lastActMs() + " ms and sent nothing; " + clock + " started at "
                            + clockStartedMs() + " ms, from the server's accept"
                    : "its last byte was at " + lastActMs() + " ms; " + clock + " started at " + clockStartedMs()
                            + " ms";
            return started + ". Reaped at " + reapedAtMs() + " ms: " + clockRanMs() + " ms after its clock started, "
                    + "limit " + limit.toMillis() + " ms, " + pastLimitMs() + " ms past it, "
                    + (pastLimitMs() <= tickMs ? "within one tick" : "MORE THAN ONE TICK") + " (" + tickMs + " ms).";
        }
    }

    private Demo() {
    }

    /** The timeout advisor's report from the last {@link #run()}. */
    private static volatile TimeoutAdvice lastAdvice;

    /**
     * The timeout advisor's report on the last run's traffic ({@code reaper.advise(IdleLimit.AWS_NLB)}), or null
     * before a run.
     */
    public static TimeoutAdvice lastAdvice() {
        return lastAdvice;
    }

    /** Runs the demo and returns the fates, in the order the clients connected. */
    public static List<Fate> run() throws InterruptedException {
        Map<Integer, Fate> byPort = new ConcurrentHashMap<>();
        IdleReaper reaper = IdleReaper.builder()
                .readIdleTimeout(READ_IDLE)
                .writeStallTimeout(WRITE_STALL)
                .listener((ch, event) -> record(byPort, ch, event))
                .timeoutAdvisor(true) // records the gaps between inbound lines, for advise()
                .build();
        long tick = reaper.tickResolution().toMillis();
        List<Fate> fates = new ArrayList<>();
        EventLoopGroup clients = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        try (EchoServer server = new EchoServer(reaper, "127.0.0.1", 0)) {
            InetSocketAddress addr = server.address();
            long origin = System.nanoTime();

            Fate active = new Fate("active", "sends a line every 500 ms", "readIdle", READ_IDLE, Act.SENT, "alive",
                    tick, origin);
            Channel a = connect(clients, addr, true, active, byPort, fates);
            ScheduledFuture<?> chatter = a.eventLoop().scheduleAtFixedRate(() -> {
                active.lastSentAt = System.nanoTime();
                a.writeAndFlush(line("hello"));
            }, 0, 500, TimeUnit.MILLISECONDS);

            Fate quiet = new Fate("idle", "connects, says nothing", "readIdle", READ_IDLE, Act.CONNECT, "READ_IDLE",
                    tick, origin);
            connect(clients, addr, true, quiet, byPort, fates);

            Fate slow = new Fate("slow reader", "reads 1 of 16 MiB, stops", "writeStall", WRITE_STALL, Act.READ,
                    "WRITE_STALL", tick, origin);
            Channel s = connect(clients, addr, false, slow, byPort, fates);
            s.writeAndFlush(line("BIG"));
            // Reads 64 reads of 16 KiB (1 MiB), then never reads again. It keeps talking, so only the stall
            // timer can catch it.
            for (int i = 0; i < 64; i++) {
                s.eventLoop().schedule(() -> s.read(), 20L * i, TimeUnit.MILLISECONDS);
            }
            ScheduledFuture<?> slowChatter = s.eventLoop().scheduleAtFixedRate(
                    () -> s.writeAndFlush(line("still here")), 500, 500, TimeUnit.MILLISECONDS);

            Fate busy = new Fate("busy", "request in flight, silent", "readIdle", READ_IDLE, Act.BUSY, "alive",
                    tick, origin);
            Channel b = connect(clients, addr, true, busy, byPort, fates);
            busy.lastSentAt = System.nanoTime();
            b.writeAndFlush(line("BUSY"));

            new CountDownLatch(1).await(WATCH.toMillis(), TimeUnit.MILLISECONDS); // watch for six seconds
            chatter.cancel(false);
            slowChatter.cancel(false);
            long end = System.nanoTime();
            for (Fate f : fates) {
                f.watchEndedAt = end;
            }
            // What the timeout advisor made of the lines the clients sent, as if the server sat behind an AWS NLB.
            lastAdvice = reaper.advise(IdleLimit.AWS_NLB);
        } finally {
            clients.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
        return fates;
    }

    /** On the server's event loop, as the reaper reaps: the time, the reason and the idle time it measured. */
    private static void record(Map<Integer, Fate> byPort, Channel ch, ReapEvent event) {
        long now = System.nanoTime();
        Fate f = byPort.get(((InetSocketAddress) ch.remoteAddress()).getPort());
        if (f != null && !f.reaped()) {
            f.reason = event.reason().name();
            f.reapedAt = now;
            f.idleForNanos = event.idleFor().toNanos();
        }
    }

    private static Channel connect(EventLoopGroup group, InetSocketAddress addr, boolean autoRead, Fate fate,
            Map<Integer, Fate> byPort, List<Fate> fates) {
        Bootstrap b = new Bootstrap().group(group).channel(NioSocketChannel.class)
                .option(ChannelOption.AUTO_READ, autoRead)
                .option(ChannelOption.SO_RCVBUF, 32 * 1024)
                .option(ChannelOption.RCVBUF_ALLOCATOR, new FixedRecvByteBufAllocator(16 * 1024))
                .option(ChannelOption.MAX_MESSAGES_PER_READ, 1)
                .handler(new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        fate.lastReadAt = System.nanoTime();
                        ((ByteBuf) msg).release();
                    }
                });
        fate.connectedAt = System.nanoTime();
        Channel ch = b.connect(addr).syncUninterruptibly().channel();
        byPort.put(((InetSocketAddress) ch.localAddress()).getPort(), fate);
        fates.add(fate);
        return ch;
    }

    private static ByteBuf line(String text) {
        return Unpooled.copiedBuffer(text + "\n", StandardCharsets.US_ASCII);
    }

    private static long ms(long nanos) {
        return TimeUnit.NANOSECONDS.toMillis(nanos);
    }

    private static String at(long ms) {
        return ms < 0 ? "-" : ms + " ms";
    }

    /** Formats the fates as the table the demo prints, with one line under it per connection that reads its row. */
    public static String table(List<Fate> fates) {
        StringBuilder sb = new StringBuilder();
        String fmt = "%-12s %-26s %-19s %-14s %-14s %-10s %-10s %-11s %-12s %s%n";
        sb.append(String.format(fmt, COLUMNS.toArray()));
        for (Fate f : fates) {
            String clock = f.reaped() ? at(f.clockStartedMs()) : f.act == Act.BUSY ? "held off" : "each line";
            sb.append(String.format(fmt, f.name, f.behaviour, f.timer + " " + f.limit.toMillis() + " ms",
                    f.act.label + " " + at(f.lastActMs()), clock, at(f.reapedAtMs()), at(f.clockRanMs()),
                    f.reaped() ? "+" + f.pastLimitMs() + " ms" : "-", f.reaped() ? f.reason : "alive",
                    f.asExpected() ? "yes" : "NO"));
        }
        long tick = fates.isEmpty() ? 0 : fates.get(0).tickMs;
        sb.append(String.format("%nTimes are ms since the first client began to connect; the watch ended at %d ms. "
                + "A timer's clock starts after the client's last act (the reaper dates the server's side of it to "
                + "the end of its tick, never earlier), and a reap comes at or after the limit, at most one tick "
                + "(%d ms) later.%n",
                fates.isEmpty() ? 0 : ms(fates.get(0).watchEndedAt - fates.get(0).origin), tick));
        for (Fate f : fates) {
            sb.append("- ").append(f.name).append(": ").append(f.story()).append('\n');
        }
        return sb.toString();
    }

    public static void main(String[] args) throws InterruptedException {
        System.out.println("idle-reaper demo: an echo server on loopback with readIdleTimeout " + READ_IDLE.toMillis()
                + " ms and writeStallTimeout " + WRITE_STALL.toMillis() + " ms; watching four clients for "
                + WATCH.toSeconds() + " s...");
        List<Fate> fates = run();
        System.out.println();
        System.out.print(table(fates));
        boolean ok = fates.stream().allMatch(Fate::asExpected);
        System.out.println();
        System.out.println(ok ? "every connection met the fate it should." : "SOME FATES WERE NOT AS EXPECTED.");
        System.out.println();
        System.out.println("The timeout advisor (timeoutAdvisor(true), then reaper.advise(IdleLimit.AWS_NLB)), on the "
                + "lines the clients sent:");
        System.out.println(lastAdvice);
        System.exit(ok ? 0 : 1);
    }
}
