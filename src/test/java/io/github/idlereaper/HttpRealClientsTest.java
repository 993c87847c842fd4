package io.github.idlereaper;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.github.idlereaper.examples.HttpServer;
import io.github.idlereaper.protocol.WebSocketHeartbeat;
import io.netty.channel.Channel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The HTTP layer against the real clients users and load testers run: curl (keep-alive reuse and reaping, HTTP/1.1
 * and HTTP/2 connection rotation by {@code maxRequestsPerConnection}, h2c upgrade and h2 over TLS with a slow
 * request), wrk (a steady rate just under the keep-alive timeout, 20 s), h2load (HTTP/2 streams slower than every
 * timeout, h2c and h2 over TLS; h2c prior-knowledge rotation by {@code maxRequestsPerConnection}) and Node's
 * {@code ws} (the 101 followed by the heartbeat), all on loopback against the example
 * {@link HttpServer}. Each test skips with a message naming the missing client; with
 * {@code -Didlereaper.requireClients=true} (as CI runs) it fails instead. Timing checks are loose: the box is noisy.
 */
class HttpRealClientsTest {

    private static final Duration TICK = Duration.ofMillis(50);
    private static final Path NODE_DIR = Path.of("src/test/node");

    @TempDir
    Path tmp;

    private HttpServer server;
    private final List<ReapEvent> reaps = new CopyOnWriteArrayList<>();
    private final List<Long> reapedAt = new CopyOnWriteArrayList<>();

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    // ---------------------------------------------------------------- 1. curl keep-alive

    @Test
    void curl_reusesAKeepAliveConnection_andReconnectsAfterTheKeepAliveTimeoutReapedIt() throws Exception {
        requireClient("curl", "curl");
        int port = start(b -> b.keepAliveTimeout(Duration.ofMillis(500)));
        String url = "http://127.0.0.1:" + port + "/";

        Run quick = run(Duration.ofSeconds(30), "curl", "-sv", "-o", "/dev/null", "-o", "/dev/null",
                "-w", "%{http_code} %{num_connects}\\n", url, url);
        assertEquals(0, quick.exit, quick::toString);
        assertEquals(List.of("200 1", "200 0"), quick.outLines(), quick::toString);
        assertTrue(quick.err.contains("Re-using existing connection"), quick::toString);
        assertEquals(List.of(), reaps, "reaped while reused");
        // curl's connection goes when curl exits: the client's close, not a reap.
        await().pollDelay(Duration.ofMillis(800)).atMost(Duration.ofSeconds(5)).until(() -> true);
        assertEquals(List.of(), reaps, "reaps after curl closed");

        // --rate 1/s: the second transfer starts a second after the first, twice the keep-alive timeout.
        Run paced = run(Duration.ofSeconds(30), "curl", "-sv", "--rate", "1/s", "-o", "/dev/null", "-o",
                "/dev/null", "-w", "%{http_code} %{num_connects}\\n", url, url);
        assertEquals(0, paced.exit, paced::toString);
        assertEquals(List.of("200 1", "200 1"), paced.outLines(), "curl had to connect again: " + paced);
        assertTrue(paced.err.contains("(#1)"), () -> "no second connection in " + paced);
        assertTrue(!paced.err.contains("Re-using existing connection"), paced::toString);
        await().atMost(Duration.ofSeconds(5)).until(() -> reaps.size() >= 1);
        assertEquals(ReapReason.KEEPALIVE_TIMEOUT, reaps.get(0).reason(), reaps::toString);
        assertEquals(1, reaps.size(), reaps::toString);
    }

    /** Never early: the same paced run against a 3 s keep-alive timeout reuses its one connection. */
    @Test
    void curl_pacedOneRequestASecond_underA3sKeepAliveTimeout_reusesOneConnection() throws Exception {
        requireClient("curl", "curl");
        int port = start(b -> b.keepAliveTimeout(Duration.ofSeconds(3)));
        String url = "http://127.0.0.1:" + port + "/";
        Run paced = run(Duration.ofSeconds(30), "curl", "-sv", "--rate", "1/s", "-o", "/dev/null", "-o",
                "/dev/null", "-o", "/dev/null", "-w", "%{http_code} %{num_connects}\\n", url, url, url);
        assertEquals(0, paced.exit, paced::toString);
        assertEquals(List.of("200 1", "200 0", "200 0"), paced.outLines(), paced::toString);
        assertTrue(paced.err.contains("Re-using existing connection"), paced::toString);
        assertTrue(TimeUnit.NANOSECONDS.toMillis(paced.endNanos - paced.startNanos) >= 1900,
                () -> "curl did not pace its transfers: " + paced);
        assertEquals(List.of(), reaps, "reaped while reused");
    }

    // ---------------------------------------------------------------- 2. wrk steady rate

    @Test
    void wrk_steadyRateWithGapsHalfTheKeepAliveTimeout_noSocketErrors_noReapWhileItRuns() throws Exception {
        requireClient("wrk", "wrk");
        int port = start(b -> b.keepAliveTimeout(Duration.ofMillis(500)));
        Path script = tmp.resolve("delay.lua");
        Files.writeString(script, "function delay()\n  return 250\nend\n");
        Run wrk = run(Duration.ofSeconds(60), "wrk", "-t2", "-c50", "-d20s", "-s", script.toString(),
                "http://127.0.0.1:" + port + "/");
        long exited = wrk.endNanos;
        assertEquals(0, wrk.exit, wrk::toString);
        Matcher socket = Pattern.compile("Socket errors: connect (\\d+), read (\\d+), write (\\d+), timeout (\\d+)")
                .matcher(wrk.out);
        if (socket.find()) {
            for (int i = 1; i <= 4; i++) {
                assertEquals("0", socket.group(i), () -> "socket errors: " + wrk);
            }
        }
        assertTrue(!wrk.out.contains("Non-2xx"), wrk::toString);
        Matcher requests = Pattern.compile("(\\d+) requests in").matcher(wrk.out);
        assertTrue(requests.find(), wrk::toString);
        // 50 connections, one request each 250 ms plus the answer, for 20 s: about 4000; loosely more than 1000.
        assertTrue(Long.parseLong(requests.group(1)) > 1000, wrk::toString);
        for (int i = 0; i < reapedAt.size(); i++) {
            assertTrue(reapedAt.get(i) >= exited, "reaped while wrk ran: " + reaps.get(i));
        }
    }

    // ---------------------------------------------------------------- 3. h2load

    @Test
    void h2load_streamsSlowerThanEveryTimeout_allSucceed_noReapWhileItRuns() throws Exception {
        requireClient("h2load", "nghttp2-client");
        int port = start(b -> b.keepAliveTimeout(Duration.ofMillis(300)).readIdleTimeout(Duration.ofMillis(300)));
        slowStreams("http://127.0.0.1:" + port, 200, "h2c");
    }

    @Test
    void h2load_overTlsWithAlpn_streamsSlowerThanEveryTimeout_allSucceed_noReapWhileItRuns() throws Exception {
        requireClient("h2load", "nghttp2-client");
        IdleReaper reaper = reaper(b -> b.keepAliveTimeout(Duration.ofMillis(300))
                .readIdleTimeout(Duration.ofMillis(300)));
        server = new HttpServer(reaper, 0, Http2LayerTest.serverTls(), HttpServer.nio(1),
                NioServerSocketChannel.class);
        slowStreams("https://127.0.0.1:" + server.address().getPort(), 100, "h2");
    }

    /** {@code n} requests of 600 ms, 4 connections with 4 streams each: all succeed, no reap while h2load runs. */
    private void slowStreams(String base, int n, String protocol) throws Exception {
        Run h2load = run(Duration.ofSeconds(90), "h2load", "-n", String.valueOf(n), "-c", "4", "-m", "4",
                base + "/slow?ms=600");
        long exited = h2load.endNanos;
        assertEquals(0, h2load.exit, h2load::toString);
        assertTrue(h2load.out.contains(n + " succeeded, 0 failed, 0 errored, 0 timeout"), h2load::toString);
        assertTrue(h2load.out.contains("Application protocol: " + protocol + "\n"),
                () -> "not " + protocol + ": " + h2load);
        for (int i = 0; i < reapedAt.size(); i++) {
            assertTrue(reapedAt.get(i) >= exited, "reaped while h2load ran: " + reaps.get(i));
        }
    }

    // ---------------------------------------------------------------- 4. max requests, h2c upgrade, h2 over TLS

    @Test
    void curl_http11_maxRequestsPerConnection2_fiveRequestsAllAnswered_twoRotations() throws Exception {
        requireClient("curl", "curl");
        int port = start(b -> b.maxRequestsPerConnection(2));
        Run curl = run(Duration.ofSeconds(30), curlFive("http", port, "--http1.1"));
        assertEquals(0, curl.exit, curl::toString);
        assertEquals(List.of("200 1.1 1", "200 1.1 0", "200 1.1 1", "200 1.1 0", "200 1.1 1"), curl.outLines(),
                curl::toString);
        await().atMost(Duration.ofSeconds(5)).until(() -> reaps.size() >= 2);
        await().pollDelay(Duration.ofMillis(300)).until(() -> true); // none more comes
        assertEquals(List.of(ReapReason.MAX_REQUESTS, ReapReason.MAX_REQUESTS),
                reaps.stream().map(ReapEvent::reason).toList(), reaps::toString);
    }

    /**
     * HTTP/2 streams one after another on one connection, rotated by GOAWAY, with curl over TLS (ALPN h2): curl
     * sends the streams the GOAWAY refused again on a new connection. Not with h2c prior knowledge: curl 7.88.1
     * (Debian 12's) fails every reuse of a prior-knowledge connection, sequential or {@code --parallel}, with exit
     * 16 and the HTTP layer off as well; h2load covers prior knowledge below.
     */
    @Test
    void curl_h2OverTls_maxRequestsPerConnection2_fiveRequestsAllAnswered_rotatedByGoaway() throws Exception {
        requireClient("curl", "curl");
        IdleReaper reaper = reaper(b -> b.maxRequestsPerConnection(2));
        server = new HttpServer(reaper, 0, Http2LayerTest.serverTls(), HttpServer.nio(1),
                NioServerSocketChannel.class);
        Run curl = run(Duration.ofSeconds(30), curlFive("https", server.address().getPort(), "-k", "--http2"));
        assertEquals(0, curl.exit, curl::toString);
        List<String> lines = curl.outLines();
        assertEquals(5, lines.size(), curl::toString);
        for (String line : lines) {
            assertTrue(line.startsWith("200 2 "), curl::toString);
        }
        long connects = lines.stream().filter(l -> l.endsWith(" 1")).count();
        assertTrue(connects >= 3, () -> "curl connected " + connects + " times, not 3: " + curl);
        await().atMost(Duration.ofSeconds(5)).until(() -> reaps.stream()
                .filter(e -> e.reason() == ReapReason.MAX_REQUESTS).count() >= 2);
        assertTrue(reaps.stream().allMatch(e -> e.reason() == ReapReason.MAX_REQUESTS), reaps::toString);
    }

    /**
     * h2c prior knowledge with h2load, which does not reconnect after a GOAWAY: three connections of exactly two
     * streams each are all answered, and each is closed with {@code MAX_REQUESTS}; three streams per connection
     * get two answered, and the third is refused by the GOAWAY and never started.
     */
    @Test
    void h2load_priorKnowledge_maxRequestsPerConnection2_twoStreamsPerConnectionAnswered_thenGoaway() throws Exception {
        requireClient("h2load", "nghttp2-client");
        int port = start(b -> b.maxRequestsPerConnection(2));
        String url = "http://127.0.0.1:" + port + "/";
        Run two = run(Duration.ofSeconds(30), "h2load", "-n", "6", "-c", "3", "-m", "1", url);
        assertEquals(0, two.exit, two::toString);
        assertTrue(two.out.contains("Application protocol: h2c\n"), two::toString);
        assertTrue(two.out.contains("6 succeeded, 0 failed, 0 errored, 0 timeout"), two::toString);
        await().atMost(Duration.ofSeconds(5)).until(() -> reaps.size() >= 3);
        await().pollDelay(Duration.ofMillis(300)).until(() -> true); // none more comes
        assertEquals(List.of(ReapReason.MAX_REQUESTS, ReapReason.MAX_REQUESTS, ReapReason.MAX_REQUESTS),
                reaps.stream().map(ReapEvent::reason).toList(), reaps::toString);

        reaps.clear();
        Run three = run(Duration.ofSeconds(30), "h2load", "-n", "9", "-c", "3", "-m", "1", url);
        assertTrue(three.out.contains("6 succeeded, 3 failed"), three::toString);
        assertTrue(three.out.contains("6 2xx, 0 3xx, 0 4xx, 0 5xx"), three::toString);
        await().atMost(Duration.ofSeconds(5)).until(() -> reaps.size() >= 3);
        assertTrue(reaps.stream().allMatch(e -> e.reason() == ReapReason.MAX_REQUESTS), reaps::toString);
    }

    /**
     * A 1.5 s request with a 500 ms read idle timeout and no markBusy anywhere, over HTTP/1.1, h2c prior knowledge
     * and h2c upgrade: answered whole, and nothing is reaped.
     */
    @Test
    void curl_slowRequestLongerThanReadIdle_isAnswered_overHttp11_h2cPriorKnowledge_h2cUpgrade() throws Exception {
        requireClient("curl", "curl");
        int port = start(b -> b.http().readIdleTimeout(Duration.ofMillis(500)));
        String url = "http://127.0.0.1:" + port + "/slow?ms=1500";
        Run h1 = slow("--http1.1", url);
        assertEquals(List.of("200 1.1"), h1.outLines(), h1::toString);
        Run prior = slow("--http2-prior-knowledge", url);
        assertEquals(List.of("200 2"), prior.outLines(), prior::toString);
        assertTrue(!prior.err.contains("Upgrade"), () -> "not prior knowledge: " + prior);
        Run upgrade = slow("--http2", url);
        assertEquals(List.of("200 2"), upgrade.outLines(), upgrade::toString);
        assertTrue(upgrade.err.contains("< HTTP/1.1 101"), () -> "no upgrade: " + upgrade);
        assertEquals(List.of(), reaps, "reaped in flight");
    }

    /** The same over TLS: ALPN picks h2 for {@code --http2} and http/1.1 for {@code --http1.1}. */
    @Test
    void curl_overTls_slowRequestLongerThanReadIdle_isAnswered_overH2AndHttp11ByAlpn() throws Exception {
        requireClient("curl", "curl");
        IdleReaper reaper = reaper(b -> b.http().readIdleTimeout(Duration.ofMillis(500)));
        server = new HttpServer(reaper, 0, Http2LayerTest.serverTls(), HttpServer.nio(1),
                NioServerSocketChannel.class);
        String url = "https://127.0.0.1:" + server.address().getPort() + "/slow?ms=1500";
        Run h2 = slow("-k --http2", url);
        assertEquals(List.of("200 2"), h2.outLines(), h2::toString);
        assertTrue(h2.err.contains("ALPN: server accepted h2"), () -> "no ALPN h2: " + h2);
        Run h1 = slow("-k --http1.1", url);
        assertEquals(List.of("200 1.1"), h1.outLines(), h1::toString);
        assertTrue(h1.err.contains("ALPN: server accepted http/1.1"), () -> "no ALPN http/1.1: " + h1);
        assertEquals(List.of(), reaps, "reaped in flight");
    }

    /** One curl request for {@code url} with {@code options} (space-separated); it must end 0 after at least 1.5 s. */
    private Run slow(String options, String url) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("curl", "-sv"));
        cmd.addAll(List.of(options.split(" ")));
        cmd.addAll(List.of("-o", "/dev/null", "-w", "%{http_code} %{http_version}\\n", url));
        Run curl = run(Duration.ofSeconds(30), cmd.toArray(String[]::new));
        assertEquals(0, curl.exit, curl::toString);
        assertTrue(TimeUnit.NANOSECONDS.toMillis(curl.endNanos - curl.startNanos) >= 1500, curl::toString);
        return curl;
    }

    private static String[] curlFive(String scheme, int port, String... options) {
        List<String> cmd = new ArrayList<>(List.of("curl", "-sv"));
        cmd.addAll(List.of(options));
        cmd.addAll(List.of("-w", "%{http_code} %{http_version} %{num_connects}\\n"));
        for (int i = 0; i < 5; i++) {
            cmd.addAll(List.of("-o", "/dev/null", scheme + "://127.0.0.1:" + port + "/"));
        }
        return cmd.toArray(String[]::new);
    }

    // ---------------------------------------------------------------- 5. WebSocket upgrade, then the heartbeat

    private int wsServer() {
        return wsServer(Duration.ofSeconds(10));
    }

    private int wsServer(Duration readIdle) {
        return start(b -> b.keepAliveTimeout(Duration.ofMillis(500)).requestHeaderTimeout(Duration.ofMillis(500))
                .readIdleTimeout(readIdle)
                .heartbeat(Duration.ofMillis(300), Duration.ofMillis(200), 2, WebSocketHeartbeat.INSTANCE));
    }

    @Test
    void nodeWs_afterThe101_httpTimersStop_andThePongingClientStaysItsWholeLifetime() throws Exception {
        requireNodeWs();
        int port = wsServer();
        Run node = run(Duration.ofSeconds(30), nodeWs(port, 3000, "pong"));
        assertEquals(0, node.exit, node::toString);
        assertTrue(node.outLines().stream().anyMatch(l -> l.endsWith(" close 1000 done")),
                () -> "the client did not close itself: " + node);
        assertTrue(pings(node) >= 3, node::toString);
        assertEquals(List.of(), reaps, "reaped before the client closed");
    }

    @Test
    void nodeWs_clientThatNeverPongs_isReapedByTheHeartbeat_notByAnHttpTimer() throws Exception {
        requireNodeWs();
        int port = wsServer();
        Run node = run(Duration.ofSeconds(30), nodeWs(port, 8000, "nopong"));
        assertEquals(0, node.exit, node::toString);
        String close = node.outLines().stream().filter(l -> l.contains(" close ")).findFirst().orElse(null);
        assertTrue(close != null && !close.endsWith(" close 1000 done"), () -> "not closed by the server: " + node);
        double closedAt = Double.parseDouble(close.substring(0, close.indexOf(' ')));
        assertTrue(closedAt < 5000, () -> "closed late, " + closedAt + " ms: " + node);
        await().atMost(Duration.ofSeconds(5)).until(() -> !reaps.isEmpty());
        assertEquals(List.of(ReapReason.HEARTBEAT_TIMEOUT), reaps.stream().map(ReapEvent::reason).toList(),
                reaps::toString);
        assertTrue(pings(node) >= 2, () -> "reaped before maxMissed (2) pings went unanswered: " + node);
    }

    /**
     * After the 101 the idle timers run again (the upgrade request is no longer in flight): a client that only
     * answers pings is alive but idle, and read idle reaps it, not an HTTP timer.
     */
    @Test
    void nodeWs_afterThe101_theIdleTimersRunAgain_aPongingButSilentClientIsReapedByReadIdle() throws Exception {
        requireNodeWs();
        int port = wsServer(Duration.ofMillis(1500));
        Run node = run(Duration.ofSeconds(30), nodeWs(port, 8000, "pong"));
        assertEquals(0, node.exit, node::toString);
        String close = node.outLines().stream().filter(l -> l.contains(" close ")).findFirst().orElse(null);
        assertTrue(close != null && close.endsWith(" close 1001 idle"), () -> "not closed by the server: " + node);
        double closedAt = Double.parseDouble(close.substring(0, close.indexOf(' ')));
        assertTrue(closedAt >= 1500 && closedAt < 5000, () -> "closed at " + closedAt + " ms: " + node);
        await().atMost(Duration.ofSeconds(5)).until(() -> !reaps.isEmpty());
        assertEquals(List.of(ReapReason.READ_IDLE), reaps.stream().map(ReapEvent::reason).toList(),
                reaps::toString);
        assertTrue(pings(node) >= 3, node::toString);
    }

    private static String[] nodeWs(int port, int lifetimeMs, String mode) {
        return new String[] {"node", NODE_DIR.resolve("ws-heartbeat-client.mjs").toAbsolutePath().toString(),
                String.valueOf(port), String.valueOf(lifetimeMs), mode};
    }

    private static long pings(Run node) {
        return node.outLines().stream().filter(l -> l.matches("\\S+ pings \\d+")).findFirst()
                .map(l -> Long.parseLong(l.substring(l.lastIndexOf(' ') + 1))).orElse(-1L);
    }

    // ---------------------------------------------------------------- the server, the clients

    private IdleReaper reaper(UnaryOperator<IdleReaper.Builder> options) {
        return options.apply(IdleReaper.builder().tickResolution(TICK).listener((Channel ch, ReapEvent e) -> {
            reapedAt.add(System.nanoTime());
            reaps.add(e);
        })).build();
    }

    private int start(UnaryOperator<IdleReaper.Builder> options) {
        server = new HttpServer(reaper(options), 0);
        return server.address().getPort();
    }

    private static boolean required() {
        return Boolean.getBoolean("idlereaper.requireClients");
    }

    /** Skips without {@code command} on the PATH; with {@code -Didlereaper.requireClients=true} fails. */
    private static void requireClient(String command, String aptPackage) {
        String why = onPath(command) ? null
                : command + " not found on PATH: apt-get install " + aptPackage;
        if (required()) {
            assertNull(why, "idlereaper.requireClients is set, but: " + why);
        }
        Assumptions.assumeTrue(why == null, why);
    }

    private static void requireNodeWs() {
        String why;
        if (!onPath("node")) {
            why = "node not found on PATH: install Node.js 18 or later, then run (cd src/test/node && npm ci)";
        } else if (!Files.isRegularFile(NODE_DIR.resolve("node_modules/ws/package.json"))) {
            why = "the ws module is not installed in src/test/node: run (cd src/test/node && npm ci)";
        } else {
            why = null;
        }
        if (required()) {
            assertNull(why, "idlereaper.requireClients is set, but: " + why);
        }
        Assumptions.assumeTrue(why == null, why);
    }

    private static boolean onPath(String command) {
        String path = System.getenv("PATH");
        return path != null && Arrays.stream(path.split(File.pathSeparator))
                .anyMatch(dir -> Files.isExecutable(Path.of(dir, command)));
    }

    /** A finished client process: its command line, exit code, output, and when it started and exited. */
    record Run(List<String> command, int exit, String out, String err, long startNanos, long endNanos) {
        List<String> outLines() {
            return out.lines().filter(l -> !l.isBlank()).toList();
        }

        @Override
        public String toString() {
            return "`" + String.join(" ", command) + "` exit " + exit + " after "
                    + TimeUnit.NANOSECONDS.toMillis(endNanos - startNanos) + " ms\n--- stdout\n" + out
                    + "\n--- stderr\n" + err;
        }
    }

    /** Runs a client to its end within {@code timeout} (destroyed and failed past it), and logs what it did. */
    private Run run(Duration timeout, String... command) throws IOException, InterruptedException {
        Path out = Files.createTempFile(tmp, "out", ".txt");
        Path err = Files.createTempFile(tmp, "err", ".txt");
        System.out.println("HttpRealClientsTest: $ " + String.join(" ", command));
        long start = System.nanoTime();
        Process p = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        boolean done = p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
        long end = System.nanoTime();
        if (!done) {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
        Run run = new Run(List.of(command), done ? p.exitValue() : -1, Files.readString(out, StandardCharsets.UTF_8),
                Files.readString(err, StandardCharsets.UTF_8), start, end);
        System.out.println("HttpRealClientsTest: " + run);
        if (!done) {
            fail("did not end within " + timeout + ": " + run);
        }
        return run;
    }
}
