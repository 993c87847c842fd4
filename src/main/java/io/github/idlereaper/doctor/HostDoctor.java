package io.github.idlereaper.doctor;

import io.github.idlereaper.DetectionSettings;
import io.github.idlereaper.IdleTimeouts;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Computes the {@link DoctorReport}: reads the host's TCP sysctls and open-file limit, works out the worst-case time
 * each layer of the reaper's configuration takes to find a peer that vanished, and checks those against the idle
 * limits on the path.
 *
 * <p>Only JDK types and the JDK-only {@link DetectionSettings}, so that the command line runs without Netty or
 * SLF4J. Files are read through a function, so tests feed it fake {@code /proc} values. Stateless.
 */
final class HostDoctor {

    static final String KEEPALIVE_TIME = "net.ipv4.tcp_keepalive_time";
    static final String KEEPALIVE_INTVL = "net.ipv4.tcp_keepalive_intvl";
    static final String KEEPALIVE_PROBES = "net.ipv4.tcp_keepalive_probes";
    static final String RETRIES2 = "net.ipv4.tcp_retries2";
    /** Linux 6.15 and later; 120 s before. */
    static final String RTO_MAX = "net.ipv4.tcp_rto_max_ms";
    static final String CONNTRACK = "net.netfilter.nf_conntrack_tcp_timeout_established";
    static final String NOFILE_SOFT = "open files soft limit";
    static final String NOFILE_HARD = "open files hard limit";
    static final String LIMITS_FILE = "/proc/self/limits";

    static final String READ_IDLE = "readIdleTimeout";
    static final String ALL_IDLE = "allIdleTimeout";
    static final String WRITE_STALL = "writeStallTimeout";
    static final String HEARTBEAT = "heartbeat";
    static final String KEEPALIVE = "tcp keepalive";
    static final String RETRANSMISSION = "tcp retransmission";

    /** Below this many descriptors a busy server runs out (EMFILE) long before it runs out of anything else. */
    static final long LOW_NOFILE = 65536;
    static final long DEFAULT_RTO_MAX_MS = 120_000;

    private static final Pattern NOFILE = Pattern.compile("(?m)^Max open files\\s+(\\S+)\\s+(\\S+)");

    private HostDoctor() {
    }

    /**
     * Reads a file as a trimmed string, or null when it is absent or unreadable. In large reads: a /proc/sys
     * integer file answers only a read from offset 0, so reading it a byte at a time (as {@code Files.readString}
     * does for files that report size 0) returns just its first digit.
     */
    static String readFile(String path) {
        try (InputStream in = Files.newInputStream(Path.of(path))) {
            return new String(in.readNBytes(1 << 16), StandardCharsets.US_ASCII).trim();
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    static String sysctlPath(String name) {
        return "/proc/sys/" + name.replace('.', '/');
    }

    /** What the report says in place of the reaper's configuration when it checks the host only. */
    static final String HOST_ONLY = String.join("\n",
            "  no reaper options given: this checks the host only",
            "  to check a configuration too, pass its options, for example",
            "    doctor --read-idle 90s --write-stall 30s --heartbeat 30s,10s,2 --keepalive 60s,10s,3 --limit aws-nlb",
            "  (doctor --help lists them)",
            "");

    /**
     * @param settings the reaper's configuration
     * @param limits the idle limits on the path, by label, besides the host's conntrack timeout
     * @param files reads a file, returning null when absent
     */
    static DoctorReport examine(DetectionSettings settings, Map<String, Duration> limits,
            Function<String, String> files) {
        return examine(settings, limits, files, false);
    }

    /**
     * The host alone, for the command line run with no reaper options: the host's values, its own retransmission
     * bound, the limits given and the host's own warnings (the open-file limit). There is no configuration, so none
     * of the warnings that judge one; the report says how to give one instead.
     *
     * @param limits the idle limits on the path, by label, besides the host's conntrack timeout
     * @param files reads a file, returning null when absent
     */
    static DoctorReport examineHost(Map<String, Duration> limits, Function<String, String> files) {
        return examine(DetectionSettings.builder().build(), limits, files, true);
    }

    private static DoctorReport examine(DetectionSettings settings, Map<String, Duration> limits,
            Function<String, String> files, boolean hostOnly) {
        IdleTimeouts timeouts = settings.timeouts();
        Duration tick = settings.tickResolution();
        boolean keepAlive = settings.tcpKeepAliveCount() > 0;
        boolean userTimeout = !settings.tcpUserTimeout().isZero();
        LinkedHashMap<String, String> host = new LinkedHashMap<>();
        for (String name : new String[] {KEEPALIVE_TIME, KEEPALIVE_INTVL, KEEPALIVE_PROBES, RETRIES2, RTO_MAX,
                CONNTRACK}) {
            String v = files.apply(sysctlPath(name));
            if (v != null) {
                host.put(name, v);
            }
        }
        String limitsFile = files.apply(LIMITS_FILE);
        if (limitsFile != null) {
            Matcher m = NOFILE.matcher(limitsFile);
            if (m.find()) {
                host.put(NOFILE_SOFT, m.group(1));
                host.put(NOFILE_HARD, m.group(2));
            }
        }

        // The layers, each with the worst case from a peer vanishing to the connection being found dead.
        LinkedHashMap<String, Duration> detection = new LinkedHashMap<>();
        LinkedHashMap<String, String> covers = new LinkedHashMap<>();
        // The layers that act on a connection where nothing is sent, and after how much silence.
        String firstActing = null;
        Duration firstActs = null;
        if (!timeouts.readIdle().isZero()) {
            detection.put(READ_IDLE, timeouts.readIdle().plus(tick));
            covers.put(READ_IDLE, "the peer sends nothing");
            firstActing = READ_IDLE;
            firstActs = detection.get(READ_IDLE);
        }
        if (!timeouts.allIdle().isZero()) {
            detection.put(ALL_IDLE, timeouts.allIdle().plus(tick));
            covers.put(ALL_IDLE, "neither side sends");
            if (firstActs == null || detection.get(ALL_IDLE).compareTo(firstActs) < 0) {
                firstActing = ALL_IDLE;
                firstActs = detection.get(ALL_IDLE);
            }
        }
        if (!timeouts.writeStall().isZero()) {
            detection.put(WRITE_STALL, timeouts.writeStall().plus(tick));
            covers.put(WRITE_STALL, "bytes wait to be sent: the peer stopped reading, or vanished with the send "
                    + "buffer full");
        }
        if (!settings.heartbeatInterval().isZero()) {
            // The first ping after the interval, then one ping per timeout until maxMissed are unanswered.
            detection.put(HEARTBEAT, settings.heartbeatInterval()
                    .plus(settings.heartbeatTimeout().multipliedBy(settings.heartbeatMaxMissed())).plus(tick));
            covers.put(HEARTBEAT, "the peer sends nothing: pinged, it does not answer");
            if (firstActs == null || settings.heartbeatInterval().compareTo(firstActs) < 0) {
                firstActing = HEARTBEAT;
                firstActs = settings.heartbeatInterval();
            }
        }
        if (keepAlive) {
            detection.put(KEEPALIVE, settings.tcpKeepAliveBound());
            covers.put(KEEPALIVE, "the connection is idle, nothing unacknowledged");
            Duration idle = settings.tcpKeepAliveIdle();
            if (firstActs == null || idle.compareTo(firstActs) < 0) {
                firstActing = KEEPALIVE;
                firstActs = idle;
            }
        }
        long retries2 = number(host.get(RETRIES2));
        if (userTimeout) {
            detection.put(RETRANSMISSION, settings.tcpUserTimeout());
            covers.put(RETRANSMISSION, "data unacknowledged (tcpUserTimeout)");
        } else if (retries2 >= 0) {
            long rtoMax = number(host.get(RTO_MAX));
            detection.put(RETRANSMISSION, Duration.ofMillis(retransmissionBoundMillis(
                    (int) Math.min(retries2, 255), rtoMax > 0 ? rtoMax : DEFAULT_RTO_MAX_MS)));
            covers.put(RETRANSMISSION, "data unacknowledged (tcp_retries2 " + retries2 + "; no tcpUserTimeout)");
        }

        LinkedHashMap<String, Duration> allLimits = new LinkedHashMap<>();
        long conntrack = number(host.get(CONNTRACK));
        if (conntrack > 0) {
            allLimits.put("conntrack", Duration.ofSeconds(conntrack));
        }
        allLimits.putAll(limits);

        List<String> warnings = new ArrayList<>();
        // The warnings that judge a configuration. With none given (the command line without reaper options)
        // there is none to judge: "nothing finds a peer" would read as if the setup were broken.
        if (!hostOnly) {
            for (Map.Entry<String, Duration> e : allLimits.entrySet()) {
                String limit = e.getKey() + " drops connections idle for " + seconds(e.getValue());
                if (firstActs == null) {
                    warnings.add(limit + ", and nothing here acts on a silent connection: set tcpKeepAlive with an "
                            + "idle below " + seconds(e.getValue()));
                } else if (firstActs.compareTo(e.getValue()) >= 0) {
                    warnings.add(limit + ", before " + firstActing + " acts (" + seconds(firstActs) + "): set "
                            + "tcpKeepAlive with an idle below " + seconds(e.getValue()));
                }
            }
            if (firstActs == null) {
                warnings.add("nothing finds a peer that vanished from an idle connection: set tcpKeepAlive, "
                        + "readIdleTimeout or a heartbeat");
            }
            Duration retransmission = detection.get(RETRANSMISSION);
            if (!userTimeout && retransmission != null) {
                Duration idleBound = null;
                for (String layer : new String[] {READ_IDLE, ALL_IDLE, HEARTBEAT}) {
                    Duration d = detection.get(layer);
                    if (d != null && (idleBound == null || d.compareTo(idleBound) < 0)) {
                        idleBound = d;
                    }
                }
                if (idleBound == null || idleBound.compareTo(retransmission) > 0) {
                    warnings.add("data sent to a vanished peer is retransmitted for " + seconds(retransmission)
                            + " (tcp_retries2 " + retries2 + ") before the kernel gives up, and no idle timeout or "
                            + "heartbeat is shorter: set tcpUserTimeout");
                }
            }
        }
        long soft = number(host.get(NOFILE_SOFT));
        if (soft >= 0 && soft < LOW_NOFILE) {
            warnings.add("open files soft limit is " + soft + ": accept() fails with EMFILE near " + soft
                    + " connections; raise it (ulimit -n, systemd LimitNOFILE) toward the hard limit "
                    + host.get(NOFILE_HARD));
        }

        StringBuilder text = new StringBuilder("idle-reaper doctor\n");
        text.append("host\n");
        if (host.isEmpty()) {
            text.append("  nothing readable (not Linux?)\n");
        }
        host.forEach((k, v) -> row(text, k, v));
        text.append("reaper\n");
        if (hostOnly) {
            text.append(HOST_ONLY);
        } else {
            row(text, "idle timeouts", "read " + off(timeouts.readIdle()) + ", write " + off(timeouts.writeIdle())
                    + ", all " + off(timeouts.allIdle()) + ", write stall " + off(timeouts.writeStall())
                    + ", tick " + seconds(tick));
            row(text, "heartbeat", settings.heartbeatInterval().isZero() ? "off" : "ping after "
                    + seconds(settings.heartbeatInterval()) + " quiet, " + seconds(settings.heartbeatTimeout())
                    + " to answer, " + settings.heartbeatMaxMissed() + " missed");
            row(text, "tcpKeepAlive", keepAlive ? seconds(settings.tcpKeepAliveIdle()) + " idle, "
                    + seconds(settings.tcpKeepAliveInterval()) + " interval, " + settings.tcpKeepAliveCount()
                    + " probes" : "not set (SO_KEEPALIVE left as the application set it)");
            row(text, "tcpUserTimeout", userTimeout ? seconds(settings.tcpUserTimeout()) : "not set");
        }
        text.append("worst-case time to find a peer that vanished\n");
        if (detection.isEmpty()) {
            text.append("  no layer finds it\n");
        }
        detection.forEach((k, v) -> row(text, k, String.format("%-9s %s", seconds(v), covers.get(k))));
        text.append("idle limits on the path\n");
        if (allLimits.isEmpty()) {
            text.append("  none given (pick one: --limit aws-nlb, azure-lb, gcp, or name=duration)\n");
        }
        allLimits.forEach((k, v) -> row(text, k, seconds(v)));
        text.append("warnings\n");
        if (warnings.isEmpty()) {
            text.append("  none\n");
        }
        for (String w : warnings) {
            text.append("  - ").append(w).append('\n');
        }
        return new DoctorReport(host, detection, warnings, text.toString());
    }

    /**
     * How long Linux retransmits unacknowledged data before it gives up when no TCP_USER_TIMEOUT is set: its model
     * of {@code tcp_retries2} exponential backoffs from the minimum RTO of 200 ms, capped at {@code rtoMaxMs}
     * (net/ipv4/tcp_timer.c, tcp_model_timeout). 924.6 s for the default of 15 retries.
     */
    static long retransmissionBoundMillis(int retries2, long rtoMaxMs) {
        long rtoBase = 200;
        int threshold = 63 - Long.numberOfLeadingZeros(Math.max(1, rtoMaxMs / rtoBase));
        if (retries2 <= threshold) {
            return ((2L << retries2) - 1) * rtoBase;
        }
        return ((2L << threshold) - 1) * rtoBase + (retries2 - threshold) * rtoMaxMs;
    }

    private static void row(StringBuilder text, String name, String value) {
        text.append(String.format("  %-52s %s", name, value)).append('\n');
    }

    private static String off(Duration d) {
        return d.isZero() ? "off" : seconds(d);
    }

    /** Seconds with up to three decimals: {@code 350s}, {@code 924.6s}, {@code 0.01s}. */
    static String seconds(Duration d) {
        long ms = d.toMillis();
        if (ms % 1000 == 0) {
            return ms / 1000 + "s";
        }
        String frac = String.format("%03d", ms % 1000).replaceAll("0+$", "");
        return ms / 1000 + "." + frac + "s";
    }

    /** A non-negative number, or -1 when absent or not a number ("unlimited" included). */
    private static long number(String s) {
        if (s == null) {
            return -1;
        }
        try {
            long v = Long.parseLong(s.trim());
            return v < 0 ? -1 : v;
        } catch (NumberFormatException e) {
            return -1;
        }
    }
}
