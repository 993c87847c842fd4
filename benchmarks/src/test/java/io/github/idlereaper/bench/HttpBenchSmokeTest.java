package io.github.idlereaper.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.idlereaper.bench.HttpBench.Conn;
import io.github.idlereaper.bench.HttpBench.Layer;
import io.github.idlereaper.bench.HttpLayerFigure.Scores;
import io.github.idlereaper.examples.HttpServer;
import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * Keeps the HTTP layer's benchmark pieces (issue #10) compiling and running, at tiny sizes: the JMH harness, the
 * exact allocation count, the heap figure and the server {@code benchmarks/http.sh} starts. It checks what does not
 * depend on timing (the layer is in the pipeline or not, responses come out, the bytes a request allocates, the
 * objects a connection keeps); it never checks a duration.
 */
class HttpBenchSmokeTest {

    @Test
    void conn_everyLayer_answersEachRequest() {
        for (Layer l : Layer.values()) {
            try (Conn c = new Conn(l)) { // fails when the companion is where it should not be, or missing
                long first = c.request();
                assertTrue(first > HttpBench.BODY.readableBytes(), l + ": " + first);
                assertEquals(2 * first, c.request(), l + ": the same response again");
            }
        }
    }

    /**
     * The layer allocates nothing per request: counted exactly, in a JVM of its own per configuration, interpreted
     * ({@code -Xint}), so that no JIT decision (escape analysis) differs between the two.
     */
    @Test
    void allocation_httpOverPlain_zeroBytesPerRequest() throws Exception {
        double plain = allocated(Layer.PLAIN);
        double http = allocated(Layer.HTTP);
        assertTrue(plain > 0, "plain " + plain);
        assertEquals(plain, http, BenchSuite.ZERO_BYTES, "B/request: plain " + plain + ", http " + http);
    }

    private static double allocated(Layer l) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-Xint", "-Xmx256m", "-Dio.netty.leakDetection.level=disabled",
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", System.getProperty("java.class.path"),
                HttpAllocProbe.class.getName(), l.name(), "2000", "200").redirectErrorStream(true).start();
        String out;
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            out = r.lines().collect(Collectors.joining("\n"));
        }
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "HttpAllocProbe " + l + " did not finish");
        assertEquals(0, p.exitValue(), out);
        Matcher m = Pattern.compile("([0-9.]+) B/request").matcher(out);
        assertTrue(m.find(), out);
        return Double.parseDouble(m.group(1));
    }

    @Test
    void jmhFigure_inThisJvm_scoresEveryLayer() throws Exception {
        Map<Layer, Scores> s = HttpLayerFigure.run(1, 0, 0, 1, TimeValue.milliseconds(50),
                Path.of("target", "bench-smoke", "http-jmh.log"));
        for (Layer l : Layer.values()) {
            assertEquals(1, s.get(l).wall().getN(), l.name());
            assertTrue(s.get(l).cpu().getN() == 1 && s.get(l).cpu().getMean() > 0, l.name());
        }
        assertTrue(HttpLayerFigure.table(s, "smoke").contains("the companion's own work"));
    }

    /** One companion and Netty's context for it per connection: 32 + 64 B, exactly, over the plain reaper. */
    @Test
    void heapFigure_tinySize_countsTheCompanionAndItsContext() throws Exception {
        HttpHeapFigure.Figure f = HttpHeapFigure.run(300, 50);
        String companion = "io.github.idlereaper.HttpCompanion";
        String context = "io.netty.channel.DefaultChannelHandlerContext";
        assertEquals(HttpHeapFigure.shallow(companion), f.http().over(f.plain(), companion), 0.0, f.markdown());
        assertEquals(HttpHeapFigure.shallow(context), f.http().over(f.plain(), context), 0.0, f.markdown());
        assertEquals(HttpHeapFigure.shallow(context), f.hop().over(f.plain(), context), 0.0, f.markdown());
    }

    /** The server of benchmarks/http.sh answers on a free port, layer on and off, HTTP/1.1 and h2c (upgrade). */
    @Test
    void benchServer_onAndOff_answersHttp1AndH2c() throws Exception {
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        for (boolean on : List.of(true, false)) {
            HttpServer s = HttpBenchServer.start(on, 0);
            try {
                URI uri = URI.create("http://127.0.0.1:" + s.address().getPort() + "/");
                for (HttpClient.Version v : List.of(HttpClient.Version.HTTP_1_1, HttpClient.Version.HTTP_2)) {
                    HttpResponse<String> r = client.send(HttpRequest.newBuilder(uri).version(v)
                            .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
                    assertEquals(200, r.statusCode(), (on ? "on " : "off ") + v);
                    assertEquals("hello\n", r.body(), (on ? "on " : "off ") + v);
                    assertEquals(v, r.version(), (on ? "on " : "off ") + v);
                }
            } finally {
                s.close();
            }
        }
    }

    /** The script needs wrk and h2load, and its --smoke mode is run by hand; here bash only parses it. */
    @Test
    void httpSh_parses() throws Exception {
        assertTrue(new File("benchmarks/http.sh").isFile());
        Process p = new ProcessBuilder("bash", "-n", "benchmarks/http.sh").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
    }
}
