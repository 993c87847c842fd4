package io.github.idlereaper;

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
    private final Map<ReapReason, Long> reaped;
    private final Map<String, TcpSettings> tcpSettings;
    private final long tcpMismatches;

    ReaperStats(long open, long opened, EnumMap<ReapReason, Long> reaped, Map<String, TcpSettings> tcpSettings,
            long tcpMismatches) {
        this.open = open;
        this.opened = opened;
        this.reaped = Collections.unmodifiableMap(new EnumMap<>(reaped));
        this.tcpSettings = Map.copyOf(tcpSettings);
        this.tcpMismatches = tcpMismatches;
    }

    /** Connections the reaper is watching now. */
    public long open() {
        return open;
    }

    /** Connections the reaper has started watching since it was built. */
    public long opened() {
        return opened;
    }

    /** Connections reaped for {@code reason}. */
    public long reaped(ReapReason reason) {
        return reaped.getOrDefault(reason, 0L);
    }

    /** Connections reaped for any reason. */
    public long reapedTotal() {
        long sum = 0;
        for (long n : reaped.values()) {
            sum += n;
        }
        return sum;
    }

    /** Reaps per reason, with every reason present (zero where none). */
    public Map<ReapReason, Long> reapedByReason() {
        return reaped;
    }

    /**
     * The TCP keepalive and TCP_USER_TIMEOUT values in effect, as last read back from a channel of each transport
     * (keyed {@code nio}, {@code epoll}, {@code io_uring}, {@code kqueue}). Empty when the reaper sets no TCP option
     * ({@link IdleReaper.Builder#tcpKeepAlive}, {@link IdleReaper.Builder#tcpUserTimeout}) or no channel opened yet.
     */
    public Map<String, TcpSettings> tcpSettings() {
        return tcpSettings;
    }

    /**
     * Channels on which at least one TCP option the reaper sets was not in effect when read back. Each transport
     * and option that was ignored is also logged once at WARN.
     */
    public long tcpMismatches() {
        return tcpMismatches;
    }

    @Override
    public String toString() {
        return "ReaperStats(open=" + open + ", opened=" + opened + ", reaped=" + reaped
                + (tcpSettings.isEmpty() ? "" : ", tcp=" + tcpSettings.values() + ", tcpMismatches=" + tcpMismatches)
                + ")";
    }
}
