package io.github.idlereaper;

import io.netty.channel.Channel;
import io.netty.util.concurrent.EventExecutor;
import java.util.EnumMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The shared, thread-safe part of a reaper: its settings, its wheels (one per event loop), its counters, its
 * listener and its logging. Handlers reach it through a final field.
 */
final class ReaperCore {

    private static final Logger log = LoggerFactory.getLogger(IdleReaper.class);
    private static final ReapReason[] REASONS = ReapReason.values();
    /** How long one wheel run may spend on due entries before it yields to I/O. */
    static final long SLICE_NANOS = TimeUnit.MILLISECONDS.toNanos(1);
    /** The INFO summary is logged at most this often, and only when something was reaped. */
    static final long SUMMARY_NANOS = TimeUnit.SECONDS.toNanos(60);

    private final Ticker ticker;
    private final long tickNanos;
    private final long goodbyeNanos;
    private final boolean resetOnReap;
    private final ReapListener listener;
    /** TCP keepalive and TCP_USER_TIMEOUT: applied at each channel's registration. */
    private final KernelLayer kernel;
    private volatile Settings settings;
    /** The heartbeat and peer-ping rule every channel starts with; written under the facade's update lock. */
    private volatile Heartbeat heartbeat = Heartbeat.DISABLED;
    private volatile long peerPingMinNanos;

    private final ConcurrentHashMap<EventExecutor, LoopWheel> wheels = new ConcurrentHashMap<>();
    private final LongAdder open = new LongAdder();
    private final LongAdder opened = new LongAdder();
    private final LongAdder[] reaped = new LongAdder[REASONS.length];

    private final AtomicLong nextSummary;
    /** Totals at the last summary; written only by the thread that won the summary's CAS. */
    private final long[] summarized = new long[REASONS.length];

    ReaperCore(Ticker ticker, long tickNanos, long goodbyeNanos, boolean resetOnReap, ReapListener listener,
            IdleTimeouts timeouts, KernelOptions kernel) {
        this.kernel = new KernelLayer(kernel);
        this.ticker = ticker;
        this.tickNanos = tickNanos;
        this.goodbyeNanos = goodbyeNanos;
        this.resetOnReap = resetOnReap;
        this.listener = listener;
        this.settings = new Settings(timeouts, tickNanos);
        for (int i = 0; i < reaped.length; i++) {
            reaped[i] = new LongAdder();
        }
        this.nextSummary = new AtomicLong(ticker.read() + SUMMARY_NANOS);
    }

    Settings settings() {
        return settings;
    }

    KernelLayer kernel() {
        return kernel;
    }

    long tickNanos() {
        return tickNanos;
    }

    long goodbyeNanos() {
        return goodbyeNanos;
    }

    boolean resetOnReap() {
        return resetOnReap;
    }

    Ticker ticker() {
        return ticker;
    }

    /** Replaces the timeouts; every wheel then visits its entries at once so they take the new values. */
    void update(IdleTimeouts timeouts) {
        settings = new Settings(timeouts, heartbeat, peerPingMinNanos, tickNanos);
        for (var e : wheels.entrySet()) {
            LoopWheel w = e.getValue();
            e.getKey().execute(w::revisitAll);
        }
    }

    /** Sets the heartbeat and the peer-ping rule; called once, before any channel is watched. */
    void heartbeat(Heartbeat hb, long peerPingMinNanos) {
        this.heartbeat = hb;
        this.peerPingMinNanos = peerPingMinNanos;
        this.settings = new Settings(settings.timeouts, hb, peerPingMinNanos, tickNanos);
    }

    /** The per-channel settings for {@code timeouts} and {@code hb}, with this reaper's peer-ping rule. */
    Settings settingsFor(IdleTimeouts timeouts, Heartbeat hb) {
        return new Settings(timeouts, hb, peerPingMinNanos, tickNanos);
    }

    /** The wheel of {@code executor}, made on first use and dropped when the executor terminates. */
    LoopWheel wheelFor(EventExecutor executor) {
        LoopWheel w = wheels.get(executor);
        if (w != null) {
            return w;
        }
        return wheels.computeIfAbsent(executor, e -> {
            LoopWheel created = new LoopWheel(ticker, Scheduler.of(e), tickNanos, SLICE_NANOS,
                    this::maybeLogSummary);
            try {
                e.terminationFuture().addListener(f -> wheels.remove(e));
            } catch (UnsupportedOperationException noTermination) {
                // An EmbeddedChannel's loop never terminates: drop its wheel when its last channel leaves.
                created.onEmpty(() -> wheels.remove(e, created));
            }
            return created;
        });
    }

    int wheelCount() {
        return wheels.size();
    }

    ReaperHandler newHandler() {
        return new ReaperHandler(this);
    }

    void opened() {
        open.increment();
        opened.increment();
    }

    void closed() {
        open.decrement();
    }

    /** Counts, tells the listener and logs one reap. Runs on the channel's event loop. */
    void reaped(Channel ch, ReapEvent event) {
        reaped[event.reason().ordinal()].increment();
        if (log.isDebugEnabled()) {
            log.debug("reaped {} remote={}: {}", ch.id().asShortText(), ch.remoteAddress(), event.message());
        }
        if (listener != null) {
            try {
                listener.onReap(ch, event);
            } catch (Throwable t) {
                log.warn("ReapListener {} threw on {} ({}); the reap goes on", listener, ch, event.message(), t);
            }
        }
    }

    ReaperStats stats() {
        EnumMap<ReapReason, Long> byReason = new EnumMap<>(ReapReason.class);
        for (ReapReason r : REASONS) {
            byReason.put(r, reaped[r.ordinal()].sum());
        }
        return new ReaperStats(open.sum(), opened.sum(), byReason, kernel.lastByTransport(), kernel.mismatches());
    }

    /** Logs at INFO what was reaped since the last summary, at most once a minute. Called by every wheel run. */
    void maybeLogSummary() {
        String line = summary(ticker.read());
        if (line != null) {
            log.info(line);
        }
    }

    /**
     * The summary line due at {@code now}: null when the minute is not over, when another thread took it, or when
     * nothing was reaped since the last one.
     */
    String summary(long now) {
        long due = nextSummary.get();
        if (now - due < 0 || !nextSummary.compareAndSet(due, now + SUMMARY_NANOS)) {
            return null;
        }
        // Count first: a wheel run calls this every tick, and with nothing reaped it must not allocate.
        long total = 0;
        for (ReapReason r : REASONS) {
            total += reaped[r.ordinal()].sum() - summarized[r.ordinal()];
        }
        if (total == 0) {
            return null;
        }
        StringBuilder parts = new StringBuilder();
        total = 0; // again: reaps may have been counted since the first pass
        for (ReapReason r : REASONS) {
            long sum = reaped[r.ordinal()].sum();
            long delta = sum - summarized[r.ordinal()];
            summarized[r.ordinal()] = sum;
            if (delta > 0) {
                total += delta;
                parts.append(parts.length() == 0 ? "" : ", ").append(r).append('=').append(delta);
            }
        }
        return "reaped " + total + " connections in the last " + TimeUnit.NANOSECONDS.toSeconds(SUMMARY_NANOS)
                + "s (" + parts + "); " + open.sum() + " open";
    }
}
