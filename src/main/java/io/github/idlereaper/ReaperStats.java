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

    ReaperStats(long open, long opened, EnumMap<ReapReason, Long> reaped) {
        this.open = open;
        this.opened = opened;
        this.reaped = Collections.unmodifiableMap(new EnumMap<>(reaped));
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

    @Override
    public String toString() {
        return "ReaperStats(open=" + open + ", opened=" + opened + ", reaped=" + reaped + ")";
    }
}
