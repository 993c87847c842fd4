package io.github.idlereaper.doctor;

import io.github.idlereaper.DetectionSettings;
import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What the host's kernel and the reaper's configuration mean for finding dead peers: the host values that matter,
 * the worst-case time each layer takes to find a peer that vanished, and warnings where a layer is slower than an
 * idle limit on the path or the host is short of something. Made by
 * {@link io.github.idlereaper.IdleReaper#doctor(IdleLimit...)} for a built reaper, by
 * {@link #examine(DetectionSettings, IdleLimit...)} for settings, and by the command line,
 * {@code java -jar idle-reaper.jar doctor}; {@link #toString()} is the printed report.
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
     * Examines this host for {@code settings}: reads the host's TCP keepalive and retransmission sysctls, its
     * conntrack timeout and the process's open-file limit (Linux {@code /proc}; on other systems the host part is
     * empty), works out the worst-case time each layer of {@code settings} takes to find a peer that vanished, and
     * warns where a layer is slower than the conntrack timeout or one of {@code limits}. Reads a few small files;
     * thread-safe.
     *
     * @param settings the reaper's configuration
     * @param limits the load balancers on the path, whose idle timeouts to check against
     * @return the report
     * @throws NullPointerException if {@code settings}, {@code limits} or one of them is null
     */
    public static DoctorReport examine(DetectionSettings settings, IdleLimit... limits) {
        Objects.requireNonNull(settings, "settings");
        Objects.requireNonNull(limits, "limits");
        LinkedHashMap<String, Duration> byLabel = new LinkedHashMap<>();
        for (IdleLimit l : limits) {
            Objects.requireNonNull(l, "limits");
            byLabel.put(l.label(), l.timeout());
        }
        return HostDoctor.examine(settings, byLabel, HostDoctor::readFile);
    }

    /**
     * The host values read, in report order, as the kernel gave them: for example
     * {@code net.ipv4.tcp_keepalive_time -> "7200"}, and {@code open files soft limit -> "1024"}. A value the host
     * does not have (no conntrack module, not Linux) is absent.
     *
     * @return the host values read, in report order
     */
    public Map<String, String> host() {
        return host;
    }

    /**
     * The worst-case time from a peer vanishing to the connection being found dead, per layer that would find it,
     * in report order: {@code readIdleTimeout}, {@code allIdleTimeout}, {@code writeStallTimeout},
     * {@code heartbeat}, {@code tcp keepalive}, {@code tcp retransmission}. Each layer covers a different case; the
     * report text says which.
     *
     * @return each layer's worst case for a vanished peer, in report order
     */
    public Map<String, Duration> detection() {
        return detection;
    }

    /**
     * One line per problem found; empty when none.
     *
     * @return one line per problem found; empty when none
     */
    public List<String> warnings() {
        return warnings;
    }

    /** The whole report as printed by the command line. */
    @Override
    public String toString() {
        return text;
    }
}
