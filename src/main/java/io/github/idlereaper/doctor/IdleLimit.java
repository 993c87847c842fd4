package io.github.idlereaper.doctor;

import java.time.Duration;

/**
 * The idle timeout of a cloud load balancer or firewall on the path, for
 * {@link io.github.idlereaper.IdleReaper#doctor(IdleLimit...)} and {@link DoctorReport#examine} to check the reaper's
 * layers against. Such a middlebox forgets a TCP flow that carried no packet for this long;
 * later packets on it are dropped or answered with a reset, so the connection dies without a FIN. Something must
 * send a packet (TCP keepalive, a heartbeat) or close the connection before then. The values are the providers'
 * defaults; where yours differs, give the command-line doctor your own value ({@code --limit name=350s}).
 *
 * <p>Immutable and thread-safe.
 */
public enum IdleLimit {
    /** AWS Network Load Balancer: TCP flows idle for 350 s are dropped (the default idle timeout). */
    AWS_NLB("AWS NLB", Duration.ofSeconds(350)),
    /** Azure Load Balancer: flows idle for 4 minutes are dropped (the default idle timeout). */
    AZURE_LB("Azure LB", Duration.ofMinutes(4)),
    /** Google Cloud: VPC connection tracking forgets established TCP connections idle for 10 minutes. */
    GCP("GCP", Duration.ofMinutes(10));

    private final String label;
    private final Duration timeout;

    IdleLimit(String label, Duration timeout) {
        this.label = label;
        this.timeout = timeout;
    }

    /**
     * A short name for reports, for example {@code "AWS NLB"}.
     *
     * @return a short name for reports, for example {@code "AWS NLB"}
     */
    public String label() {
        return label;
    }

    /**
     * The idle timeout.
     *
     * @return the idle timeout
     */
    public Duration timeout() {
        return timeout;
    }
}
