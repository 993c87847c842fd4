package io.github.idlereaper.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.idlereaper.IdleReaper;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Keeps the examples compiling and running: the demo's fates, and the echo server's echo. */
class DemoSmokeTest {

    /** The demo runs once (about 6 s) for both tests. */
    private static List<Demo.Fate> fates;
    private static String table;

    @BeforeAll
    static void runDemo() throws Exception {
        fates = Demo.run();
        table = Demo.table(fates);
    }

    @Test
    void theAdvisor_sawTheChattyClients_andRecommendsFromTheirGaps() {
        io.github.idlereaper.TimeoutAdvice a = Demo.lastAdvice();
        assertTrue(a != null && a.samples() >= 10, String.valueOf(a));
        // The clients speak every 500 ms: the recommendation is at least that, and the 2 s read idle timeout of the
        // demo is enough for them.
        assertTrue(a.recommendedReadIdleTimeout().toMillis() >= 500, a.toString());
        assertTrue(a.toString().contains("the current 2.0 s is enough"), a.toString());
        assertTrue(a.toString().contains("AWS NLB drops flows idle for 350 s: heartbeat interval ≤ 290 s"),
                a.toString());
    }

    @Test
    void demo_everyClientMeetsItsFate() {
        assertEquals(4, fates.size(), table);
        for (Demo.Fate f : fates) {
            assertTrue(f.asExpected(), "unexpected fate:\n" + table);
        }
        Demo.Fate idle = fates.get(1);
        assertTrue(idle.reapedAfterMs() >= Demo.READ_IDLE.toMillis(), "never early:\n" + table);
        // The reaper's clock cannot start before the client's act that started it.
        assertTrue(idle.clockStartedMs() >= idle.lastActMs(), "clock started before the connect:\n" + table);
        assertTrue(idle.reapedAtMs() - idle.lastActMs() >= Demo.READ_IDLE.toMillis(), "never early:\n" + table);
        for (Demo.Fate f : fates) {
            if (f.outcome().equals("reaped")) {
                assertTrue(f.pastLimitMs() >= 0, "never early:\n" + table);
                // Each is rounded down to the ms on its own: they may differ by one.
                assertTrue(Math.abs(f.reapedAtMs() - f.clockStartedMs() - f.clockRanMs()) <= 1, table);
            }
        }
    }

    /** Every column has a label, and every row and the lines under the table give the numbers that relate. */
    @Test
    void demoTable_labelsEveryColumnAndRelatesTimesToTheLimit() {
        List<String> lines = table.lines().collect(Collectors.toList());
        String header = lines.get(0);
        assertEquals(List.of("connection", "behaviour", "timeout", "client's last", "clock started", "reaped at",
                "clock ran", "past limit", "fate", "expected"), Demo.COLUMNS);
        int at = -1;
        for (String label : Demo.COLUMNS) {
            int next = header.indexOf(label, at + 1);
            assertTrue(next > at, "no column '" + label + "' after column " + at + ":\n" + table);
            at = next;
        }
        // Each label starts its column: the row's value for that column starts where the label does.
        String idleRow = lines.get(2);
        assertTrue(idleRow.startsWith("idle "), table);
        Demo.Fate idle = fates.get(1);
        assertColumn(table, header, idleRow, "timeout", "readIdle 2000 ms");
        assertColumn(table, header, idleRow, "client's last", "connect " + idle.lastActMs() + " ms");
        assertColumn(table, header, idleRow, "clock started", idle.clockStartedMs() + " ms");
        assertColumn(table, header, idleRow, "reaped at", idle.reapedAtMs() + " ms");
        assertColumn(table, header, idleRow, "clock ran", idle.clockRanMs() + " ms");
        assertColumn(table, header, idleRow, "past limit", "+" + idle.pastLimitMs() + " ms");
        assertColumn(table, header, idleRow, "fate", "READ_IDLE");
        assertColumn(table, header, idleRow, "expected", "yes");
        Demo.Fate slow = fates.get(2);
        String slowRow = lines.get(3);
        assertColumn(table, header, slowRow, "timeout", "writeStall 2000 ms");
        assertColumn(table, header, slowRow, "client's last", "read " + slow.lastActMs() + " ms");
        assertColumn(table, header, slowRow, "clock started", slow.clockStartedMs() + " ms");
        assertColumn(table, header, lines.get(1), "clock started", "each line");
        assertColumn(table, header, lines.get(4), "clock started", "held off");
        assertTrue(table.contains("\nTimes are ms since the first client began to connect; the watch ended at "),
                table);
        assertTrue(table.contains("- idle: it connected at " + idle.lastActMs() + " ms and sent nothing; its readIdle "
                + "clock started at " + idle.clockStartedMs() + " ms, from the server's accept. Reaped at "
                + idle.reapedAtMs() + " ms: " + idle.clockRanMs() + " ms after its clock started, limit 2000 ms, "
                + idle.pastLimitMs() + " ms past it, "), table);
        assertTrue(table.contains("- slow reader: its last read was at " + slow.lastActMs() + " ms; the server's "
                + "sends last made progress at " + slow.clockStartedMs() + " ms, which started its writeStall clock. "
                + "Reaped at " + slow.reapedAtMs() + " ms: " + slow.clockRanMs() + " ms after its clock started, "
                + "limit 2000 ms, "), table);
        assertTrue(table.contains("- active: each line it sends restarts its readIdle clock; its last, at "), table);
        assertTrue(table.contains("- busy: its request is in flight, so its readIdle clock holds off: silent since "),
                table);
    }

    private static void assertColumn(String table, String header, String row, String label, String value) {
        int column = header.indexOf(label);
        assertTrue(row.startsWith(value, column), "column '" + label + "' should read '" + value + "':\n" + table);
    }

    @Test
    void echoServer_echoes() throws Exception {
        IdleReaper reaper = IdleReaper.builder().readIdleTimeout(Duration.ofSeconds(5)).build();
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        try (EchoServer server = new EchoServer(reaper, "127.0.0.1", 0)) {
            BlockingQueue<String> got = new LinkedBlockingQueue<>();
            Channel ch = new Bootstrap().group(group).channel(NioSocketChannel.class)
                    .handler(new SimpleChannelInboundHandler<ByteBuf>() {
                        @Override
                        protected void channelRead0(ChannelHandlerContext ctx, ByteBuf msg) {
                            got.add(msg.toString(StandardCharsets.US_ASCII));
                        }
                    }).connect(server.address()).syncUninterruptibly().channel();
            ch.writeAndFlush(Unpooled.copiedBuffer("ping\n", StandardCharsets.US_ASCII));
            assertEquals("ping\n", got.poll(5, TimeUnit.SECONDS));
            assertEquals(1, reaper.stats().open());
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }
}
