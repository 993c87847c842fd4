package io.github.idlereaper.doctor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.idlereaper.DetectionSettings;
import io.github.idlereaper.IdleReaper;
import io.github.idlereaper.IdleTimeouts;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** The command line: option parsing with the builder's messages, and that it runs with only the JDK. */
class DoctorMainTest {

    private static final Map<String, String> HOST = Map.of(
            "/proc/sys/net/ipv4/tcp_keepalive_time", "7200",
            "/proc/sys/net/ipv4/tcp_retries2", "15");

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int run(String... args) {
        return Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), HOST::get);
    }

    private String out() {
        return out.toString(StandardCharsets.UTF_8);
    }

    private String err() {
        return err.toString(StandardCharsets.UTF_8);
    }

    @Test
    void doctor_withOptions_printsTheReportForThatConfiguration() {
        assertEquals(0, run("doctor", "--read-idle", "2m", "--tick", "500ms", "--keepalive", "60s,10s,6",
                "--user-timeout", "PT30S", "--limit", "aws-nlb", "--limit", "haproxy=50s"));
        Map<String, Duration> limits = new LinkedHashMap<>();
        limits.put("AWS NLB", Duration.ofSeconds(350));
        limits.put("haproxy", Duration.ofSeconds(50));
        DoctorReport expected = HostDoctor.examine(DetectionSettings.builder()
                .timeouts(IdleTimeouts.builder().readIdle(Duration.ofMinutes(2)).build())
                .tickResolution(Duration.ofMillis(500))
                .tcpKeepAlive(Duration.ofSeconds(60), Duration.ofSeconds(10), 6)
                .tcpUserTimeout(Duration.ofSeconds(30)).build(), limits, HOST::get);
        assertEquals(expected.toString(), out());
        assertEquals(List.of("haproxy drops connections idle for 50s, before tcp keepalive acts (60s): set "
                + "tcpKeepAlive with an idle below 50s"), expected.warnings());
        assertEquals("", err());
    }

    private static String row(String name, String value) {
        return String.format("  %-52s %s%n", name, value).replace(System.lineSeparator(), "\n");
    }

    /**
     * The README's command, {@code doctor} with no options, checks the host only: it does not judge a reaper with
     * every layer off ("nothing finds a peer that vanished" read as if the setup were broken), and says how to give
     * a configuration.
     */
    @Test
    void doctor_withoutReaperOptions_checksTheHostOnly() {
        assertEquals(0, run("doctor"));
        assertEquals("idle-reaper doctor\n"
                + "host\n"
                + row("net.ipv4.tcp_keepalive_time", "7200")
                + row("net.ipv4.tcp_retries2", "15")
                + "reaper\n"
                + "  no reaper options given: this checks the host only\n"
                + "  to check a configuration too, pass its options, for example\n"
                + "    doctor --read-idle 90s --write-stall 30s --heartbeat 30s,10s,2 --keepalive 60s,10s,3 "
                + "--limit aws-nlb\n"
                + "  (doctor --help lists them)\n"
                + "worst-case time to find a peer that vanished\n"
                + row("tcp retransmission", "924.6s    data unacknowledged (tcp_retries2 15; no tcpUserTimeout)")
                + "idle limits on the path\n"
                + "  none given (pick one: --limit aws-nlb, azure-lb, gcp, or name=duration)\n"
                + "warnings\n"
                + "  none\n", out());
        assertEquals("", err());
        // A limit alone is no configuration either: it is listed, and nothing is judged against it.
        out.reset();
        assertEquals(0, run("doctor", "--limit", "aws-nlb"));
        assertTrue(out().contains("reaper\n" + HostDoctor.HOST_ONLY + "worst-case"), out());
        assertTrue(out().endsWith("idle limits on the path\n" + row("AWS NLB", "350s") + "warnings\n  none\n"),
                out());
    }

    /** The example the host-only report gives runs, and finds nothing to warn about on a stock host. */
    @Test
    void doctor_hostOnlyExample_runsCleanly() {
        String example = HostDoctor.HOST_ONLY.lines().filter(l -> l.startsWith("    doctor ")).findFirst()
                .orElseThrow().trim();
        assertEquals(0, run(example.split(" ")));
        assertTrue(out().contains(row("idle timeouts", "read 90s, write off, all off, write stall 30s, tick 1s")),
                out());
        assertTrue(out().endsWith("warnings\n  none\n"), out());
    }

    /** Any reaper option is a configuration, judged as given: one with every layer off keeps its warning. */
    @Test
    void doctor_anyReaperOption_isJudged_evenWithEveryLayerOff() {
        assertEquals(0, run("doctor", "--tick", "1s", "--limit", "aws-nlb"));
        assertFalse(out().contains("no reaper options given"), out());
        assertTrue(out().contains("  - AWS NLB drops connections idle for 350s, and nothing here acts on a silent "
                + "connection: set tcpKeepAlive with an idle below 350s\n"
                + "  - nothing finds a peer that vanished from an idle connection: set tcpKeepAlive, readIdleTimeout "
                + "or a heartbeat\n"), out());
    }

    @Test
    void doctor_userTimeoutZero_meansNotSet() {
        assertEquals(0, run("doctor", "--user-timeout", "0ms"));
        assertTrue(out().contains(String.format("  %-52s %s%n", "tcpUserTimeout", "not set")), out());
        assertEquals("", err());
    }

    @Test
    void doctor_withoutTick_usesTheBuildersDefault() {
        assertEquals(0, run("doctor", "--read-idle", "5s"));
        assertTrue(out().contains("read 5s, write off, all off, write stall off, tick 0.5s"), out());
    }

    @Test
    void doctor_heartbeat_isALayerAndSetsTheDefaultTick() {
        assertEquals(0, run("doctor", "--read-idle", "5m", "--heartbeat", "30s,2s,3"));
        DetectionSettings setup = DetectionSettings.builder()
                .timeouts(IdleTimeouts.builder().readIdle(Duration.ofMinutes(5)).build())
                .tickResolution(Duration.ofMillis(200)).heartbeat(Duration.ofSeconds(30), Duration.ofSeconds(2), 3)
                .build();
        assertEquals(HostDoctor.examine(setup, Map.of(), HOST::get).toString(), out());
        IdleReaper same = IdleReaper.builder().readIdleTimeout(Duration.ofMinutes(5))
                .heartbeat(Duration.ofSeconds(30), Duration.ofSeconds(2), 3, ch -> null).build();
        assertEquals(Duration.ofMillis(200), same.tickResolution());
        err.reset();
        assertEquals(2, run("doctor", "--heartbeat", "10s,10s,3"));
        assertTrue(err().startsWith("heartbeat timeout (PT10S) must be less than heartbeat interval (PT10S)\n"),
                err());
        err.reset();
        assertEquals(2, run("doctor", "--heartbeat", "10s,1s,8"));
        assertTrue(err().startsWith("heartbeat maxMissed must be between 1 and 7: 8\n"), err());
    }

    @Test
    void doctor_badValue_failsWithTheBuildersMessage() {
        assertEquals(2, run("doctor", "--keepalive", "0s,1s,2"));
        assertTrue(err().startsWith("tcpKeepAlive idle must be between PT1S and PT9H6M7S: PT0S\nusage: "), err());
        assertEquals("", out());
    }

    @Test
    void doctor_badInput_saysWhatIsWrong() {
        assertEquals(2, run("doctor", "--user-timeout", "PT-1S"));
        assertTrue(err().startsWith("tcpUserTimeout must not be negative: PT-1S\n"), err());
        err.reset();
        assertEquals(2, run("doctor", "--keepalive", "60s,10s"));
        assertTrue(err().startsWith("--keepalive needs idle,interval,count: 60s,10s\n"), err());
        err.reset();
        assertEquals(2, run("doctor", "--read-idle", "soon"));
        assertTrue(err().startsWith("--read-idle must be a duration such as 30s, 500ms, 5m or PT30S: soon\n"),
                err());
        err.reset();
        assertEquals(2, run("doctor", "--limit", "aws"));
        assertTrue(err().startsWith("--limit must be aws-nlb, azure-lb, gcp or name=duration: aws\n"), err());
        err.reset();
        assertEquals(2, run("doctor", "--bogus", "1"));
        assertTrue(err().startsWith("unknown option: --bogus\n"), err());
        err.reset();
        assertEquals(2, run("doctor", "--tick"));
        assertTrue(err().startsWith("--tick needs a value\n"), err());
        err.reset();
        assertEquals(2, run("doctor", "--read-idle", "50ms", "--tick", "100ms"));
        assertTrue(err().startsWith("readIdleTimeout (PT0.05S) must not be shorter than tickResolution (PT0.1S)\n"),
                err());
    }

    @Test
    void noCommand_printsUsage() {
        assertEquals(2, run());
        assertEquals(Main.USAGE, err());
        err.reset();
        assertEquals(0, run("doctor", "--help"));
        assertEquals(Main.USAGE, out());
    }

    @Test
    void duration_acceptsShortFormsAndIso() {
        assertEquals(Duration.ofMillis(250), Main.duration("--x", "250ms"));
        assertEquals(Duration.ofSeconds(30), Main.duration("--x", "30s"));
        assertEquals(Duration.ofMinutes(4), Main.duration("--x", "4m"));
        assertEquals(Duration.ofHours(2), Main.duration("--x", "2h"));
        assertEquals(Duration.ofMillis(1500), Main.duration("--x", "PT1.5S"));
    }

    /** Runs the command line in a new JVM with {@code jvmArgs}; returns what it printed, after checking it ran. */
    private static String commandLine(List<String> jvmArgs) throws Exception {
        List<String> args = new ArrayList<>(List.of("-Xshare:auto", "-XX:TieredStopAtLevel=1"));
        args.addAll(jvmArgs);
        args.addAll(List.of("io.github.idlereaper.doctor.Main", "doctor", "--read-idle", "5m", "--all-idle",
                "10m", "--write-stall", "30s", "--keepalive", "30s,5s,3", "--user-timeout", "20s", "--heartbeat",
                "60s,5s,3", "--limit", "gcp", "--limit", "proxy=90s"));
        String output = io.github.idlereaper.ChildJvm.run(args);
        assertTrue(output.contains("idle-reaper doctor\n"), output);
        assertTrue(output.contains("30s idle, 5s interval, 3 probes"), output);
        assertTrue(output.contains(String.format("  %-52s %s", "GCP", "600s")), output);
        return output;
    }

    /**
     * Runs the command line in a JVM whose class path is only the library's classes: no Netty, no SLF4J. This is
     * what {@code java -jar idle-reaper.jar doctor} gets, since the jar's manifest has no Class-Path.
     */
    @Test
    void commandLine_runsWithOnlyTheJdk() throws Exception {
        Path classes = Path.of(Main.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        assertTrue(classes.endsWith("classes"), "expected target/classes, got " + classes);
        String output = commandLine(List.of("-cp", classes.toString()));
        assertTrue(output.startsWith("idle-reaper doctor\n"), output);
    }

    /**
     * With Netty and SLF4J on the class path too (the test class path), the command line still loads none of their
     * classes: the JVM logs every class it loads, and none is Netty's or SLF4J's.
     */
    @Test
    void commandLine_loadsNoNettyOrSlf4jClass() throws Exception {
        String output = commandLine(List.of("-Xlog:class+load=info", "-cp", System.getProperty("java.class.path")));
        List<String> loaded = output.lines().filter(l -> l.contains("[class,load]"))
                .map(l -> l.replaceAll(".*\\[class,load\\] (\\S+) .*", "$1")).collect(Collectors.toList());
        assertTrue(loaded.contains("io.github.idlereaper.doctor.Main"), output);
        List<String> ours = loaded.stream().filter(c -> c.startsWith("io.github.idlereaper."))
                .collect(Collectors.toList());
        List<String> foreign = loaded.stream().filter(c -> c.startsWith("io.netty.") || c.startsWith("org.slf4j."))
                .collect(Collectors.toList());
        assertEquals(List.of(), foreign, "loaded by the doctor: " + ours);
        // And from the core package, only the JDK-only types the doctor is documented to use.
        assertEquals(List.of(), ours.stream().filter(c -> !c.startsWith("io.github.idlereaper.doctor."))
                .filter(c -> !c.matches("io\\.github\\.idlereaper\\.(DetectionSettings|IdleTimeouts|KernelOptions"
                        + "|Checks)(\\$.*)?")).collect(Collectors.toList()), "loaded by the doctor: " + ours);
    }
}
