package io.github.idlereaper;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Idle timeouts scaled by resource pressure ({@link IdleReaper.Builder#reduceTimeoutsUnderPressure}), as Envoy's
 * {@code reduce_timeouts} overload action: between the threshold and saturation every idle timeout shrinks linearly
 * toward its floor, {@code timeout × (minScale + (1 − minScale) × (saturation − pressure) / (saturation −
 * threshold))}. The scale moves in sixteenths, falls at once and rises only once the pressure is a hysteresis below
 * the level that would allow it; pressure is entered at the threshold (one WARN) and left a hysteresis below it (one
 * INFO). Sampled at most once a second by the reaper's wheel runs. Thread-safe.
 */
final class PressureScale {

    private static final Logger log = LoggerFactory.getLogger(IdleReaper.class);
    /** The scale's unit: 1024 is the configured timeouts. */
    static final int ONE = 1024;
    /** The scale moves in steps of a sixteenth. */
    static final int STEP = ONE / 16;
    static final double HYSTERESIS = 0.05;
    static final long SAMPLE_NANOS = TimeUnit.SECONDS.toNanos(1);

    final PressureSource source;
    final double threshold;
    final double saturation;
    final double minScale;
    /** Pressure at which a newcomer evicts the idlest connection of its loop; 0 when off. */
    final double evictAt;
    private final int floor;
    private final AtomicLong nextSample;
    private volatile double pressure;
    private volatile int scale = ONE;
    private volatile boolean under;
    private volatile boolean warnedSourceFailed;

    PressureScale(PressureSource source, double threshold, double saturation, double minScale, double evictAt,
            long now) {
        this.source = source;
        this.threshold = threshold;
        this.saturation = saturation;
        this.minScale = minScale;
        this.evictAt = evictAt;
        this.floor = Math.max(1, (int) Math.ceil(minScale * ONE));
        this.nextSample = new AtomicLong(now);
    }

    /** The last pressure sampled. */
    double pressure() {
        return pressure;
    }

    /** The scale in effect, in 1/1024ths of the configured timeouts. */
    int scale() {
        return scale;
    }

    /**
     * Samples the source if a second has passed since the last sample (one caller wins per second): true when the
     * scale fell, so that every parked visit must be brought to its nearer deadline.
     */
    boolean maybeSample(long now) {
        long due = nextSample.get();
        if (now - due < 0 || !nextSample.compareAndSet(due, now + SAMPLE_NANOS)) {
            return false;
        }
        double p;
        try {
            p = source.pressure();
        } catch (Throwable t) {
            if (!warnedSourceFailed) {
                warnedSourceFailed = true;
                log.warn("IdleReaper's PressureSource {} threw; read as no pressure (logged once per reaper)", source,
                        t);
            }
            p = 0;
        }
        return apply(p);
    }

    /** Takes pressure {@code p} into account; true when the scale fell. */
    boolean apply(double p) {
        if (!(p >= 0)) {
            p = 0; // NaN or negative: no pressure
        }
        pressure = p;
        boolean wasUnder = under;
        if (!wasUnder && p >= threshold) {
            under = true;
            log.warn("IdleReaper under resource pressure {}{}: idle timeouts now {} % of their configured values "
                    + "(threshold {}, saturation {}, floor {} %)", String.format("%.2f", p), detailOf(source),
                    percent(step(p)), threshold, saturation, Math.round(minScale * 100));
        } else if (wasUnder && p < threshold - HYSTERESIS) {
            under = false;
            log.info("IdleReaper no longer under resource pressure ({}): idle timeouts back to their configured "
                    + "values", String.format("%.2f", p));
        }
        int cur = scale;
        int target = under ? step(p) : ONE;
        if (target < cur) {
            scale = target;
            return true;
        }
        if (target > cur) {
            // Rises only as far as a pressure a hysteresis higher would allow: no flapping at a step's edge.
            scale = under ? Math.max(cur, step(p + HYSTERESIS)) : ONE;
        }
        return false;
    }

    /** The scale for pressure {@code p}, rounded down to a step, never below the floor. */
    int step(double p) {
        double s = Math.max(0, Math.min(1, (saturation - p) / (saturation - threshold)));
        double f = minScale + (1 - minScale) * s;
        int k = (int) (f * ONE);
        k = k >= ONE ? ONE : (k / STEP) * STEP;
        return Math.max(floor, k);
    }

    /** Whether a newcomer should evict the idlest connection of its loop now. */
    boolean evicting() {
        return evictAt > 0 && pressure >= evictAt;
    }

    /** {@code limit} scaled by {@code scale}; zero stays zero (disabled). */
    static long scaled(long limit, int scale) {
        return limit == 0 || scale == ONE ? limit : Math.max(1, limit * scale >> 10);
    }

    private static long percent(int scale) {
        return Math.round(scale * 100.0 / ONE);
    }

    private static String detailOf(PressureSource source) {
        return source instanceof SystemPressure ? " (" + ((SystemPressure) source).detail() + ")" : "";
    }
}
