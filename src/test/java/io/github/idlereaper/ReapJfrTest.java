package io.github.idlereaper;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Layer 4: the JFR event {@code io.github.idlereaper.Reap} on real loopback reaps (NIO). A recording that enables
 * it gets one event per reap, with the same numbers the listener got: an idle reap, a dry run's decision, a refusal
 * at the cap. A recording with the event disabled gets none, and the reaper works the same; so does a JVM without
 * the {@code jdk.jfr} module, where the event's class cannot load.
 */
class ReapJfrTest {

    private static final Duration RES = Duration.ofMillis(100);
    private static final Duration READ_IDLE = Duration.ofMillis(500);

    @TempDir
    Path dir;

    private EventLoopGroup boss;
    private EventLoopGroup workers;
    private Recording recording;
    private final List<Socket> sockets = new ArrayList<>();
    private final List<ReapEvent> listened = new CopyOnWriteArrayList<>();
    private final List<Channel> listenedOn = new CopyOnWriteArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        if (recording != null) {
            recording.close();
        }
        for (Socket s : sockets) {
            s.close();
        }
        for (EventLoopGroup g : new EventLoopGroup[] {workers, boss}) {
            if (g != null) {
                g.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
            }
        }
    }

    private IdleReaper.Builder reaper() {
        return IdleReaper.builder().tickResolution(RES).listener((ch, e) -> {
            listenedOn.add(ch);
            listened.add(e);
        });
    }

    /** A loopback server with {@code reaper} installed; the host drops what it reads. */
    private InetSocketAddress start(IdleReaper reaper) {
        boss = Transport.NIO.group(1);
        workers = Transport.NIO.group(1);
        ServerBootstrap b = new ServerBootstrap().group(boss, workers).channel(Transport.NIO.serverChannel())
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                            @Override
                            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                ((ByteBuf) msg).release();
                            }
                        });
                    }
                });
        reaper.install(b);
        return (InetSocketAddress) b.bind("127.0.0.1", 0).syncUninterruptibly().channel().localAddress();
    }

    /** A client that connects and then says nothing. */
    private Socket silentClient(InetSocketAddress at) throws Exception {
        Socket s = new Socket();
        sockets.add(s);
        s.connect(at, 5_000);
        return s;
    }

    /** Starts a recording with the reap event enabled or disabled. */
    private void record(boolean enabled) {
        recording = new Recording();
        recording.setName("ReapJfrTest");
        if (enabled) {
            recording.enable(ReapRecord.NAME);
        } else {
            recording.disable(ReapRecord.NAME);
        }
        recording.start();
    }

    /** Stops the recording, dumps it to a file and reads back the reap events. */
    private List<RecordedEvent> recorded() throws Exception {
        recording.stop();
        Path file = dir.resolve("reaps.jfr");
        recording.dump(file);
        return RecordingFile.readAllEvents(file).stream()
                .filter(e -> e.getEventType().getName().equals(ReapRecord.NAME)).collect(Collectors.toList());
    }

    /** Asserts that {@code r} carries what the listener got in {@code e} on {@code ch}. */
    private static void assertMatches(RecordedEvent r, ReapEvent e, Channel ch) {
        assertEquals(e.reason().name(), r.getString("reason"));
        assertEquals(e.idleFor(), r.getDuration("idleFor"));
        assertEquals(e.limit(), r.getDuration("limit"));
        assertEquals(e.count(), r.getInt("count"));
        assertEquals(e.of(), r.getInt("of"));
        assertEquals(ch.remoteAddress().toString(), r.getString("remoteAddress"));
        assertEquals(ch.id().asShortText(), r.getString("channelId"));
        assertEquals(e.dryRun(), r.getBoolean("dryRun"));
        assertEquals(e.message(), r.getString("message"));
        assertNull(r.getStackTrace(), "the event takes no stack trace");
    }

    @Test
    void idleReap_isRecorded_withReasonIdleTimeLimitAndRemoteAddress() throws Exception {
        record(true);
        IdleReaper reaper = reaper().readIdleTimeout(READ_IDLE).build();
        Socket client = silentClient(start(reaper));
        await().atMost(Duration.ofSeconds(10)).until(() -> listened.size() == 1);
        List<RecordedEvent> events = recorded();

        assertEquals(1, events.size(), events.toString());
        RecordedEvent r = events.get(0);
        assertEquals("READ_IDLE", r.getString("reason"));
        assertEquals(READ_IDLE, r.getDuration("limit"));
        assertTrue(r.getDuration("idleFor").compareTo(READ_IDLE) >= 0, "idle for " + r.getDuration("idleFor"));
        assertEquals("/127.0.0.1:" + client.getLocalPort(), r.getString("remoteAddress"));
        assertFalse(r.getBoolean("dryRun"));
        assertMatches(r, listened.get(0), listenedOn.get(0));
        assertEquals(List.of("Netty", "idle-reaper"), r.getEventType().getCategoryNames());
        assertEquals("Connection Reaped", r.getEventType().getLabel());
        await().atMost(Duration.ofSeconds(10)).until(() -> reaper.stats().open() == 0);
    }

    @Test
    void dryRunDecision_isRecorded_asADryRun_andTheConnectionStays() throws Exception {
        record(true);
        IdleReaper reaper = reaper().readIdleTimeout(READ_IDLE).dryRun(true).build();
        Socket client = silentClient(start(reaper));
        await().atMost(Duration.ofSeconds(10)).until(() -> listened.size() == 1);
        List<RecordedEvent> events = recorded();

        assertEquals(1, events.size(), events.toString());
        RecordedEvent r = events.get(0);
        assertEquals("READ_IDLE", r.getString("reason"));
        assertTrue(r.getBoolean("dryRun"));
        assertTrue(r.getDuration("idleFor").compareTo(READ_IDLE) >= 0, "idle for " + r.getDuration("idleFor"));
        assertEquals("/127.0.0.1:" + client.getLocalPort(), r.getString("remoteAddress"));
        assertMatches(r, listened.get(0), listenedOn.get(0));
        assertTrue(listenedOn.get(0).isActive(), "a dry run closes nothing");
        assertEquals(1, reaper.stats().wouldReap(ReapReason.READ_IDLE));
        assertEquals(0, reaper.stats().reapedTotal());
    }

    @Test
    void refusalAtTheCap_isRecorded() throws Exception {
        record(true);
        IdleReaper reaper = reaper().maxConnections(1, CapPolicy.REJECT).build();
        InetSocketAddress at = start(reaper);
        silentClient(at);
        await().atMost(Duration.ofSeconds(10)).until(() -> reaper.stats().open() == 1);
        // Bound first, so that its port is known even when the RST comes while connect() still waits (the reaper
        // resets a refused connection as soon as it is accepted).
        Socket refused = new Socket();
        sockets.add(refused);
        refused.bind(new InetSocketAddress("127.0.0.1", 0));
        int refusedPort = refused.getLocalPort();
        try {
            refused.connect(at, 5_000);
        } catch (java.net.SocketException resetWhileConnecting) {
            // refused either way
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> listened.size() == 1);
        List<RecordedEvent> events = recorded();

        assertEquals(1, events.size(), events.toString());
        RecordedEvent r = events.get(0);
        assertEquals("REJECTED", r.getString("reason"));
        assertEquals(1, r.getInt("count"));
        assertEquals(1, r.getInt("of"));
        assertEquals(Duration.ZERO, r.getDuration("limit"));
        assertEquals("/127.0.0.1:" + refusedPort, r.getString("remoteAddress"));
        assertEquals("rejected: 1 open at maxConnections 1", r.getString("message"));
        assertMatches(r, listened.get(0), listenedOn.get(0));
    }

    @Test
    void eventDisabled_recordsNothing_andTheReaperReapsAllTheSame() throws Exception {
        record(false);
        IdleReaper reaper = reaper().readIdleTimeout(READ_IDLE).build();
        silentClient(start(reaper));
        await().atMost(Duration.ofSeconds(10)).until(() -> listened.size() == 1);
        assertEquals(List.of(), recorded());
        assertEquals(ReapReason.READ_IDLE, listened.get(0).reason());
        assertEquals(1, reaper.stats().reaped(ReapReason.READ_IDLE));
        await().atMost(Duration.ofSeconds(10)).until(() -> reaper.stats().open() == 0);
    }

    /**
     * A runtime without the {@code jdk.jfr} module, as a jlinked image may be: a child JVM whose observable modules
     * leave it out ({@code --limit-modules}). The event's class cannot load there; the reaper reaps all the same.
     */
    @Test
    void runtimeWithoutJfr_reapsWithoutTheEvent() throws Exception {
        String output = ChildJvm.run(List.of("-Xshare:auto", "-XX:TieredStopAtLevel=1",
                "--limit-modules", "java.base,java.logging,java.management,jdk.unsupported",
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=info", "-cp", System.getProperty("java.class.path"),
                NoJfrChild.class.getName()));
        assertTrue(output.contains("jdk.jfr present: false\n"), output);
        assertTrue(output.contains("event class loaded: false\n"), output);
        assertTrue(output.contains("reaped: READ_IDLE, open 0\n"), output);
    }

    /** The child JVM of {@link #runtimeWithoutJfr_reapsWithoutTheEvent()}: one idle reap on loopback. */
    static final class NoJfrChild {
        public static void main(String[] args) throws Exception {
            System.out.println("jdk.jfr present: " + ModuleLayer.boot().findModule("jdk.jfr").isPresent());
            List<ReapEvent> events = new CopyOnWriteArrayList<>();
            IdleReaper reaper = IdleReaper.builder().tickResolution(RES).readIdleTimeout(Duration.ofMillis(300))
                    .listener((ch, e) -> events.add(e)).build();
            ReapJfrTest test = new ReapJfrTest();
            try {
                test.silentClient(test.start(reaper));
                await().atMost(Duration.ofSeconds(30)).until(() -> events.size() == 1);
                await().atMost(Duration.ofSeconds(30)).until(() -> reaper.stats().open() == 0);
                System.out.println("event class loaded: " + ReaperCore.JFR_EVENT);
                System.out.println("reaped: " + events.get(0).reason() + ", open " + reaper.stats().open());
            } finally {
                test.tearDown();
            }
            System.exit(0);
        }
    }
}
