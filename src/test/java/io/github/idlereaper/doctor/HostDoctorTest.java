package io.github.idlereaper.doctor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.idlereaper.DetectionSettings;
import io.github.idlereaper.IdleReaper;
import io.github.idlereaper.IdleTimeouts;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Layer 1: the doctor's computations on fake /proc values; no Netty, no host state. */
class HostDoctorTest {

    private static final String LIMITS = String.join("\n",
            "Limit                     Soft Limit           Hard Limit           Units     ",
            "Max processes             96365                96365                processes ",
            "Max open files            %s                 %s               files     ",
            "Max locked memory         8388608              8388608              bytes     ");

    /** A stock Linux host: keepalive 7200/75/9, tcp_retries2 15, conntrack loaded, the given open-file limits. */
    private static Map<String, String> stockHost(String softFiles, String hardFiles) {
        Map<String, String> f = new HashMap<>();
        f.put("/proc/sys/net/ipv4/tcp_keepalive_time", "7200");
        f.put("/proc/sys/net/ipv4/tcp_keepalive_intvl", "75");
        f.put("/proc/sys/net/ipv4/tcp_keepalive_probes", "9");
        f.put("/proc/sys/net/ipv4/tcp_retries2", "15");
        f.put("/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_established", "432000");
        f.put("/proc/self/limits", String.format(LIMITS, softFiles, hardFiles));
        return f;
    }

    private static DetectionSettings.Builder settings(IdleTimeouts t, Duration tick) {
        return DetectionSettings.builder().timeouts(t).tickResolution(tick);
    }

    private static DoctorReport examine(DetectionSettings.Builder settings, Map<String, Duration> limits,
            Map<String, String> files) {
        return HostDoctor.examine(settings.build(), limits, files::get);
    }

    private static String row(String name, String value) {
        return String.format("  %-52s %s%n", name, value).replace(System.lineSeparator(), "\n");
    }

    @Test
    void host_valuesAreReadFromProc() {
        DoctorReport r = examine(settings(IdleTimeouts.DISABLED, Duration.ofSeconds(1)), Map.of(),
                stockHost("1024", "524288"));
        Map<String, String> expected = new LinkedHashMap<>();
        expected.put("net.ipv4.tcp_keepalive_time", "7200");
        expected.put("net.ipv4.tcp_keepalive_intvl", "75");
        expected.put("net.ipv4.tcp_keepalive_probes", "9");
        expected.put("net.ipv4.tcp_retries2", "15");
        expected.put("net.netfilter.nf_conntrack_tcp_timeout_established", "432000");
        expected.put("open files soft limit", "1024");
        expected.put("open files hard limit", "524288");
        assertEquals(expected, r.host());
        assertEquals(List.copyOf(expected.keySet()), List.copyOf(r.host().keySet()));
    }

    /** A configuration with every layer off (from the API, or the command line with a reaper option) is judged. */
    @Test
    void nothingConfigured_onAStockHost_warnsAboutEveryGap() {
        DoctorReport r = examine(settings(IdleTimeouts.DISABLED, Duration.ofSeconds(1)), Map.of(),
                stockHost("1024", "524288"));
        assertEquals(Map.of("tcp retransmission", Duration.ofMillis(924_600)), r.detection());
        assertEquals(List.of(
                "conntrack drops connections idle for 432000s, and nothing here acts on a silent connection: set "
                        + "tcpKeepAlive with an idle below 432000s",
                "nothing finds a peer that vanished from an idle connection: set tcpKeepAlive, readIdleTimeout or a "
                        + "heartbeat",
                "data sent to a vanished peer is retransmitted for 924.6s (tcp_retries2 15) before the kernel gives "
                        + "up, and no idle timeout or heartbeat is shorter: set tcpUserTimeout",
                "open files soft limit is 1024: accept() fails with EMFILE near 1024 connections; raise it "
                        + "(ulimit -n, systemd LimitNOFILE) toward the hard limit 524288"), r.warnings());
    }

    /** The command line without reaper options: the host's values and warnings, none about a configuration. */
    @Test
    void hostOnly_onAStockHost_warnsAboutTheHostAlone() {
        DoctorReport r = HostDoctor.examineHost(Map.of("AWS NLB", Duration.ofSeconds(350)),
                stockHost("1024", "524288")::get);
        assertEquals(Map.of("tcp retransmission", Duration.ofMillis(924_600)), r.detection());
        assertEquals(List.of("open files soft limit is 1024: accept() fails with EMFILE near 1024 connections; raise "
                + "it (ulimit -n, systemd LimitNOFILE) toward the hard limit 524288"), r.warnings());
        assertEquals("idle-reaper doctor\n"
                + "host\n"
                + row("net.ipv4.tcp_keepalive_time", "7200")
                + row("net.ipv4.tcp_keepalive_intvl", "75")
                + row("net.ipv4.tcp_keepalive_probes", "9")
                + row("net.ipv4.tcp_retries2", "15")
                + row("net.netfilter.nf_conntrack_tcp_timeout_established", "432000")
                + row("open files soft limit", "1024")
                + row("open files hard limit", "524288")
                + "reaper\n"
                + "  no reaper options given: this checks the host only\n"
                + "  to check a configuration too, pass its options, for example\n"
                + "    doctor --read-idle 90s --write-stall 30s --heartbeat 30s,10s,2 --keepalive 60s,10s,3 "
                + "--limit aws-nlb\n"
                + "  (doctor --help lists them)\n"
                + "worst-case time to find a peer that vanished\n"
                + row("tcp retransmission", "924.6s    data unacknowledged (tcp_retries2 15; no tcpUserTimeout)")
                + "idle limits on the path\n"
                + row("conntrack", "432000s")
                + row("AWS NLB", "350s")
                + "warnings\n"
                + "  - open files soft limit is 1024: accept() fails with EMFILE near 1024 connections; raise it "
                + "(ulimit -n, systemd LimitNOFILE) toward the hard limit 524288\n", r.toString());
    }

    @Test
    void everyLayerSet_belowTheLimits_givesBoundsAndNoWarning() {
        IdleTimeouts t = IdleTimeouts.builder().readIdle(Duration.ofSeconds(60)).build();
        DetectionSettings.Builder k = settings(t, Duration.ofMillis(100))
                .tcpKeepAlive(Duration.ofSeconds(60), Duration.ofSeconds(10), 6)
                .tcpUserTimeout(Duration.ofSeconds(30));
        DoctorReport r = examine(k, Map.of("AWS NLB", Duration.ofSeconds(350)), stockHost("1048576", "1048576"));
        Map<String, Duration> expected = new LinkedHashMap<>();
        expected.put("readIdleTimeout", Duration.ofMillis(60_100));
        // The 30 s user timeout replaces the probe count: the first firing after a probe, at 70 s, gives up.
        expected.put("tcp keepalive", Duration.ofSeconds(70));
        expected.put("tcp retransmission", Duration.ofSeconds(30));
        assertEquals(expected, r.detection());
        assertEquals(List.copyOf(expected.keySet()), List.copyOf(r.detection().keySet()));
        assertEquals(List.of(), r.warnings());
        assertEquals("idle-reaper doctor\n"
                + "host\n"
                + row("net.ipv4.tcp_keepalive_time", "7200")
                + row("net.ipv4.tcp_keepalive_intvl", "75")
                + row("net.ipv4.tcp_keepalive_probes", "9")
                + row("net.ipv4.tcp_retries2", "15")
                + row("net.netfilter.nf_conntrack_tcp_timeout_established", "432000")
                + row("open files soft limit", "1048576")
                + row("open files hard limit", "1048576")
                + "reaper\n"
                + row("idle timeouts", "read 60s, write off, all off, write stall off, tick 0.1s")
                + row("heartbeat", "off")
                + row("tcpKeepAlive", "60s idle, 10s interval, 6 probes")
                + row("tcpUserTimeout", "30s")
                + "worst-case time to find a peer that vanished\n"
                + row("readIdleTimeout", "60.1s     the peer sends nothing")
                + row("tcp keepalive", "70s       the connection is idle, nothing unacknowledged")
                + row("tcp retransmission", "30s       data unacknowledged (tcpUserTimeout)")
                + "idle limits on the path\n"
                + row("conntrack", "432000s")
                + row("AWS NLB", "350s")
                + "warnings\n"
                + "  none\n", r.toString());
    }

    @Test
    void readIdleAboveLoadBalancerLimits_warnsForEachLimitItExceeds() {
        IdleTimeouts t = IdleTimeouts.builder().readIdle(Duration.ofMinutes(10)).build();
        Map<String, Duration> limits = new LinkedHashMap<>();
        limits.put(IdleLimit.AWS_NLB.label(), IdleLimit.AWS_NLB.timeout());
        limits.put(IdleLimit.AZURE_LB.label(), IdleLimit.AZURE_LB.timeout());
        limits.put(IdleLimit.GCP.label(), IdleLimit.GCP.timeout());
        limits.put("haproxy", Duration.ofMinutes(15));
        Map<String, String> host = stockHost("1048576", "1048576");
        host.remove("/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_established");
        DoctorReport r = examine(settings(t, Duration.ofSeconds(1)), limits, host);
        assertEquals(List.of(
                "AWS NLB drops connections idle for 350s, before readIdleTimeout acts (601s): set tcpKeepAlive with "
                        + "an idle below 350s",
                "Azure LB drops connections idle for 240s, before readIdleTimeout acts (601s): set tcpKeepAlive "
                        + "with an idle below 240s",
                "GCP drops connections idle for 600s, before readIdleTimeout acts (601s): set tcpKeepAlive with an "
                        + "idle below 600s"), r.warnings());
        // The read idle timeout (601 s) also finds a peer that vanished mid-write before tcp_retries2 (924.6 s).
        assertEquals(Duration.ofMillis(924_600), r.detection().get("tcp retransmission"));
    }

    @Test
    void keepAliveIdle_atALimit_warnsAndNamesKeepAlive() {
        DetectionSettings.Builder k = settings(IdleTimeouts.DISABLED, Duration.ofSeconds(1))
                .tcpKeepAlive(Duration.ofSeconds(350), Duration.ofSeconds(10), 3);
        DoctorReport r = examine(k, Map.of("AWS NLB", Duration.ofSeconds(350)), Map.of());
        assertEquals(List.of("AWS NLB drops connections idle for 350s, before tcp keepalive acts (350s): set "
                + "tcpKeepAlive with an idle below 350s"), r.warnings());
        assertEquals(Map.of("tcp keepalive", Duration.ofSeconds(380)), r.detection());
    }

    @Test
    void retransmission_followsTcpRetries2AndRtoMax() {
        Map<String, String> host = stockHost("1048576", "1048576");
        host.put("/proc/sys/net/ipv4/tcp_retries2", "8");
        host.put("/proc/sys/net/ipv4/tcp_rto_max_ms", "60000");
        IdleTimeouts t = IdleTimeouts.builder().allIdle(Duration.ofSeconds(30)).build();
        DoctorReport r = examine(settings(t, Duration.ofSeconds(1)), Map.of(), host);
        // ilog2(60000 / 200) = 8, so 8 retries are pure doubling: (2^9 - 1) x 200 ms.
        assertEquals(Duration.ofMillis(102_200), r.detection().get("tcp retransmission"));
        assertEquals(Duration.ofSeconds(31), r.detection().get("allIdleTimeout"));
        assertEquals("60000", r.host().get("net.ipv4.tcp_rto_max_ms"));
        assertEquals(List.of(), r.warnings());
    }

    @Test
    void writeStall_isReportedButDoesNotActOnSilence() {
        IdleTimeouts t = IdleTimeouts.builder().writeStall(Duration.ofSeconds(20)).build();
        DoctorReport r = examine(settings(t, Duration.ofSeconds(1)).tcpUserTimeout(Duration.ofSeconds(20)),
                Map.of(), Map.of());
        assertEquals(Duration.ofSeconds(21), r.detection().get("writeStallTimeout"));
        assertEquals(List.of("nothing finds a peer that vanished from an idle connection: set tcpKeepAlive, "
                + "readIdleTimeout or a heartbeat"), r.warnings());
    }

    @Test
    void notLinux_reportsNothingReadableAndNoHostWarnings() {
        DetectionSettings.Builder k = settings(IdleTimeouts.DISABLED, Duration.ofSeconds(1))
                .tcpKeepAlive(Duration.ofSeconds(30), Duration.ofSeconds(5), 3);
        DoctorReport r = examine(k, Map.of(), Map.of());
        assertEquals(Map.of(), r.host());
        assertEquals(List.of(), r.warnings());
        assertTrue(r.toString().contains("host\n  nothing readable (not Linux?)\n"), r.toString());
        assertTrue(r.toString().contains("  none given (pick one: --limit aws-nlb, azure-lb, gcp, or name=duration)\n"),
                r.toString());
    }

    @Test
    void unlimitedOpenFiles_isNotAWarning() {
        DoctorReport r = examine(settings(IdleTimeouts.builder().readIdle(Duration.ofSeconds(30)).build(),
                Duration.ofSeconds(1)).tcpUserTimeout(Duration.ofSeconds(10)), Map.of(),
                stockHost("unlimited", "unlimited"));
        assertEquals("unlimited", r.host().get("open files soft limit"));
        assertEquals(List.of(), r.warnings());
    }

    @Test
    void heartbeat_findsASilentPeerAndKeepsTheFlowAlive() {
        IdleTimeouts t = IdleTimeouts.builder().readIdle(Duration.ofMinutes(10)).build();
        DoctorReport r = examine(settings(t, Duration.ofSeconds(1)).heartbeat(Duration.ofSeconds(30),
                Duration.ofSeconds(10), 3), Map.of("AWS NLB", Duration.ofSeconds(350)),
                stockHost("1048576", "1048576"));
        // Pinged after 30 s of quiet, then three pings 10 s apart go unanswered, plus one tick.
        assertEquals(Duration.ofSeconds(61), r.detection().get("heartbeat"));
        // Its pings cross the balancer well within 350 s, and it finds a vanished writer before tcp_retries2.
        assertEquals(List.of(), r.warnings());
        assertTrue(r.toString().contains(row("heartbeat", "ping after 30s quiet, 10s to answer, 3 missed")),
                r.toString());
    }

    @Test
    void seconds_printsUpToMillis() {
        assertEquals("350s", HostDoctor.seconds(Duration.ofSeconds(350)));
        assertEquals("924.6s", HostDoctor.seconds(Duration.ofMillis(924_600)));
        assertEquals("0.01s", HostDoctor.seconds(Duration.ofMillis(10)));
        assertEquals("1.234s", HostDoctor.seconds(Duration.ofMillis(1_234)));
    }

    @Test
    void retransmissionBound_matchesTheKernelModel() {
        // The documented Linux figure: tcp_retries2 = 15 gives 924.6 s.
        assertEquals(924_600, HostDoctor.retransmissionBoundMillis(15, 120_000));
        // Below the linear-backoff threshold it is a pure doubling sum: 0.2 + 0.4 + ... + 1.6 s.
        assertEquals(3_000, HostDoctor.retransmissionBoundMillis(3, 120_000));
        assertEquals(204_600, HostDoctor.retransmissionBoundMillis(9, 120_000));
        assertEquals(324_600, HostDoctor.retransmissionBoundMillis(10, 120_000));
        // A smaller tcp_rto_max_ms (Linux 6.15+) lowers the cap: threshold ilog2(5) = 2.
        assertEquals(1_400 + 13 * 1_000, HostDoctor.retransmissionBoundMillis(15, 1_000));
    }

    @Test
    void idleLimits_haveTheProvidersDefaults() {
        assertEquals(Duration.ofSeconds(350), IdleLimit.AWS_NLB.timeout());
        assertEquals(Duration.ofMinutes(4), IdleLimit.AZURE_LB.timeout());
        assertEquals(Duration.ofMinutes(10), IdleLimit.GCP.timeout());
    }

    @Test
    void examine_nullLimits_isRejected() {
        DetectionSettings s = DetectionSettings.builder().build();
        NullPointerException e = assertThrows(NullPointerException.class,
                () -> DoctorReport.examine(s, IdleLimit.GCP, null));
        assertEquals("limits", e.getMessage());
        assertEquals("settings", assertThrows(NullPointerException.class,
                () -> DoctorReport.examine(null)).getMessage());
    }

    @Test
    void reaperDoctor_onThisHost_reportsItsConfiguration() {
        IdleReaper reaper = IdleReaper.builder().readIdleTimeout(Duration.ofSeconds(30))
                .tcpKeepAlive(Duration.ofSeconds(20), Duration.ofSeconds(5), 3).build();
        DoctorReport r = reaper.doctor(IdleLimit.AWS_NLB);
        assertEquals(Duration.ofSeconds(35), r.detection().get("tcp keepalive"));
        assertEquals(Duration.ofSeconds(30).plus(reaper.tickResolution()), r.detection().get("readIdleTimeout"));
        assertTrue(r.toString().contains(row("AWS NLB", "350s")), r.toString());
        if (System.getProperty("os.name").startsWith("Linux")) {
            assertEquals(HostDoctor.readFile("/proc/sys/net/ipv4/tcp_keepalive_time"),
                    r.host().get("net.ipv4.tcp_keepalive_time"));
        }
    }
}
