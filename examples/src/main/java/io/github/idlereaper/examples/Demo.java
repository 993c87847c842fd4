package io.github.idlereaper.examples;

import io.github.idlereaper.IdleReaper;
import io.github.idlereaper.ReapEvent;
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
 * connection's fate (reaped or alive, the reason, and when) against its configured timeout, and exits non-zero
 * if a fate is not the expected one.
 */
public final class Demo {

    static final Duration READ_IDLE = Duration.ofSeconds(2);
    static final Duration WRITE_STALL = Duration.ofSeconds(2);
    static final Duration WATCH = Duration.ofSeconds(6);

    /** One scripted client and what became of it. */
    public static final class Fate {
        public final String name;
        public final String behaviour;
        public final String limit;
        public final String expected;
        volatile long connectedAt;
        volatile String reason = "-";
        volatile long reapedAfterMs = -1;

        Fate(String name, String behaviour, String limit, String expected) {
            this.name = name;
            this.behaviour = behaviour;
            this.limit = limit;
            this.expected = expected;
        }

        /** {@code "reaped"} or {@code "alive"}. */
        public String outcome() {
            return reapedAfterMs >= 0 ? "reaped" : "alive";
        }

        public String reason() {
            return reason;
        }

        public long reapedAfterMs() {
            return reapedAfterMs;
        }

        public boolean asExpected() {
            return expected.equals(reapedAfterMs >= 0 ? reason : "alive");
        }
    }

    private Demo() {
    }

    /** Runs the demo and returns the fates, in the order the clients connected. */
    public static List<Fate> run() throws InterruptedException {
        Map<Integer, Fate> byPort = new ConcurrentHashMap<>();
        IdleReaper reaper = IdleReaper.builder()
                .readIdleTimeout(READ_IDLE)
                .writeStallTimeout(WRITE_STALL)
                .listener((ch, event) -> record(byPort, ch, event))
                .build();
        List<Fate> fates = new ArrayList<>();
        EventLoopGroup clients = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        try (EchoServer server = new EchoServer(reaper, "127.0.0.1", 0)) {
            InetSocketAddress addr = server.address();
            String idle = "readIdle " + READ_IDLE.toMillis() + " ms";

            Fate active = new Fate("active", "sends a line every 500 ms", idle, "alive");
            Channel a = connect(clients, addr, true, active, byPort, fates);
            ScheduledFuture<?> chatter = a.eventLoop().scheduleAtFixedRate(
                    () -> a.writeAndFlush(line("hello")), 0, 500, TimeUnit.MILLISECONDS);

            Fate quiet = new Fate("idle", "connects, then says nothing", idle, "READ_IDLE");
            connect(clients, addr, true, quiet, byPort, fates);

            Fate slow = new Fate("slow reader", "asks for 16 MiB, reads 1 MiB, stops",
                    "writeStall " + WRITE_STALL.toMillis() + " ms", "WRITE_STALL");
            Channel s = connect(clients, addr, false, slow, byPort, fates);
            s.writeAndFlush(line("BIG"));
            // Reads 64 reads of 16 KiB (1 MiB), then never reads again. It keeps talking, so only the stall
            // timer can catch it.
            for (int i = 0; i < 64; i++) {
                s.eventLoop().schedule(() -> s.read(), 20L * i, TimeUnit.MILLISECONDS);
            }
            ScheduledFuture<?> slowChatter = s.eventLoop().scheduleAtFixedRate(
                    () -> s.writeAndFlush(line("still here")), 500, 500, TimeUnit.MILLISECONDS);

            Fate busy = new Fate("busy", "request in flight, no traffic", idle, "alive");
            Channel b = connect(clients, addr, true, busy, byPort, fates);
            b.writeAndFlush(line("BUSY"));

            new CountDownLatch(1).await(WATCH.toMillis(), TimeUnit.MILLISECONDS); // watch for six seconds
            chatter.cancel(false);
            slowChatter.cancel(false);
        } finally {
            clients.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
        return fates;
    }

    private static void record(Map<Integer, Fate> byPort, Channel ch, ReapEvent event) {
        Fate f = byPort.get(((InetSocketAddress) ch.remoteAddress()).getPort());
        if (f != null) {
            f.reason = event.reason().name();
            f.reapedAfterMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - f.connectedAt);
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

    /** Formats the fates as the table the demo prints. */
    public static String table(List<Fate> fates) {
        StringBuilder sb = new StringBuilder();
        String fmt = "%-12s %-38s %-20s %-7s %-12s %-10s %s%n";
        sb.append(String.format(fmt, "connection", "behaviour", "timeout", "fate", "reason", "when", "expected"));
        for (Fate f : fates) {
            sb.append(String.format(fmt, f.name, f.behaviour, f.limit, f.outcome(), f.reason,
                    f.reapedAfterMs >= 0 ? f.reapedAfterMs + " ms" : "-", f.asExpected() ? "yes" : "NO"));
        }
        return sb.toString();
    }

    public static void main(String[] args) throws InterruptedException {
        System.out.println("idle-reaper demo: an echo server on loopback with readIdle=" + READ_IDLE.toMillis()
                + "ms and writeStall=" + WRITE_STALL.toMillis() + "ms; watching four clients for "
                + WATCH.toSeconds() + "s...");
        List<Fate> fates = run();
        System.out.println();
        System.out.print(table(fates));
        boolean ok = fates.stream().allMatch(Fate::asExpected);
        System.out.println();
        System.out.println(ok ? "every connection met the fate it should." : "SOME FATES WERE NOT AS EXPECTED.");
        System.exit(ok ? 0 : 1);
    }
}
