package io.github.idlereaper;

import java.util.Random;

/**
 * Figure 7b: what choosing a connection to evict costs per accept at the cap, with {@code n} real reaper handlers in
 * one wheel, against what a host without the wheel would do: scan every connection for the idlest. Lives in the
 * library's package (the wheel and the handler are package-private) and in the benchmark sources only.
 */
public final class EvictionProbe {

    private EvictionProbe() {
    }

    /**
     * Nanoseconds per choice: {@code [0]} the wheel's {@code mostIdle}, {@code [1]} a scan of all {@code n}, each the
     * median of {@code rounds} timed batches; {@code [2]} how idle the wheel's choice was, as a share of the idlest
     * connection's idle time. Connections were last active up to 60 s ago (seeded), with a 60 s read timeout.
     */
    public static double[] nanosPerChoice(int n, int rounds, long seed) {
        FakeClock clock = new FakeClock();
        long tick = 500_000_000L;
        LoopWheel w = new LoopWheel(clock, new ManualScheduler(), tick, 1_000_000L, null);
        // Two minutes of ticks, each on time, so that stamps from the last minute have exact upper bounds.
        for (int t = 0; t < 240; t++) {
            clock.now += tick;
            w.advance(clock.now);
        }
        ReaperCore core = IdleReaper.builder().readIdleTimeout(java.time.Duration.ofSeconds(60)).build().core();
        ReaperHandler[] hs = new ReaperHandler[n];
        Random r = new Random(seed);
        long idlest = 0;
        for (int i = 0; i < n; i++) {
            ReaperHandler h = new ReaperHandler(core);
            h.wheel = w;
            h.state = ReaperHandler.COUNTED | ReaperHandler.IN_WHEEL | ReaperHandler.OUT_EMPTY;
            long idleTicks = 2 + r.nextInt(118); // 1 to 60 s
            int stamp = w.stampBefore(idleTicks);
            h.readStamp = stamp;
            h.writeStamp = stamp;
            idlest = Math.max(idlest, clock.now - w.upperBound(stamp));
            // Placed as the handler places itself: at its read-idle deadline.
            w.register(h, w.upperBound(stamp) + 60_000_000_000L);
            hs[i] = h;
        }
        long now = clock.now;
        double wheelNs = median(rounds, 2_000, () -> w.mostIdle(now, 1_000_000_000L));
        double scanNs = median(rounds, Math.max(1, 2_000_000 / n), () -> {
            ReaperHandler best = null;
            long bestIdle = -1;
            for (ReaperHandler h : hs) {
                long idle = h.evictableIdle(w, now);
                if (idle > bestIdle) {
                    best = h;
                    bestIdle = idle;
                }
            }
            return best;
        });
        ReaperHandler chosen = (ReaperHandler) w.mostIdle(now, 1_000_000_000L);
        double share = (double) chosen.evictableIdle(w, now) / idlest;
        return new double[] {wheelNs, scanNs, share};
    }

    private static volatile Object sink;

    private static double median(int rounds, int perBatch, java.util.function.Supplier<Object> op) {
        double[] ns = new double[rounds];
        for (int i = 0; i < rounds; i++) {
            long t0 = System.nanoTime();
            for (int k = 0; k < perBatch; k++) {
                sink = op.get();
            }
            ns[i] = (System.nanoTime() - t0) / (double) perBatch;
        }
        java.util.Arrays.sort(ns);
        return ns[rounds / 2];
    }

    /** A clock the probe sets. */
    private static final class FakeClock implements Ticker {
        long now;

        @Override
        public long read() {
            return now;
        }
    }
}
