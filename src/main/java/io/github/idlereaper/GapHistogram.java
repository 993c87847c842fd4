package io.github.idlereaper;

/**
 * The timeout advisor's record ({@link IdleReaper.Builder#timeoutAdvisor}): the gaps between inbound application
 * messages on connections that went on, in wheel ticks, in log₂ buckets, one array per event loop, merged on read.
 * Stateless; the arrays live in the wheels ({@link LoopWheel#gaps}) and in the snapshots.
 *
 * <p>Bucket {@code b} (1 to 31) holds gaps of {@code 2^(b−1)} to {@code 2^b − 1} ticks. Slot 0 counts the gaps longer
 * than the wheel's candidate timeout ({@link LoopWheel#gapCandidate}, the read idle timeout): silences after which
 * the peer still spoke, that the timeout would have closed. A gap is measured between two wheel stamps, so it is
 * exact to a tick either way; gaps shorter than a tick are not recorded (no idle timeout is that short).
 */
final class GapHistogram {

    /** Slots per array: slot 0 and buckets 1 to 31. */
    static final int SLOTS = 32;

    private GapHistogram() {
    }

    /**
     * Records a gap of {@code gap} ticks (at least 1) in {@code g}. On the read path: a few instructions, no
     * allocation, and at most once per tick per connection.
     */
    static void record(long[] g, int gap, int candidate) {
        g[32 - Integer.numberOfLeadingZeros(gap)]++;
        if (gap > candidate) {
            g[0]++;
        }
    }

    /** Adds {@code from} into {@code into} (racy reads of a loop's array: a snapshot may miss the latest gaps). */
    static void addInto(long[] into, long[] from) {
        for (int i = 0; i < SLOTS; i++) {
            into[i] += from[i];
        }
    }

    /** The gaps recorded. */
    static long count(long[] g) {
        long n = 0;
        for (int b = 1; b < SLOTS; b++) {
            n += g[b];
        }
        return n;
    }

    /** The smallest gap bucket {@code b} holds, in ticks. */
    static long lower(int b) {
        return 1L << (b - 1);
    }

    /** The largest gap bucket {@code b} holds, in ticks. */
    static long upper(int b) {
        return (1L << b) - 1;
    }

    /**
     * An estimate of the {@code q} quantile (0 to 1) of the gaps, in ticks: the bucket that holds it, and within the
     * bucket a position proportional to the rank (gaps spread evenly over it). 0 when nothing was recorded.
     */
    static double quantileTicks(long[] g, double q) {
        long n = count(g);
        if (n == 0) {
            return 0;
        }
        double rank = Math.max(1, Math.ceil(q * n));
        long below = 0;
        for (int b = 1; b < SLOTS; b++) {
            if (g[b] == 0) {
                continue;
            }
            if (below + g[b] >= rank) {
                double within = (rank - below) / g[b];
                return lower(b) + within * (upper(b) - lower(b));
            }
            below += g[b];
        }
        return 0;
    }

    /** The largest gap bucket that holds any gap, 0 when none. */
    static int topBucket(long[] g) {
        for (int b = SLOTS - 1; b >= 1; b--) {
            if (g[b] != 0) {
                return b;
            }
        }
        return 0;
    }
}
