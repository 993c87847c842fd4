package io.github.idlereaper;

import io.github.idlereaper.doctor.IdleLimit;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What the timeout advisor ({@link IdleReaper.Builder#timeoutAdvisor}) recommends from the gaps it saw between
 * inbound application messages on connections that went on after them: {@link IdleReaper#advise(IdleLimit...)}.
 * {@link #toString()} is the report, a line per finding with its numbers, for example:
 * <pre>
 * 12,408 gaps between inbound messages on healthy connections (1,312 connections watched)
 * gaps: p50 2.1 s, p99 28 s, p99.9 42 s, longest 32 to 64 s
 * readIdleTimeout 30 s would have closed 161 of them (1.3 %): connections whose peer spoke again after it
 * recommended readIdleTimeout ≥ 63 s (1.5 × the p99.9 gap)
 * AWS NLB drops flows idle for 350 s: heartbeat interval ≤ 290 s (85 % of it, rounded down to 10 s), so the
 *   balancer never sees a silence
 * </pre>
 *
 * <p>The method: a healthy connection's silences are the gaps that ended with a message; an idle timeout shorter
 * than one of them would have closed a connection that was still in use. The recommendation leaves half again the
 * 99.9th percentile, so about one silence in a thousand comes within two thirds of the timeout and fewer reach it.
 * Its limits: gaps are kept in powers of two of the wheel's tick (the percentiles are estimates within one), only
 * connections that spoke again count (one that would have spoken after an hour, but was closed first, is not
 * seen), and the record covers only the traffic since the reaper was built. Run it on production traffic long enough
 * to see the quiet hours, with {@link IdleReaper.Builder#dryRun(boolean)} to try a timeout before enforcing it.
 *
 * <p>Immutable and thread-safe.
 */
public final class TimeoutAdvice {

    /** The recommended read idle timeout's margin over the 99.9th percentile gap. */
    static final double MARGIN = 1.5;
    /** The share of a middlebox's idle timeout the heartbeat interval may take. */
    static final double LIMIT_SHARE = 0.85;

    private final long samples;
    private final Duration recommendedReadIdle;
    private final Duration maxHeartbeatInterval;
    private final List<String> lines;

    TimeoutAdvice(ReaperStats stats, IdleTimeouts timeouts, Heartbeat heartbeat, IdleLimit... limits) {
        long[] g = stats.gapBuckets();
        long tick = stats.tickNanos();
        this.samples = GapHistogram.count(g);
        List<String> out = new ArrayList<>();
        out.add(String.format(Locale.ROOT, "%,d gaps between inbound messages on healthy connections (%,d %s"
                + " watched)", samples, stats.opened(), stats.opened() == 1 ? "connection" : "connections"));
        if (samples == 0) {
            out.add("nothing to advise yet: no connection has spoken twice, a tick or more apart");
            this.recommendedReadIdle = Duration.ZERO;
        } else {
            Duration p999 = stats.gapPercentile(0.999);
            int top = GapHistogram.topBucket(g);
            out.add(String.format(Locale.ROOT, "gaps: p50 %s, p99 %s, p99.9 %s, longest %s to %s",
                    human(stats.gapPercentile(0.5)), human(stats.gapPercentile(0.99)), human(p999),
                    human(Duration.ofNanos(GapHistogram.lower(top) * tick)),
                    human(Duration.ofNanos((GapHistogram.upper(top) + 1) * tick))));
            Duration readIdle = !timeouts.readIdle().isZero() ? timeouts.readIdle() : timeouts.allIdle();
            String name = !timeouts.readIdle().isZero() ? "readIdleTimeout" : "allIdleTimeout";
            if (!readIdle.isZero()) {
                long over = stats.gapsOverReadIdle();
                out.add(String.format(Locale.ROOT, "%s %s would have closed %,d of them (%s): connections whose"
                        + " peer spoke again after it", name, human(readIdle), over, percent(over, samples)));
            }
            this.recommendedReadIdle = roundUp(Duration.ofNanos((long) Math.ceil(p999.toNanos() * MARGIN)));
            out.add(String.format(Locale.ROOT, "recommended readIdleTimeout ≥ %s (%.1f × the p99.9 gap)%s",
                    human(recommendedReadIdle), MARGIN,
                    readIdle.isZero() ? "" : readIdle.compareTo(recommendedReadIdle) >= 0
                            ? "; the current " + human(readIdle) + " is enough"
                            : "; the current " + human(readIdle) + " is shorter"));
        }
        Duration maxInterval = Duration.ZERO;
        for (IdleLimit l : limits) {
            Duration share = Duration.ofSeconds((long) (l.timeout().toSeconds() * LIMIT_SHARE) / 10 * 10);
            if (maxInterval.isZero() || share.compareTo(maxInterval) < 0) {
                maxInterval = share;
            }
            String now = !heartbeat.pings() ? "; no heartbeat is set"
                    : heartbeat.interval().compareTo(share) <= 0 ? "; the current " + human(heartbeat.interval())
                    + " is within it" : "; the current " + human(heartbeat.interval()) + " is longer";
            out.add(String.format(Locale.ROOT, "%s drops flows idle for %s: heartbeat interval ≤ %s (%.0f %% of it,"
                    + " rounded down to 10 s), so the balancer never sees a silence%s", l.label(), human(l.timeout()),
                    human(share), LIMIT_SHARE * 100, now));
            if (samples > 0 && recommendedReadIdle.compareTo(l.timeout()) >= 0) {
                out.add(String.format(Locale.ROOT, "healthy silences outlast %s's %s: only pings keep such"
                        + " connections through it", l.label(), human(l.timeout())));
            }
        }
        this.maxHeartbeatInterval = maxInterval;
        this.lines = List.copyOf(out);
    }

    /**
     * How many gaps the advice rests on.
     *
     * @return the gaps recorded
     */
    public long samples() {
        return samples;
    }

    /**
     * The read idle timeout the advisor recommends at least: half again the 99.9th percentile gap, rounded up to
     * a whole second (a tenth of a second below 10 s). {@link Duration#ZERO} when nothing was recorded.
     *
     * @return the recommended read idle timeout
     */
    public Duration recommendedReadIdleTimeout() {
        return recommendedReadIdle;
    }

    /**
     * The longest heartbeat interval that keeps every given middlebox from dropping an idle flow: 85 % of the
     * smallest idle timeout, rounded down to 10 s. {@link Duration#ZERO} when no limit was given.
     *
     * @return the longest heartbeat interval, or zero
     */
    public Duration maxHeartbeatInterval() {
        return maxHeartbeatInterval;
    }

    /**
     * The report, a finding a line.
     *
     * @return the report's lines
     */
    public List<String> lines() {
        return lines;
    }

    /** The report, a finding a line. */
    @Override
    public String toString() {
        return String.join("\n", lines);
    }

    private static Duration roundUp(Duration d) {
        long unit = d.compareTo(Duration.ofSeconds(10)) < 0 ? 100_000_000L : 1_000_000_000L;
        return Duration.ofNanos((d.toNanos() + unit - 1) / unit * unit);
    }

    private static String percent(long part, long whole) {
        double p = 100.0 * part / whole;
        return String.format(Locale.ROOT, p >= 10 ? "%.0f %%" : p >= 0.1 || p == 0 ? "%.1f %%" : "%.2f %%", p);
    }

    /** 750 ms, 4.2 s, 42 s, 350 s, 16 min 40 s, 2 h 0 min. */
    static String human(Duration d) {
        long ms = d.toMillis();
        if (ms < 1_000) {
            return ms + " ms";
        }
        if (ms < 10_000) {
            return String.format(Locale.ROOT, "%.1f s", ms / 1000.0);
        }
        long s = (ms + 500) / 1000;
        if (s < 600) {
            return s + " s";
        }
        if (s < 7_200) {
            return s / 60 + " min" + (s % 60 == 0 ? "" : " " + s % 60 + " s");
        }
        return s / 3600 + " h " + s / 60 % 60 + " min";
    }
}
