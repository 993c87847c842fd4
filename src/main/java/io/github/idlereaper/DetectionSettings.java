package io.github.idlereaper;

import java.time.Duration;
import java.util.Objects;

/**
 * The parts of a reaper's configuration that decide how soon it finds a peer that vanished: the idle timeouts, the
 * tick resolution, the heartbeat's timing, TCP keepalive and TCP_USER_TIMEOUT. This is what the doctor
 * ({@code io.github.idlereaper.doctor.DoctorReport}) examines, in JDK types only, so that the doctor's command line
 * runs without Netty on the class path.
 *
 * <p>{@link IdleReaper#doctor} takes one from a built reaper. The builder makes one from values, checked with the
 * rules and messages of {@link IdleReaper.Builder}: each value when it is set, and in {@link Builder#build()} the
 * timeouts and the heartbeat against the tick resolution. (Whether a heartbeat fits inside the idle timeout it
 * protects is checked by the reaper's builder only: the doctor reports on either.) As there, {@link Duration#ZERO}
 * means disabled or not set.
 * <pre>{@code
 * DetectionSettings s = DetectionSettings.builder()
 *         .timeouts(IdleTimeouts.builder().readIdle(Duration.ofMinutes(5)).build())
 *         .tcpKeepAlive(Duration.ofSeconds(60), Duration.ofSeconds(10), 6)
 *         .build();
 * DoctorReport report = DoctorReport.examine(s, IdleLimit.AWS_NLB);
 * }</pre>
 *
 * <p>Instances are immutable and thread-safe. The builder is not thread-safe.
 */
public final class DetectionSettings {

    private final IdleTimeouts timeouts;
    private final Duration tickResolution;
    private final Duration heartbeatInterval;
    private final Duration heartbeatTimeout;
    private final int heartbeatMaxMissed;
    private final KernelOptions kernel;

    private DetectionSettings(IdleTimeouts timeouts, Duration tickResolution, Duration heartbeatInterval,
            Duration heartbeatTimeout, int heartbeatMaxMissed, KernelOptions kernel) {
        this.timeouts = timeouts;
        this.tickResolution = tickResolution;
        this.heartbeatInterval = heartbeatInterval;
        this.heartbeatTimeout = heartbeatInterval.isZero() ? Duration.ZERO : heartbeatTimeout;
        this.heartbeatMaxMissed = heartbeatInterval.isZero() ? 0 : heartbeatMaxMissed;
        this.kernel = kernel;
    }

    /** A built reaper's settings, already checked by its builder. */
    static DetectionSettings of(IdleTimeouts timeouts, Duration tickResolution, Duration heartbeatInterval,
            Duration heartbeatTimeout, int heartbeatMaxMissed, KernelOptions kernel) {
        return new DetectionSettings(timeouts, tickResolution, heartbeatInterval, heartbeatTimeout,
                heartbeatMaxMissed, kernel);
    }

    /**
     * Returns a builder with every timer, the heartbeat and both TCP options off, and the default tick.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * The idle timeouts.
     *
     * @return the idle timeouts
     */
    public IdleTimeouts timeouts() {
        return timeouts;
    }

    /**
     * The tick resolution: a reap comes at most this late.
     *
     * @return the tick resolution
     */
    public Duration tickResolution() {
        return tickResolution;
    }

    /**
     * Quiet time before a heartbeat ping; zero when no pings are sent.
     *
     * @return the ping interval; zero when no pings are sent
     */
    public Duration heartbeatInterval() {
        return heartbeatInterval;
    }

    /**
     * How long each ping waits for an answer; zero when no pings are sent.
     *
     * @return how long each ping waits for an answer; zero when no pings are sent
     */
    public Duration heartbeatTimeout() {
        return heartbeatTimeout;
    }

    /**
     * Unanswered pings before the reap; zero when no pings are sent.
     *
     * @return unanswered pings before the reap; zero when no pings are sent
     */
    public int heartbeatMaxMissed() {
        return heartbeatMaxMissed;
    }

    /**
     * TCP_KEEPIDLE: silence before the first keepalive probe; zero when tcpKeepAlive is not set.
     *
     * @return TCP_KEEPIDLE: silence before the first keepalive probe; zero when tcpKeepAlive is not set
     */
    public Duration tcpKeepAliveIdle() {
        return Duration.ofSeconds(kernel.keepAliveIdleSeconds);
    }

    /**
     * TCP_KEEPINTVL: the time between two probes; zero when tcpKeepAlive is not set.
     *
     * @return TCP_KEEPINTVL: the time between two probes; zero when tcpKeepAlive is not set
     */
    public Duration tcpKeepAliveInterval() {
        return Duration.ofSeconds(kernel.keepAliveIntervalSeconds);
    }

    /**
     * TCP_KEEPCNT: unanswered probes before the kernel gives up; zero when tcpKeepAlive is not set.
     *
     * @return TCP_KEEPCNT: unanswered probes before the kernel gives up; zero when tcpKeepAlive is not set
     */
    public int tcpKeepAliveCount() {
        return kernel.keepAliveCount;
    }

    /**
     * TCP_USER_TIMEOUT; zero when not set (the host's net.ipv4.tcp_retries2 applies).
     *
     * @return TCP_USER_TIMEOUT; zero when not set (the host's net.ipv4.tcp_retries2 applies)
     */
    public Duration tcpUserTimeout() {
        return kernel.userTimeout();
    }

    /**
     * The longest Linux takes, with this keepalive and user timeout, to drop an idle connection whose peer vanished,
     * counted from the last segment received: idle + interval × count, or with a user timeout, the first probe
     * firing at which the silence reaches it (net/ipv4/tcp_timer.c). Zero when tcpKeepAlive is not set.
     *
     * @return the kernel's worst case for a vanished idle peer, from the last segment received
     */
    public Duration tcpKeepAliveBound() {
        if (!kernel.keepAliveSet()) {
            return Duration.ZERO;
        }
        return Duration.ofMillis(KernelOptions.keepAliveBoundMillis(kernel.keepAliveIdleSeconds * 1000L,
                kernel.keepAliveIntervalSeconds * 1000L, kernel.keepAliveCount, kernel.userTimeoutMillis));
    }

    /**
     * The tick resolution a reaper builder picks when none is set: the one rule,
     * {@link IdleTimeouts#defaultTickResolution(Duration)}.
     */
    static Duration defaultTick(IdleTimeouts t, Duration heartbeatTimeout) {
        return t.defaultTickResolution(heartbeatTimeout);
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof DetectionSettings)) {
            return false;
        }
        DetectionSettings d = (DetectionSettings) o;
        return timeouts.equals(d.timeouts) && tickResolution.equals(d.tickResolution)
                && heartbeatInterval.equals(d.heartbeatInterval) && heartbeatTimeout.equals(d.heartbeatTimeout)
                && heartbeatMaxMissed == d.heartbeatMaxMissed && kernel.toString().equals(d.kernel.toString());
    }

    @Override
    public int hashCode() {
        return Objects.hash(timeouts, tickResolution, heartbeatInterval, heartbeatTimeout, heartbeatMaxMissed,
                kernel.toString());
    }

    @Override
    public String toString() {
        return "DetectionSettings(" + timeouts + ", tickResolution=" + tickResolution + ", heartbeat="
                + (heartbeatInterval.isZero() ? "off" : "(interval=" + heartbeatInterval + ", timeout="
                        + heartbeatTimeout + ", maxMissed=" + heartbeatMaxMissed + ")")
                + ", tcpKeepAlive=" + (kernel.keepAliveSet() ? kernel.keepAliveText() : "unset") + ", tcpUserTimeout="
                + (kernel.hasUserTimeout() ? kernel.userTimeout() : "unset") + ")";
    }

    /**
     * Builds {@link DetectionSettings}. Each option may be set once; values are checked when set, with the messages
     * of {@link IdleReaper.Builder}. Not thread-safe.
     */
    public static final class Builder {
        static final Duration MIN_TICK = Duration.ofMillis(10);
        static final Duration MAX_TICK = Duration.ofSeconds(1);

        private IdleTimeouts timeouts;
        private Duration tickResolution;
        private Duration heartbeatInterval;
        private Duration heartbeatTimeout = Duration.ZERO;
        private int heartbeatMaxMissed;
        private KernelOptions kernel = KernelOptions.NONE;

        private Builder() {
        }

        /**
         * Sets the idle timeouts. Default {@link IdleTimeouts#DISABLED}.
         *
         * @param timeouts the idle timeouts
         * @return this builder
         * @throws NullPointerException if {@code timeouts} is null
         * @throws IllegalStateException if they were already set
         */
        public Builder timeouts(IdleTimeouts timeouts) {
            Objects.requireNonNull(timeouts, "timeouts");
            Checks.notSetTwice(this.timeouts != null, "timeouts", this.timeouts);
            this.timeouts = timeouts;
            return this;
        }

        /**
         * Sets the tick resolution. Default: the reaper builder's, a tenth of the smallest enabled timeout or
         * heartbeat timeout, between 10 ms and 1 s. Range: 10 ms to 1 s.
         *
         * @param resolution the tick resolution
         * @return this builder
         * @throws NullPointerException if {@code resolution} is null
         * @throws IllegalArgumentException if {@code resolution} is outside 10 ms to 1 s
         * @throws IllegalStateException if it was already set
         */
        public Builder tickResolution(Duration resolution) {
            Checks.notSetTwice(tickResolution != null, "tickResolution", tickResolution);
            tickResolution = Checks.range("tickResolution", resolution, MIN_TICK, MAX_TICK);
            return this;
        }

        /**
         * Sets the heartbeat's timing, as {@link IdleReaper.Builder#heartbeat} without the protocol. Default: no
         * heartbeat. An {@code interval} of zero sends no pings. Range: interval zero or up to 30 days; timeout
         * below the interval; maxMissed 1 to {@value Heartbeat#MAX_MISSED}.
         *
         * @param interval how long the peer may be silent before a ping
         * @param timeout the timeout (its default, range and disabled value are given above)
         * @param maxMissed how many pings in a row may go unanswered before the reaper reaps
         * @return this builder
         * @throws NullPointerException if {@code interval} or {@code timeout} is null
         * @throws IllegalArgumentException if a value is out of range, or the timeout is not less than the interval
         * @throws IllegalStateException if it was already set
         */
        public Builder heartbeat(Duration interval, Duration timeout, int maxMissed) {
            Checks.notSetTwice(heartbeatInterval != null, "heartbeat", "(interval=" + heartbeatInterval
                    + ", timeout=" + heartbeatTimeout + ", maxMissed=" + heartbeatMaxMissed + ")");
            Checks.heartbeatTiming(interval, timeout, maxMissed);
            heartbeatInterval = interval;
            heartbeatTimeout = timeout;
            heartbeatMaxMissed = maxMissed;
            return this;
        }

        /**
         * Sets TCP keepalive, as {@link IdleReaper.Builder#tcpKeepAlive}. Default: not set. Range, in whole
         * seconds: {@code idle} and {@code interval} 1 to 32767 s, {@code count} 1 to 127.
         *
         * @param idle how long a connection is idle before the kernel probes it (TCP_KEEPIDLE)
         * @param interval the time between probes (TCP_KEEPINTVL)
         * @param count how many unanswered probes make the peer dead (TCP_KEEPCNT)
         * @return this builder
         * @throws NullPointerException if {@code idle} or {@code interval} is null
         * @throws IllegalArgumentException if a value is not whole seconds or outside its range
         * @throws IllegalStateException if it was already set
         */
        public Builder tcpKeepAlive(Duration idle, Duration interval, int count) {
            Checks.notSetTwice(kernel.keepAliveSet(), "tcpKeepAlive", kernel.keepAliveText());
            kernel = kernel.withKeepAlive(idle, interval, count);
            return this;
        }

        /**
         * Sets TCP_USER_TIMEOUT, as {@link IdleReaper.Builder#tcpUserTimeout}. Default: not set;
         * {@link Duration#ZERO} means not set. Range: zero, or 1 ms to 24 h, in whole milliseconds.
         *
         * @param timeout the timeout (its default, range and disabled value are given above)
         * @return this builder
         * @throws NullPointerException if {@code timeout} is null
         * @throws IllegalArgumentException if {@code timeout} is negative, not whole milliseconds, or above 24 h
         * @throws IllegalStateException if it was already set
         */
        public Builder tcpUserTimeout(Duration timeout) {
            Checks.notSetTwice(kernel.userTimeoutSet(), "tcpUserTimeout", kernel.userTimeout());
            kernel = kernel.withUserTimeout(timeout);
            return this;
        }

        /**
         * Returns the immutable value.
         *
         * @return the immutable value
         * @throws IllegalArgumentException if an enabled timeout, heartbeat interval or heartbeat timeout is
         *     shorter than the tick resolution
         */
        public DetectionSettings build() {
            IdleTimeouts t = timeouts != null ? timeouts : IdleTimeouts.DISABLED;
            Duration interval = heartbeatInterval != null ? heartbeatInterval : Duration.ZERO;
            Duration hbTimeout = interval.isZero() ? Duration.ZERO : heartbeatTimeout;
            Duration tick = tickResolution != null ? tickResolution : defaultTick(t, hbTimeout);
            t.checkAgainstTick(tick);
            Checks.notShorterThanTick("heartbeat interval", interval, tick);
            Checks.notShorterThanTick("heartbeat timeout", hbTimeout, tick);
            return new DetectionSettings(t, tick, interval, hbTimeout, heartbeatMaxMissed, kernel);
        }
    }
}
