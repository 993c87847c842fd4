package io.github.idlereaper;

import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What the host's kernel and the reaper's configuration mean for finding dead peers: the host values that matter,
 * the worst-case time each layer takes to find a peer that vanished, and warnings where a layer is slower than an
 * idle limit on the path or the host is short of something. Made by {@link IdleReaper#doctor(IdleLimit...)} and by
 * the command line, {@code java -jar idle-reaper.jar doctor}; {@link #toString()} is the printed report.
 *
 * <p>Instances are immutable and thread-safe.
 */
public final class DoctorReport {

    private final Map<String, String> host;
    private final Map<String, Duration> detection;
    private final List<String> warnings;
    private final String text;

    DoctorReport(LinkedHashMap<String, String> host, LinkedHashMap<String, Duration> detection, List<String> warnings,
            String text) {
        this.host = Collections.unmodifiableMap(new LinkedHashMap<>(host));
        this.detection = Collections.unmodifiableMap(new LinkedHashMap<>(detection));
        this.warnings = List.copyOf(warnings);
        this.text = text;
    }

    /**
     * The host values read, in report order, as the kernel gave them: for example
     * {@code net.ipv4.tcp_keepalive_time -> "7200"}, and {@code open files soft limit -> "1024"}. A value the host
     * does not have (no conntrack module, not Linux) is absent.
     */
    public Map<String, String> host() {
        return host;
    }

    /**
     * The worst-case time from a peer vanishing to the connection being found dead, per layer that would find it,
     * in report order: {@code readIdleTimeout}, {@code allIdleTimeout}, {@code writeStallTimeout},
     * {@code heartbeat}, {@code tcp keepalive}, {@code tcp retransmission}. Each layer covers a different case; the
     * report text says which.
     */
    public Map<String, Duration> detection() {
        return detection;
    }

    /** One line per problem found; empty when none. */
    public List<String> warnings() {
        return warnings;
    }

    /** The whole report as printed by the command line. */
    @Override
    public String toString() {
        return text;
    }
}
