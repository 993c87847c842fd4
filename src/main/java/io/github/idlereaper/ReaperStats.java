package io.github.idlereaper;

import java.time.Duration;
import java.util.Collections;
import java.util.EnumMap;
import java.util.Map;

/**
 * An immutable snapshot of a reaper's counters, taken by {@link IdleReaper#stats()}. Counters are cumulative since
 * the reaper was built; take two snapshots and subtract for a rate.
 *
 * <p>Instances are immutable and thread-safe.
 */
public final class ReaperStats {

    private final long open;
    private final long opened;
    private final long busy;
    private final long probing;
    /** The timeout advisor's gaps ({@link GapHistogram}), or null when it is off; and the wheel's tick. */
    private final long[] gaps;
    private final long tickNanos;
    private final Map<ReapReason, Long> reaped;
    private final Map<String, TcpSettings> tcpSettings;
    private final long tcpMismatches;
    private final long maxLoopLagNanos;
    private final long reapsAfterLoopLag;
    private final Map<ReapReason, Long> wouldReap;
    private final long closesHeldBack;
    private final double pressure;
    private final double timeoutScale;

    ReaperStats(long open, long opened, long busy, long probing, long[] gaps, long tickNanos, EnumMap<ReapReason, Long> reaped, Map<String, TcpSettings> tcpSettings,
            long tcpMismatches, long maxLoopLagNanos, long reapsAfterLoopLag, EnumMap<ReapReason, Long> wouldReap,
            long closesHeldBack, double pressure, double timeoutScale) {
        this.pressure = pressure;
        this.timeoutScale = timeoutScale;
        this.closesHeldBack = closesHeldBack;
        this.wouldReap = Collections.unmodifiableMap(new EnumMap<>(wouldReap));
        this.maxLoopLagNanos = maxLoopLagNanos;
        this.reapsAfterLoopLag = reapsAfterLoopLag;
        this.open = open;
        this.opened = opened;
        this.busy = busy;
        this.probing = probing;
        this.gaps = gaps;
        this.tickNanos = tickNanos;
        this.reaped = Collections.unmodifiableMap(new EnumMap<>(reaped));
        this.tcpSettings = Map.copyOf(tcpSettings);
        this.tcpMismatches = tcpMismatches;
    }

    /**
     * The resource pressure last sampled ({@link IdleReaper.Builder#reduceTimeoutsUnderPressure}), from 0 to 1; 0
     * when the reaper does not sample it.
     *
     * @return the pressure last sampled, from 0 to 1; 0 when not sampled
     */
    public double pressure() {
        return pressure;
    }

    /**
     * The share of their configured values the idle timeouts have now: 1.0 normally, less under resource pressure
     * (down to the floor of {@link IdleReaper.Builder#reduceTimeoutsUnderPressure}), in sixteenths.
     *
     * @return the timeouts' scale: 1.0 normally, less under pressure
     */
    public double timeoutScale() {
        return timeoutScale;
    }

    /**
     * Connections the reaper is watching now.
     *
     * @return connections the reaper is watching now
     */
    public long open() {
        return open;
    }

    /**
     * Open connections with work in flight now: {@link IdleReaper#markBusy} without its {@code markIdle} yet, or an
     * HTTP request or stream in flight. A connection counts once however much work it has.
     *
     * @return connections with work in flight
     */
    public long busy() {
        return busy;
    }

    /**
     * Open connections the heartbeat is probing now: a ping went out after the peer fell silent, and no byte has come
     * back yet.
     *
     * @return connections with a ping unanswered
     */
    public long probing() {
        return probing;
    }

    /**
     * With the timeout advisor on ({@link IdleReaper.Builder#timeoutAdvisor}): how many gaps between inbound
     * application messages it has recorded, on connections that went on after them (gaps shorter than the wheel's
     * tick, and gaps while work was in flight, are not recorded). Zero when the advisor is off.
     *
     * @return the gaps recorded
     */
    public long gaps() {
        return gaps == null ? 0 : GapHistogram.count(gaps);
    }

    /**
     * With the timeout advisor on: an estimate of the {@code quantile} of the recorded gaps, for example
     * {@code gapPercentile(0.999)} for the 99.9th percentile. The gaps are kept in powers of two of the wheel's tick
     * (half the tick resolution); within one, the estimate assumes they spread evenly, so it is within a factor of
     * two, and exact to the bucket. {@link Duration#ZERO} when nothing was recorded or the advisor is off.
     *
     * @param quantile from 0 to 1
     * @return the estimated gap at that quantile
     * @throws IllegalArgumentException if {@code quantile} is not between 0 and 1
     */
    public Duration gapPercentile(double quantile) {
        if (!(quantile >= 0 && quantile <= 1)) {
            throw new IllegalArgumentException("quantile: " + quantile + " (expected 0 to 1)");
        }
        return gaps == null ? Duration.ZERO
                : Duration.ofNanos(Math.round(GapHistogram.quantileTicks(gaps, quantile) * tickNanos));
    }

    /**
     * With the timeout advisor on: the recorded gaps longer than the read idle timeout in effect when each was
     * recorded (the all idle timeout when there is no read idle timeout), to a tick: silences after which the peer
     * still spoke, that the timeout would have closed (in a dry run, those it reported). A connection is closed at
     * its first such gap, so this is at most the connections the timeout would have closed too early. Zero when the
     * advisor is off.
     *
     * @return gaps longer than the read idle timeout
     */
    public long gapsOverReadIdle() {
        return gaps == null ? 0 : gaps[0];
    }

    /** The advisor's raw buckets (a copy), or null: for {@link TimeoutAdvice}. */
    long[] gapBuckets() {
        return gaps == null ? null : gaps.clone();
    }

    long tickNanos() {
        return tickNanos;
    }

    /**
     * Connections the reaper has started watching since it was built.
     *
     * @return connections the reaper has started watching since it was built
     */
    public long opened() {
        return opened;
    }

    /**
     * Connections reaped for {@code reason}.
     *
     * @param reason a reason
     * @return connections reaped for {@code reason}
     */
    public long reaped(ReapReason reason) {
        return reaped.getOrDefault(reason, 0L);
    }

    /**
     * Connections reaped for any reason.
     *
     * @return connections reaped for any reason
     */
    public long reapedTotal() {
        long sum = 0;
        for (long n : reaped.values()) {
            sum += n;
        }
        return sum;
    }

    /**
     * Reaps per reason, with every reason present (zero where none).
     *
     * @return reaps per reason, with every reason present (zero where none)
     */
    public Map<ReapReason, Long> reapedByReason() {
        return reaped;
    }

    /**
     * The TCP keepalive and TCP_USER_TIMEOUT values in effect, as last read back from a channel of each transport
     * (keyed {@code nio}, {@code epoll}, {@code io_uring}, {@code kqueue}). Empty when the reaper sets no TCP option
     * ({@link IdleReaper.Builder#tcpKeepAlive}, {@link IdleReaper.Builder#tcpUserTimeout}) or no channel opened yet.
     *
     * @return the TCP values in effect, per transport
     */
    public Map<String, TcpSettings> tcpSettings() {
        return tcpSettings;
    }

    /**
     * Channels on which at least one TCP option the reaper sets was not in effect when read back. Each transport
     * and option that was ignored is also logged once at WARN.
     *
     * @return channels on which at least one TCP option the reaper sets was not in effect when read back
     */
    public long tcpMismatches() {
        return tcpMismatches;
    }

    /**
     * The longest an event loop was held up, as the reaper's wheels saw it, since the reaper was built: how late a
     * tick ran after its start (a blocked handler, a GC pause, a starved CPU), or how far a visit ran behind its
     * tick (a burst of reaps drained in slices, a reap that waited for a pass of I/O). Every reap may come this much
     * later than its bound; none comes earlier. Never quite zero: a tick's scheduling jitter counts too.
     *
     * @return the longest an event loop was held up
     */
    public Duration maxLoopLag() {
        return Duration.ofNanos(maxLoopLagNanos);
    }

    /**
     * Reaps decided while an event loop was more than a tick behind: the host, not the peer, made these late. Each
     * waited for one more pass of the loop's I/O before it was decided, so that bytes that arrived meanwhile count.
     *
     * @return reaps decided while an event loop was more than a tick behind: the host, not the peer, made these late
     */
    public long reapsAfterLoopLag() {
        return reapsAfterLoopLag;
    }

    /**
     * A dry run's decisions for {@code reason} since the reaper was built: connections it would have closed, each
     * counted once per idle episode ({@link IdleReaper.Builder#dryRun(boolean)}). Zero outside a dry run.
     *
     * @param reason a reason
     * @return a dry run's decisions for {@code reason}
     */
    public long wouldReap(ReapReason reason) {
        return wouldReap.get(reason);
    }

    /**
     * A dry run's decisions by reason, every reason present (an immutable map).
     *
     * @return a dry run's decisions by reason, every reason present (an immutable map)
     */
    public Map<ReapReason, Long> wouldReapByReason() {
        return wouldReap;
    }

    /**
     * Closes the close rate held back ({@link IdleReaper.Builder#closeRate}) since the reaper was built: each waited
     * in order until the rate let it go. Zero without a close rate.
     *
     * @return the closes the close rate held back
     */
    public long closesHeldBack() {
        return closesHeldBack;
    }

    /**
     * A dry run's decisions, all reasons together.
     *
     * @return a dry run's decisions, all reasons together
     */
    public long wouldReapTotal() {
        long sum = 0;
        for (long n : wouldReap.values()) {
            sum += n;
        }
        return sum;
    }

    @Override
    public String toString() {
        return "ReaperStats(open=" + open + ", opened=" + opened + (busy == 0 ? "" : ", busy=" + busy)
                + (probing == 0 ? "" : ", probing=" + probing) + ", reaped=" + reaped
                + (tcpSettings.isEmpty() ? "" : ", tcp=" + tcpSettings.values() + ", tcpMismatches=" + tcpMismatches)
                + ", maxLoopLag=" + maxLoopLag().toMillis() + "ms, reapsAfterLoopLag=" + reapsAfterLoopLag
                + (wouldReapTotal() == 0 ? "" : ", wouldReap=" + wouldReap)
                + (closesHeldBack == 0 ? "" : ", closesHeldBack=" + closesHeldBack) + ")";
    }
}
