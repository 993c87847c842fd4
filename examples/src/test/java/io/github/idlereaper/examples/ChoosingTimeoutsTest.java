package io.github.idlereaper.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.idlereaper.Heartbeat;
import io.github.idlereaper.IdleReaper;
import io.github.idlereaper.doctor.IdleLimit;
import io.github.idlereaper.protocol.MqttHeartbeat;
import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * docs/configuration.md's "Choosing timeouts": each use case's table, read from the page, is compiled and built
 * as one builder chain, so every value recommended there passes {@code build()}; and the sums its last column
 * states are checked against the values.
 */
class ChoosingTimeoutsTest {

    private static final Path PAGE = Path.of("docs/configuration.md");
    private static final Pattern ROW = Pattern.compile("(?m)^\\| `(\\.[^`]+)` \\| (.*) \\|$");

    /** One use case: its heading, and its rows in order (the builder call, and why). */
    static final class UseCase {
        final String heading;
        final LinkedHashMap<String, String> why = new LinkedHashMap<>();
        final List<String> calls = new ArrayList<>();

        UseCase(String heading) {
            this.heading = heading;
        }

        /** The option a call sets: {@code .heartbeat(...)} gives {@code heartbeat}. */
        static String option(String call) {
            return call.substring(1, call.indexOf('('));
        }

        /** The option's arguments as the page writes them, in Java. */
        static String arguments(String call) {
            return call.substring(call.indexOf('(') + 1, call.lastIndexOf(')'));
        }

        String why(String option) {
            assertTrue(why.containsKey(option), heading + " has no row for " + option);
            return why.get(option);
        }
    }

    /** The use cases, in page order. */
    static List<UseCase> useCases() throws IOException {
        String section = Snippets.section(Files.readString(PAGE, StandardCharsets.UTF_8), "## Choosing timeouts");
        List<UseCase> cases = new ArrayList<>();
        for (String part : section.split("\n### ")) {
            Matcher rows = ROW.matcher(part);
            UseCase u = null;
            while (rows.find()) {
                if (u == null) {
                    u = new UseCase(part.substring(0, part.indexOf('\n')));
                    cases.add(u);
                }
                u.calls.add(rows.group(1));
                u.why.put(UseCase.option(rows.group(1)), rows.group(2));
            }
        }
        return cases;
    }

    /** A built reaper for a use case, and the arguments of each of its rows, evaluated. */
    static final class Built {
        final IdleReaper reaper;
        final Map<String, Object[]> args;

        Built(IdleReaper reaper, Map<String, Object[]> args) {
            this.reaper = reaper;
            this.args = args;
        }

        Duration duration(String option, int index) {
            assertTrue(args.containsKey(option), "no " + option + " in " + args.keySet());
            return (Duration) args.get(option)[index];
        }
    }

    /** Compiles {@code IdleReaper.builder()} with the use case's rows chained, and runs it. */
    @SuppressWarnings("unchecked")
    static Built build(UseCase u, Path dir) throws Exception {
        StringBuilder values = new StringBuilder();
        for (String call : u.calls) {
            values.append("        m.put(\"").append(UseCase.option(call)).append("\", new Object[] {")
                    .append(UseCase.arguments(call)).append("});\n");
        }
        String source = "import io.github.idlereaper.IdleReaper;\n"
                + "import io.github.idlereaper.protocol.*;\n"
                + "import java.nio.charset.StandardCharsets;\n"
                + "import java.time.Duration;\n"
                + "import java.util.LinkedHashMap;\n"
                + "import java.util.Map;\n\n"
                + "/** " + u.heading + " */\n"
                + "public class UseCase {\n"
                + "    public static IdleReaper build() {\n"
                + "        return IdleReaper.builder()\n"
                + "                " + String.join("\n                ", u.calls) + "\n"
                + "                .build();\n"
                + "    }\n\n"
                + "    public static Map<String, Object[]> values() {\n"
                + "        Map<String, Object[]> m = new LinkedHashMap<>();\n"
                + values
                + "        return m;\n"
                + "    }\n"
                + "}\n";
        Class<?> type = Snippets.compile(dir, "UseCase", source).loadClass("UseCase");
        IdleReaper reaper = (IdleReaper) type.getMethod("build").invoke(null);
        return new Built(reaper, (Map<String, Object[]>) type.getMethod("values").invoke(null));
    }

    /** Every use case, compiled and built once for all tests (javac takes about a second for each). */
    private static List<UseCase> cases;
    private static final List<Object> BUILT = new ArrayList<>();

    @BeforeAll
    static void buildAll(@TempDir Path dir) throws Exception {
        cases = useCases();
        for (int i = 0; i < cases.size(); i++) {
            try {
                BUILT.add(build(cases.get(i), Files.createDirectories(dir.resolve("case" + i))));
            } catch (Exception | AssertionError e) {
                BUILT.add(e instanceof InvocationTargetException ? e.getCause() : e);
            }
        }
    }

    /** The built reaper of use case {@code i}; fails with what went wrong if it did not build. */
    private static Built built(int i) {
        Object b = BUILT.get(i);
        if (b instanceof Throwable) {
            throw new AssertionError(cases.get(i).heading + " does not build: " + b, (Throwable) b);
        }
        return (Built) b;
    }

    private static String seconds(Duration d) {
        return d.toSeconds() + " s";
    }

    @Test
    void thePage_hasTheFiveUseCases_withTheirOptions() throws IOException {
        List<UseCase> cases = useCases();
        List<String> headings = new ArrayList<>();
        Map<String, List<String>> options = new LinkedHashMap<>();
        for (UseCase u : cases) {
            headings.add(u.heading);
            options.put(u.heading, List.copyOf(u.why.keySet()));
        }
        assertEquals(List.of("A chat or WebSocket server behind AWS NLB", "An MQTT broker", "An HTTP API behind nginx",
                "An HTTP/2 RPC service", "A game server on raw TCP"), headings);
        assertEquals(List.of("heartbeat", "readIdleTimeout", "writeStallTimeout", "tcpKeepAlive",
                "requestHeaderTimeout", "maxConnectionAge"), options.get(headings.get(0)));
        assertEquals(List.of("heartbeat", "readIdleTimeout", "writeStallTimeout"), options.get(headings.get(1)));
        assertEquals(List.of("keepAliveTimeout", "requestHeaderTimeout", "requestBodyTimeout", "writeStallTimeout"),
                options.get(headings.get(2)));
        assertEquals(List.of("keepAliveTimeout", "heartbeat", "permitPeerPings", "writeStallTimeout",
                "maxConnectionAge", "maxConnectionAgeGrace"), options.get(headings.get(3)));
        assertEquals(List.of("heartbeat", "readIdleTimeout", "writeStallTimeout", "tcpUserTimeout"),
                options.get(headings.get(4)));
    }

    /**
     * Every table builds. Where a row's reasoning states a sum, it is the sum of the values: the heartbeat's bound
     * (interval + timeout × maxMissed), keepalive's (idle + interval × count), and the read idle timeout covers
     * the heartbeat's bound.
     */
    @Test
    void everyUseCase_builds_andItsSumsAreItsValues() {
        assertEquals(5, cases.size());
        for (int i = 0; i < cases.size(); i++) {
            UseCase u = cases.get(i);
            Built b = built(i);
            Heartbeat hb = b.reaper.heartbeat();
            if (hb.pings()) {
                Duration bound = hb.interval().plus(hb.timeout().multipliedBy(hb.maxMissed()));
                String sum = hb.interval().toSeconds() + " + " + hb.timeout().toSeconds() + " × " + hb.maxMissed()
                        + " = " + seconds(bound);
                assertTrue(u.why("heartbeat").contains(sum), u.heading + ": the heartbeat's row should say " + sum
                        + ": " + u.why("heartbeat"));
                Duration readIdle = b.reaper.timeouts().readIdle();
                if (!readIdle.isZero()) {
                    assertTrue(readIdle.compareTo(bound) >= 0, u.heading);
                    assertTrue(u.why("readIdleTimeout").contains("heartbeat's " + seconds(bound)),
                            u.heading + ": " + u.why("readIdleTimeout"));
                }
            }
            if (b.args.containsKey("tcpKeepAlive")) {
                Object[] k = b.args.get("tcpKeepAlive");
                Duration idle = (Duration) k[0];
                Duration interval = (Duration) k[1];
                int count = (Integer) k[2];
                String sum = idle.toSeconds() + " + " + interval.toSeconds() + " × " + count + " = "
                        + seconds(idle.plus(interval.multipliedBy(count)));
                assertTrue(u.why("tcpKeepAlive").contains(sum), u.heading + ": the keepalive row should say " + sum
                        + ": " + u.why("tcpKeepAlive"));
            }
        }
    }

    /** Behind an NLB, something crosses the flow well before 350 s, and the doctor agrees. */
    @Test
    void chatBehindNlb_sendsWithinTheNlbsIdleTimeout() throws Exception {
        UseCase u = cases.get(0);
        Built b = built(0);
        Duration nlb = IdleLimit.AWS_NLB.timeout();
        assertEquals(Duration.ofSeconds(350), nlb);
        assertTrue(b.reaper.heartbeat().interval().compareTo(nlb) < 0);
        assertTrue(b.duration("tcpKeepAlive", 0).compareTo(nlb) < 0);
        assertTrue(u.why("heartbeat").contains("350 s") && u.why("tcpKeepAlive").contains("below 350 s"), u.heading);
        for (String warning : b.reaper.doctor(IdleLimit.AWS_NLB).warnings()) {
            assertFalse(warning.contains("AWS NLB") || warning.startsWith("nothing finds"), warning);
        }
        // The age's reach: age × (1 + the default jitter of 10 %).
        assertEquals(Duration.ofMinutes(132), b.duration("maxConnectionAge", 0).multipliedBy(11).dividedBy(10));
        assertTrue(u.why("maxConnectionAge").contains("within 2.2 h"), u.why("maxConnectionAge"));
    }

    /** MQTT: the companion's 1.5 × keep-alive, as the row says. */
    @Test
    void mqttBroker_reapsAtOneAndAHalfKeepAlives() throws Exception {
        UseCase u = cases.get(1);
        Built b = built(1);
        assertEquals(MqttHeartbeat.INSTANCE, b.reaper.heartbeat().protocol());
        assertFalse(b.reaper.heartbeat().pings());
        assertEquals(Duration.ofSeconds(90), MqttHeartbeat.readIdleFor(60));
        assertTrue(u.why("heartbeat").contains("1.5 × 60 = 90 s"), u.why("heartbeat"));
        assertTrue(u.why("readIdleTimeout").contains(seconds(b.reaper.timeouts().readIdle())),
                u.why("readIdleTimeout"));
    }

    /** nginx closes its idle upstream connections at 60 s, so this side's keep-alive must be longer. */
    @Test
    void httpApiBehindNginx_keepsAliveLongerThanNginx() throws Exception {
        UseCase u = cases.get(2);
        Built b = built(2);
        Duration nginxUpstreamKeepalive = Duration.ofSeconds(60);
        Duration keepAlive = b.duration("keepAliveTimeout", 0);
        assertTrue(keepAlive.compareTo(nginxUpstreamKeepalive) > 0, keepAlive.toString());
        assertTrue(u.why("keepAliveTimeout").contains("longer than nginx's " + seconds(nginxUpstreamKeepalive)),
                u.why("keepAliveTimeout"));
        // The page says the doctor does not know the HTTP layer's timers yet: when it learns them, update the page.
        assertTrue(b.reaper.doctor().warnings().contains("nothing finds a peer that vanished from an idle "
                + "connection: set tcpKeepAlive, readIdleTimeout or a heartbeat"), b.reaper.doctor().toString());
        assertTrue(Files.readString(PAGE, StandardCharsets.UTF_8).contains("(The doctor does not know the HTTP "
                + "layer's timers yet"));
    }

    /** HTTP/2: the age's range at ±10 %, and the grace. */
    @Test
    void http2Rpc_agesWithinItsStatedRange() throws Exception {
        UseCase u = cases.get(3);
        Built b = built(3);
        Duration age = b.duration("maxConnectionAge", 0);
        String range = age.multipliedBy(9).dividedBy(10).toMinutes() + " to "
                + age.multipliedBy(11).dividedBy(10).toMinutes() + " min";
        assertTrue(u.why("maxConnectionAge").contains(range), range + ": " + u.why("maxConnectionAge"));
        assertTrue(b.duration("permitPeerPings", 0).compareTo(b.reaper.heartbeat().interval()) < 0);
    }

    /** The game's write stall covers its send buffer's drain at its update rate, and the user timeout the stall. */
    @Test
    void gameServer_stallCoversTheSendBuffer() throws Exception {
        UseCase u = cases.get(4);
        Built b = built(4);
        Duration stall = b.reaper.timeouts().writeStall();
        int sndbufKib = 16;
        int rateKibPerSecond = 4;
        assertTrue(Duration.ofSeconds(sndbufKib / rateKibPerSecond).compareTo(stall) < 0);
        assertTrue(u.why("writeStallTimeout").contains(sndbufKib + " KiB ÷ " + rateKibPerSecond + " KiB/s = "
                + sndbufKib / rateKibPerSecond + " s, under " + seconds(stall)), u.why("writeStallTimeout"));
        assertTrue(u.why("writeStallTimeout").contains("none of " + 20 * stall.toSeconds() + " updates"),
                u.why("writeStallTimeout"));
        assertTrue(b.duration("tcpUserTimeout", 0).compareTo(stall) >= 0);
    }
}
