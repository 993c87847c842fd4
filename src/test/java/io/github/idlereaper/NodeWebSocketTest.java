package io.github.idlereaper;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.idlereaper.protocol.WebSocketHeartbeat;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolHandler;
import io.netty.util.ReferenceCountUtil;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Layer 4 with the client users have: Node's {@code ws} package (src/test/node, pinned in its package-lock.json)
 * against a Netty WebSocket server on loopback NIO. {@code ws} answers every ping with a pong on its own, so a client
 * that sends nothing is alive but idle: the heartbeat keeps finding it there, and {@code readIdleTimeout} reaps it
 * with Close 1001. A client that sends messages is never reaped, and with {@code heartbeatIsActivity(true)} neither
 * is the one that only answers pings.
 *
 * <p>Skips where {@code node} or the installed {@code ws} module is missing; with
 * {@code -Didlereaper.requireClients=true} (as CI runs) fails instead.
 */
class NodeWebSocketTest {

    private static final Path DIR = Path.of("src/test/node");
    private static final Duration READ_IDLE = Duration.ofSeconds(2);
    private static final Duration RES = Duration.ofMillis(100);
    /** How late a close may be observed on a busy 2-core machine, beyond the reaper's own bound. */
    private static final long SLACK_MS = 1_500;
    /** How long a client that must be kept is watched. */
    private static final Duration KEPT = Duration.ofSeconds(6);
    /** How long such a client stays after its open before it closes itself: past the watch, with room to spare. */
    private static final Duration LIFETIME = Duration.ofMillis(7_500);

    private static String unavailable;

    private EventLoopGroup boss;
    private EventLoopGroup workers;
    private NodeClient client;
    private final BlockingQueue<Channel> accepted = new LinkedBlockingQueue<>();
    private final List<ReapEvent> listened = new CopyOnWriteArrayList<>();
    private final AtomicLong acceptedNanos = new AtomicLong();
    private final AtomicLong upgradeNanos = new AtomicLong();
    private final AtomicInteger texts = new AtomicInteger();

    @BeforeAll
    static void checkClient() {
        unavailable = NodeClient.unavailable();
    }

    /** Skips without the client; with {@code -Didlereaper.requireClients=true} fails, so CI cannot pass by skipping. */
    @BeforeEach
    void assumeClient() {
        if (Boolean.getBoolean("idlereaper.requireClients")) {
            assertNull(unavailable, "idlereaper.requireClients is set, but: " + unavailable);
        }
        Assumptions.assumeTrue(unavailable == null, () -> unavailable);
    }

    @AfterEach
    void tearDown() {
        if (client != null) {
            client.close();
        }
        for (EventLoopGroup g : new EventLoopGroup[] {workers, boss}) {
            if (g != null) {
                g.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
            }
        }
    }

    private IdleReaper reaper(boolean heartbeatIsActivity) {
        return IdleReaper.builder().readIdleTimeout(READ_IDLE).tickResolution(RES)
                .heartbeat(Duration.ofMillis(500), Duration.ofMillis(250), 2, WebSocketHeartbeat.INSTANCE)
                .heartbeatIsActivity(heartbeatIsActivity).listener((ch, e) -> listened.add(e)).build();
    }

    /**
     * A WebSocket server on /ws whose application consumes text frames. It notes when the connection was accepted
     * and when the upgrade request's head arrived (in front of the aggregator, a little before the watch sees it).
     */
    private int server(IdleReaper reaper) {
        boss = Transport.NIO.group(1);
        workers = Transport.NIO.group(1);
        ServerBootstrap b = new ServerBootstrap().group(boss, workers).channel(Transport.NIO.serverChannel())
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        acceptedNanos.set(System.nanoTime());
                        accepted.add(ch);
                        ch.pipeline().addLast(new HttpServerCodec(), new ChannelInboundHandlerAdapter() {
                            @Override
                            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                if (msg instanceof HttpRequest) {
                                    upgradeNanos.compareAndSet(0, System.nanoTime());
                                }
                                ctx.fireChannelRead(msg);
                            }
                        }, new HttpObjectAggregator(65536), new WebSocketServerProtocolHandler("/ws"),
                                new ChannelInboundHandlerAdapter() {
                                    @Override
                                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                        if (msg instanceof TextWebSocketFrame) {
                                            texts.incrementAndGet();
                                        }
                                        ReferenceCountUtil.release(msg);
                                    }
                                });
                    }
                });
        reaper.install(b);
        Channel listening = b.bind("127.0.0.1", 0).syncUninterruptibly().channel();
        return ((InetSocketAddress) listening.localAddress()).getPort();
    }

    private Channel serverSide() throws InterruptedException {
        Channel ch = accepted.poll(10, TimeUnit.SECONDS);
        assertNotNull(ch, "the server accepted no connection; the client said: " + client.lines());
        await().atMost(Duration.ofSeconds(10)).until(() -> upgradeNanos.get() != 0);
        return ch;
    }

    @Test
    void pingAnsweringClient_isAliveButIdle_andReapedByReadIdle_withClose1001() throws Exception {
        IdleReaper reaper = reaper(false);
        client = NodeClient.start(server(reaper), "silent", Duration.ofSeconds(10));
        Channel server = serverSide();
        AtomicLong closedNanos = new AtomicLong();
        server.closeFuture().addListener(f -> closedNanos.set(System.nanoTime()));
        await().atMost(READ_IDLE.plusSeconds(10)).until(() -> closedNanos.get() != 0);

        long afterUpgrade = TimeUnit.NANOSECONDS.toMillis(closedNanos.get() - upgradeNanos.get());
        long afterAccept = TimeUnit.NANOSECONDS.toMillis(closedNanos.get() - acceptedNanos.get());
        client.awaitExit();
        System.out.printf("NodeWebSocketTest: server closed the ws %s client %d ms after its upgrade request (%d ms"
                + " after accept); the client saw %d pings, then `%s` %.0f ms after its open%n", NodeClient.pinned(),
                afterUpgrade, afterAccept, client.count("ping"), client.first("close"),
                client.at("close") - client.at("open"));
        // Never early: the upgrade request is activity (the watch sits in front of Netty's handshake handler).
        long limit = READ_IDLE.toMillis();
        assertTrue(afterUpgrade >= limit, "reaped early, " + afterUpgrade + " ms after the upgrade request");
        assertTrue(afterUpgrade <= limit + RES.toMillis() + SLACK_MS,
                "reaped late, " + afterUpgrade + " ms after the upgrade request (bound " + (limit + RES.toMillis())
                        + " ms)");
        assertEquals(1, listened.size(), "reaps: " + listened);
        assertEquals(ReapReason.READ_IDLE, listened.get(0).reason());
        assertEquals(1, reaper.stats().reaped(ReapReason.READ_IDLE));
        // Alive all along: pinged at least twice, answered each time (no HEARTBEAT_TIMEOUT), then the goodbye.
        assertTrue(client.count("ping") >= 2, "pings: " + client.lines());
        assertEquals("close 1001 idle", client.first("close"), "client: " + client.lines());
        assertEquals(0, client.count("error"), "client: " + client.lines());
    }

    @Test
    void clientSendingEvery300ms_isNeverReaped() throws Exception {
        IdleReaper reaper = reaper(false);
        client = NodeClient.start(server(reaper), "every=300", LIFETIME);
        Channel server = serverSide();
        await().during(KEPT).atMost(KEPT.plusSeconds(5)).until(server::isActive);
        assertEquals(List.of(), listened);
        assertTrue(texts.get() >= 15, "the server received " + texts.get() + " messages");
        assertClientClosedItself(reaper);
    }

    @Test
    void heartbeatIsActivity_keepsThePingAnsweringClient() throws Exception {
        IdleReaper reaper = reaper(true);
        client = NodeClient.start(server(reaper), "silent", LIFETIME);
        Channel server = serverSide();
        await().during(KEPT).atMost(KEPT.plusSeconds(5)).until(server::isActive);
        assertEquals(List.of(), listened);
        assertTrue(client.count("ping") >= 5, "pings: " + client.lines());
        assertClientClosedItself(reaper);
    }

    /** The client ran to the end of its lifetime and closed with 1000, which the server echoed. */
    private void assertClientClosedItself(IdleReaper reaper) {
        client.awaitExit();
        assertEquals("close 1000 done", client.first("close"), "client: " + client.lines());
        assertEquals(0, reaper.stats().reapedTotal(), "reaps: " + listened);
    }

    /** {@code node ws-client.mjs} in src/test/node, its output lines collected as they come. */
    static final class NodeClient {
        private static final Duration EXIT_WAIT = Duration.ofSeconds(15);

        private final Process process;
        /** Each line as printed: {@code <ms since start> <event>}. */
        private final List<String> lines = new CopyOnWriteArrayList<>();

        private NodeClient(Process process) {
            this.process = process;
            Thread reader = new Thread(() -> {
                try (BufferedReader r = new BufferedReader(
                        new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                    for (String line; (line = r.readLine()) != null; ) {
                        lines.add(line);
                    }
                } catch (IOException e) {
                    lines.add("(reader) " + e);
                }
            }, "node-ws-client-output");
            reader.setDaemon(true);
            reader.start();
        }

        static NodeClient start(int port, String mode, Duration lifetime) throws IOException {
            return new NodeClient(new ProcessBuilder("node", "ws-client.mjs", String.valueOf(port), mode,
                    String.valueOf(lifetime.toMillis())).directory(DIR.toFile()).redirectErrorStream(true).start());
        }

        /** The {@code ws} version package.json pins. */
        static String pinned() {
            try {
                Matcher m = Pattern.compile("\"ws\"\\s*:\\s*\"([^\"]+)\"")
                        .matcher(Files.readString(DIR.resolve("package.json")));
                return m.find() ? m.group(1) : null;
            } catch (IOException e) {
                return null;
            }
        }

        /** Why the client cannot run here, or null when it can. */
        static String unavailable() {
            String fix = "run (cd src/test/node && npm ci)";
            String pinned = pinned();
            if (pinned == null) {
                return DIR.toAbsolutePath() + "/package.json is missing or pins no ws version";
            }
            Process p;
            try {
                p = new ProcessBuilder("node", "-p", "require('ws/package.json').version").directory(DIR.toFile())
                        .redirectErrorStream(true).start();
            } catch (IOException e) {
                return "node is not on the PATH (" + e.getMessage() + "): install Node.js 18 or later, then " + fix;
            }
            try {
                if (!p.waitFor(30, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                    return "node did not answer within 30 s";
                }
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
                if (p.exitValue() != 0) {
                    return "the ws module is not installed in src/test/node: " + fix;
                }
                if (!out.equals(pinned)) {
                    return "src/test/node has ws " + out + ", package.json pins " + pinned + ": " + fix;
                }
                return null;
            } catch (InterruptedException | IOException e) {
                p.destroyForcibly();
                return "could not ask node for the ws version: " + e;
            }
        }

        List<String> lines() {
            return List.copyOf(lines);
        }

        /** Events without their time. */
        private List<String> events() {
            return lines.stream().map(l -> l.substring(l.indexOf(' ') + 1)).toList();
        }

        long count(String event) {
            return events().stream().filter(e -> e.equals(event) || e.startsWith(event + " ")).count();
        }

        /** The first event of this kind, without its time, or null. */
        String first(String event) {
            return events().stream().filter(e -> e.equals(event) || e.startsWith(event + " ")).findFirst()
                    .orElse(null);
        }

        /** When the first event of this kind came, in ms since the client started, or NaN. */
        double at(String event) {
            return lines.stream().filter(l -> {
                String e = l.substring(l.indexOf(' ') + 1);
                return e.equals(event) || e.startsWith(event + " ");
            }).mapToDouble(l -> Double.parseDouble(l.substring(0, l.indexOf(' ')))).findFirst().orElse(Double.NaN);
        }

        /** Waits for the client to exit by itself, which it does after a close; fails if it does not. */
        void awaitExit() {
            await().atMost(EXIT_WAIT).until(() -> !process.isAlive());
            await().atMost(Duration.ofSeconds(2)).until(() -> first("exit") != null);
            assertEquals("exit 0", first("exit"), "client: " + lines);
        }

        void close() {
            if (process.isAlive()) {
                process.destroyForcibly();
            }
            try {
                process.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
