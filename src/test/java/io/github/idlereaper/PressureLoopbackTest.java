package io.github.idlereaper;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Resource pressure for real: with an injected source, a newcomer near saturation evicts the idlest connection; and
 * a server in a child JVM under {@code ulimit -n 512}, flooded with idle connections at 50 a second, keeps accepting
 * every one of them by reaping its idlest under its own measured pressure, while the same server without the feature
 * runs out of file descriptors ("Too many open files").
 */
class PressureLoopbackTest {

    private EventLoopGroup boss;
    private EventLoopGroup workers;
    private final List<ReapEvent> events = new CopyOnWriteArrayList<>();
    private final List<Channel> accepted = new CopyOnWriteArrayList<>();
    private final List<Socket> sockets = new ArrayList<>();
    private Process child;
    private ScheduledExecutorService flood;

    @AfterEach
    void tearDown() throws Exception {
        if (flood != null) {
            flood.shutdownNow();
            flood.awaitTermination(5, TimeUnit.SECONDS);
        }
        synchronized (sockets) {
            for (Socket s : sockets) {
                s.close();
            }
        }
        if (child != null) {
            child.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        for (EventLoopGroup g : new EventLoopGroup[] {workers, boss}) {
            if (g != null) {
                g.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
            }
        }
    }

    @Test
    void nearSaturation_aNewcomerEvictsTheIdlestConnectionOfItsLoop() throws Exception {
        double[] pressure = {0.95};
        IdleReaper reaper = IdleReaper.builder().readIdleTimeout(Duration.ofSeconds(60))
                .reduceTimeoutsUnderPressure(0.7, 0.9, 0.5).evictUnderPressure(0.9).pressureSource(() -> pressure[0])
                .listener((ch, e) -> events.add(e)).build();
        boss = Transport.NIO.group(1);
        workers = Transport.NIO.group(1);
        ServerBootstrap b = new ServerBootstrap().group(boss, workers).channel(Transport.NIO.serverChannel())
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        accepted.add(ch);
                        ch.pipeline().addLast(new ChannelInboundHandlerAdapter());
                    }
                });
        reaper.install(b);
        InetSocketAddress at = (InetSocketAddress) b.bind("127.0.0.1", 0).syncUninterruptibly().channel()
                .localAddress();
        sockets.add(new Socket(at.getAddress(), at.getPort()));
        await().atMost(Duration.ofSeconds(5)).until(() -> reaper.stats().open() == 1);
        // The first is too new to evict: a second newcomer right away evicts nothing.
        sockets.add(new Socket(at.getAddress(), at.getPort()));
        await().atMost(Duration.ofSeconds(5)).until(() -> reaper.stats().open() == 2);
        assertEquals(List.of(), events);
        // Eviction takes a connection idle for 1 s at least, as the wheel bounds it: its last activity rounded up to
        // the end of its tick, here 1 s long (a tenth of the 30 s the pressure leaves of 60 s, at most 1 s). So wait
        // 1 s + a tick + a margin: after 1.3 s, a connection whose accept fell early in its tick could still be under
        // 1 s by that bound (the full suite in CI once evicted nothing after 1.3 s).
        long from = System.nanoTime();
        await().atMost(Duration.ofSeconds(5)).until(() -> System.nanoTime() - from > 2_500_000_000L);
        sockets.add(new Socket(at.getAddress(), at.getPort()));
        await().atMost(Duration.ofSeconds(5)).until(() -> events.size() == 1);
        assertEquals(ReapReason.PRESSURE, events.get(0).reason());
        assertTrue(events.get(0).message().endsWith("resource pressure 95 % at evictUnderPressure 90 %"),
                events.get(0).message());
        await().atMost(Duration.ofSeconds(5)).until(() -> reaper.stats().open() == 2);
        assertTrue(accepted.get(2).isActive(), "the newcomer stays");
        assertFalse(accepted.get(0).isActive() && accepted.get(1).isActive(), "one of the idle two went");
        // Below the level, newcomers evict nothing.
        pressure[0] = 0.5;
        await().atMost(Duration.ofSeconds(5)).until(() -> reaper.stats().pressure() == 0.5);
        sockets.add(new Socket(at.getAddress(), at.getPort()));
        await().atMost(Duration.ofSeconds(5)).until(() -> reaper.stats().open() == 3);
        assertEquals(1, events.size(), events.toString());
    }

    /** What the child printed last, and whether it ran out of files. */
    private final AtomicReference<String> lastStats = new AtomicReference<>("");

    private static final int FLOOD = 1_000;
    private static final int PER_TICK = 5;
    private static final long TICK_MS = 100;

    /** Starts the child under ulimit -n 512 and returns its port; its stderr goes to {@code log}. */
    private int startChild(String mode, Path log) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of("bash", "-c", "ulimit -n 512 && exec \"$@\"", "child", java,
                "-Xmx256m", "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
                "-Dorg.slf4j.simpleLogger.showDateTime=true", "-cp", System.getProperty("java.class.path"),
                PressureChild.class.getName(), mode));
        child = new ProcessBuilder(cmd).redirectError(log.toFile()).start();
        BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(),
                StandardCharsets.UTF_8));
        AtomicInteger port = new AtomicInteger();
        Thread reader = new Thread(() -> {
            try {
                String line;
                while ((line = out.readLine()) != null) {
                    if (line.startsWith("PORT ")) {
                        port.set(Integer.parseInt(line.substring(5).trim()));
                    } else if (line.startsWith("STATS ")) {
                        lastStats.set(line);
                    }
                }
            } catch (Exception ignored) {
                // the child is gone
            }
        }, "child-stdout");
        reader.setDaemon(true);
        reader.start();
        await().atMost(Duration.ofSeconds(30)).until(() -> port.get() != 0);
        return port.get();
    }

    /** Opens {@link #FLOOD} idle connections to {@code port}, {@link #PER_TICK} every {@link #TICK_MS} ms. */
    private void flood(int port, ConcurrentLinkedQueue<String> failures) {
        flood = Executors.newSingleThreadScheduledExecutor();
        AtomicInteger opened = new AtomicInteger();
        flood.scheduleAtFixedRate(() -> {
            for (int i = 0; i < PER_TICK && opened.get() < FLOOD; i++) {
                try {
                    Socket s = new Socket("127.0.0.1", port);
                    synchronized (sockets) {
                        sockets.add(s);
                    }
                    opened.incrementAndGet();
                } catch (Exception e) {
                    failures.add(e.toString());
                    opened.incrementAndGet();
                }
            }
        }, 0, TICK_MS, TimeUnit.MILLISECONDS);
    }

    private long stat(String name) {
        for (String part : lastStats.get().split(" ")) {
            if (part.startsWith(name + "=")) {
                return Math.round(Double.parseDouble(part.substring(name.length() + 1)));
            }
        }
        return -1;
    }

    @Test
    void lowUlimitChildJvm_keepsAcceptingEveryConnection_byReapingItsIdlest() throws Exception {
        Path log = Files.createTempFile("pressure-child-on", ".log");
        int port = startChild("on", log);
        ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
        flood(port, failures);
        await().atMost(Duration.ofSeconds(60)).until(() -> stat("opened") >= FLOOD);
        String err = Files.readString(log);
        System.out.println("child (on): " + lastStats.get());
        assertFalse(err.contains("Too many open files"), err);
        assertEquals(List.of(), new ArrayList<>(failures));
        assertTrue(stat("reaped") > 0, lastStats.get());
        assertTrue(err.contains("IdleReaper under resource pressure"), "one WARN on entering: " + err);
    }

    @Test
    void lowUlimitChildJvm_withoutTheFeature_runsOutOfFiles() throws Exception {
        Path log = Files.createTempFile("pressure-child-off", ".log");
        int port = startChild("off", log);
        ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
        flood(port, failures);
        await().atMost(Duration.ofSeconds(60)).until(() -> Files.readString(log).contains("Too many open files"));
        System.out.println("child (off): " + lastStats.get());
        assertTrue(stat("opened") < FLOOD, lastStats.get());
    }
}
