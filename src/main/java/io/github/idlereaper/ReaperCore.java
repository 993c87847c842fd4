package io.github.idlereaper;

import io.netty.channel.Channel;
import io.netty.util.concurrent.EventExecutor;
import java.time.Duration;
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
    /**
     * Whether the JFR event's class ({@link ReapRecord}) loaded: false on a runtime without the {@code jdk.jfr}
     * module (a jlinked image), where the reaper runs without the event. Set when the first reaper is built, on the
     * builder's thread, so that no event loop pays for loading it at its first reap.
     */
    static final boolean JFR_EVENT = loadJfrEvent();

    private final Ticker ticker;
    private final long tickNanos;
    private final long goodbyeNanos;
    private final boolean resetOnReap;
    private final ReapListener listener;
    /** TCP keepalive and TCP_USER_TIMEOUT: applied at each channel's registration. */
    private final KernelLayer kernel;
    private volatile Settings settings;
    /** The heartbeat and peer-ping rule every channel starts with; set once, while the reaper is built. */
    private volatile Heartbeat heartbeat = Heartbeat.DISABLED;
    private volatile long peerPingMinNanos;

    /** Draws a first ping's jitter in [0, bound) ticks; tests replace it with a deterministic source. */
    private volatile java.util.function.LongUnaryOperator jitter =
            bound -> java.util.concurrent.ThreadLocalRandom.current().nextLong(bound);
    /** The HTTP layer's options, or null when it is off; set once, while the reaper is built. */
    private volatile HttpSettings http;
    /** The lifecycle options (half-close, dry run); set once, while the reaper is built. */
    private volatile LifecycleSettings lifecycle = LifecycleSettings.NONE;
    /** The connection cap and per-address limit, or null when neither is set; set once, while the reaper is built. */
    private volatile ConnectionCap cap;
    /** Idle timeouts scaled by resource pressure, or null when off; set once, while the reaper is built. */
    private volatile PressureScale pressure;
    /** The drain under way ({@link IdleReaper#drain}), or null. */
    private volatile ReaperDrain drain;
    /** Whether recognised heartbeat frames count as activity after all (the builder's heartbeatIsActivity). */
    private volatile boolean heartbeatIsActivity;
    /** Warnings given once per reaper (a racy check: at worst a second line). */
    volatile boolean warnedInstalledTwice;
    volatile boolean warnedUnanchored;
    volatile boolean warnedNotFirst;
    volatile boolean warnedPingFailure;
    volatile boolean warnedNotReady;
    volatile boolean warnedNoHttpCodec;
    volatile boolean warnedNoHalfClosure;

    private final ConcurrentHashMap<EventExecutor, LoopWheel> wheels = new ConcurrentHashMap<>();
    private final LongAdder open = new LongAdder();
    private final LongAdder opened = new LongAdder();
    /** Open connections with work in flight, and those the heartbeat is probing (ping sent, no answer yet). */
    private final LongAdder busy = new LongAdder();
    private final LongAdder probing = new LongAdder();
    /** Who else hears of each reap and close ({@link IdleReaperMetrics}); copied on write, read on every reap. */
    private volatile ReapObserver[] observers = NO_OBSERVERS;
    private static final ReapObserver[] NO_OBSERVERS = new ReapObserver[0];
    private final LongAdder[] reaped = new LongAdder[REASONS.length];
    /** A dry run's decisions, by reason. */
    private final LongAdder[] wouldReap = new LongAdder[REASONS.length];
    /** The lag figures of wheels dropped with their event loops. */
    private final LongAdder retiredLateReaps = new LongAdder();
    private final LongAdder retiredHeldBack = new LongAdder();
    private volatile long retiredMaxLag;

    /** The timeout advisor records gaps ({@link IdleReaper.Builder#timeoutAdvisor}); set before any wheel. */
    private boolean advisor;
    /** The gaps of wheels dropped with their event loops. */
    private final long[] retiredGaps = new long[GapHistogram.SLOTS];

    private final AtomicLong nextSummary;
    /** Totals at the last summary; written only by the thread that won the summary's CAS. */
    private final long[] summarized = new long[REASONS.length];

    private static boolean loadJfrEvent() {
        try {
            return ReapRecord.load();
        } catch (LinkageError noJfr) {
            log.debug("no JFR event for reaps: the runtime has no jdk.jfr module ({})", noJfr.toString());
            return false;
        }
    }

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
            wouldReap[i] = new LongAdder();
        }
        this.nextSummary = new AtomicLong(ticker.read() + SUMMARY_NANOS);
    }

    Settings settings() {
        return settings;
    }

    /**
     * The rules that new idle timeouts for this reaper, or for one channel, must keep: none shorter than
     * {@code tick}, {@code heartbeat} inside them, and the reaper's TCP_USER_TIMEOUT covering the write stall.
     *
     * @throws IllegalArgumentException with the option, the value and the rule
     */
    void checkTimeouts(IdleTimeouts t, Duration tick, Heartbeat heartbeat) {
        t.checkAgainstTick(tick);
        heartbeat.checkFitsInside(t);
        kernel.options().checkUserTimeoutCovers(t);
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
        settings = new Settings(timeouts, heartbeat, peerPingMinNanos, tickNanos, null);
        if (advisor) {
            // Gaps recorded from now on are counted against the new read idle timeout.
            for (LoopWheel w : wheels.values()) {
                w.gapCandidate = gapCandidateTicks(timeouts);
            }
        }
        revisitAll();
    }

    /**
     * Has every wheel visit all its entries as soon as possible, in slices that yield to I/O, each on its own loop:
     * after new timeouts, at a drain, when resource pressure shrinks the timeouts.
     */
    private void revisitAll() {
        for (var e : wheels.entrySet()) {
            LoopWheel w = e.getValue();
            try {
                e.getKey().execute(w::revisitAll);
            } catch (java.util.concurrent.RejectedExecutionException shuttingDown) {
                // That loop is shutting down, and its channels with it; the others go on.
            }
        }
    }

    /** The drain under way, or null. */
    ReaperDrain drain() {
        return drain;
    }

    /**
     * Starts draining every connection (once: a second call returns the first drain's future): each wheel visits
     * all its entries at once, in slices, and each connection retires at its place in the spread.
     */
    synchronized java.util.concurrent.CompletableFuture<Void> drain(long graceNanos) {
        ReaperDrain d = drain;
        if (d != null) {
            return d.done;
        }
        d = new ReaperDrain(ticker.read(), graceNanos, lifecycle.drainSpreadNanos);
        drain = d;
        log.info("IdleReaper draining {} connections: goodbyes spread over {}ms, then up to {}ms of grace each",
                open.sum(), TimeUnit.NANOSECONDS.toMillis(d.spreadNanos), TimeUnit.NANOSECONDS.toMillis(graceNanos));
        revisitAll();
        completeDrainIfEmpty(d);
        return d.done;
    }

    private void completeDrainIfEmpty(ReaperDrain d) {
        if (d != null && !d.done.isDone() && open.sum() <= 0) {
            d.done.complete(null);
        }
    }

    /** Sets the heartbeat and the peer-ping rule; called once, before any channel is watched. */
    void heartbeat(Heartbeat hb, long peerPingMinNanos) {
        this.heartbeat = hb;
        this.peerPingMinNanos = peerPingMinNanos;
        this.settings = new Settings(settings.timeouts, hb, peerPingMinNanos, tickNanos, null);
    }

    /**
     * The per-channel settings for {@code timeouts} and {@code hb}, with this reaper's peer-ping rule, derived from
     * the reaper's {@code base}.
     */
    Settings settingsFor(IdleTimeouts timeouts, Heartbeat hb, Settings base) {
        return new Settings(timeouts, hb, peerPingMinNanos, tickNanos, base);
    }

    /**
     * Warns once per reaper when {@code h} is not first in {@code ch}'s pipeline (behind another reaper's handler
     * is fine): a handler ahead of it writes and transforms bytes that the reaper then cannot see, so outbound
     * progress, and with it write stall, write idle and all idle, cannot be measured.
     */
    void checkFirst(Channel ch, ReaperHandler h) {
        io.netty.channel.ChannelHandler first = ch.pipeline().first();
        if (first == h || first instanceof ReaperHandler || warnedNotFirst
                || first instanceof io.netty.channel.ChannelInitializer) {
            // An initializer still running ahead of it leaves the pipeline when it is done; the check runs again
            // whenever flushed bytes wait.
            return;
        }
        warnedNotFirst = true;
        log.warn("the IdleReaper handler is not first in the pipeline of {} (first: {}): a handler ahead of it "
                + "hides outbound bytes, so writeStallTimeout, writeIdleTimeout and allIdleTimeout cannot measure "
                + "progress; add it with addFirst, or use install() (logged once per reaper)", ch,
                first == null ? "none" : first.getClass().getName());
    }

    /** The listener for a ping write that has not succeeded yet. */
    io.netty.channel.ChannelFutureListener pingFailed(HeartbeatProtocol protocol) {
        return HeartbeatLogic.failureLogger(this, protocol);
    }

    /** Logs a failed ping: at WARN the first time for this reaper, at DEBUG after that. */
    void logPingFailure(Channel ch, HeartbeatProtocol protocol, Throwable cause) {
        if (!warnedPingFailure) {
            warnedPingFailure = true;
            log.warn("{} the ping of {} failed to write: {} (logged once per reaper at WARN, then at DEBUG; is the "
                    + "protocol's encoder in the pipeline?)", ch, protocol, cause.toString());
        } else if (log.isDebugEnabled()) {
            log.debug("{} the ping of {} failed to write: {}", ch, protocol, cause.toString());
        }
    }

    /** A first ping's jitter, in [0, bound) ticks. */
    long jitterTicks(long bound) {
        return jitter.applyAsLong(bound);
    }

    /** For tests: replaces the jitter's random source. */
    void jitter(java.util.function.LongUnaryOperator source) {
        this.jitter = source;
    }

    boolean heartbeatIsActivity() {
        return heartbeatIsActivity;
    }

    void heartbeatIsActivity(boolean b) {
        heartbeatIsActivity = b;
    }

    /** The HTTP layer's options, or null when it is off. */
    HttpSettings http() {
        return http;
    }

    void http(HttpSettings h) {
        http = h;
    }

    LifecycleSettings lifecycle() {
        return lifecycle;
    }

    void lifecycle(LifecycleSettings l) {
        lifecycle = l;
    }

    ConnectionCap cap() {
        return cap;
    }

    PressureScale pressure() {
        return pressure;
    }

    void pressure(PressureScale p) {
        pressure = p;
    }

    /** The scale of the idle timeouts now, in 1/1024ths ({@link PressureScale#ONE} without pressure). */
    int timeoutScale() {
        PressureScale p = pressure;
        return p == null ? PressureScale.ONE : p.scale();
    }

    /** Whether accepted connections go through {@link #admit}: a cap, or eviction under pressure. */
    boolean admits() {
        PressureScale p = pressure;
        return cap != null || (p != null && p.evictAt > 0);
    }

    /**
     * Admits a server's accepted connection, on its event loop, whose wheel is {@code w}: under pressure at or above
     * the eviction level it first evicts the idlest connection of the loop ({@link ReapReason#PRESSURE}), then the
     * cap decides. False if the connection was refused (reported and closed with a RST).
     */
    boolean admit(Channel ch, LoopWheel w) {
        PressureScale p = pressure;
        if (p != null && p.evicting()) {
            long now = ticker.read();
            WheelEntry victim = w.mostIdle(now, ConnectionCap.EVICT_MIN_IDLE_NANOS);
            if (victim != null && (lifecycle.dryRun || w.takeCloseToken(now))) {
                ((ReaperHandler) victim).evict(ReapReason.PRESSURE, now, (int) Math.round(p.pressure() * 100),
                        (int) Math.round(p.evictAt * 100));
            }
        }
        ConnectionCap c = cap;
        return c == null || c.admit(this, ch, w);
    }

    void cap(ConnectionCap c) {
        cap = c;
    }

    /**
     * Warns once per reaper when the half-close timeout is set and {@code ch} does not allow half-closure: Netty
     * closes such a channel itself at the peer's FIN, so the timeout never runs there.
     */
    void checkHalfClosure(Channel ch) {
        if (lifecycle.halfCloseNanos == 0 || warnedNoHalfClosure
                || Boolean.TRUE.equals(ch.config().getOption(io.netty.channel.ChannelOption.ALLOW_HALF_CLOSURE))) {
            return;
        }
        warnedNoHalfClosure = true;
        log.warn("{} halfCloseTimeout is set, but the channel does not allow half-closure "
                + "(ChannelOption.ALLOW_HALF_CLOSURE is false): Netty closes it itself at the peer's FIN, so the "
                + "timeout never runs; set childOption(ChannelOption.ALLOW_HALF_CLOSURE, true) to use it "
                + "(logged once per reaper)", ch);
    }

    /** Warns once per reaper that the HTTP layer found no HTTP codec where data flows, and stopped there. */
    void warnNoHttpCodec(Channel ch) {
        if (!warnedNoHttpCodec) {
            warnedNoHttpCodec = true;
            log.warn("{} http() is on, but data arrived with no HTTP codec in the pipeline (HttpServerCodec, "
                    + "HttpRequestDecoder, an Http2ConnectionHandler): the HTTP timers cannot see requests there, so "
                    + "they are off on such connections; the idle timers still apply (logged once per reaper)", ch);
        }
    }

    /** Warns once per reaper that install() found the host had added this reaper's handler itself. */
    void warnInstalledTwice(Channel ch) {
        if (!warnedInstalledTwice) {
            warnedInstalledTwice = true;
            log.warn("{} already has this IdleReaper's handler (the host's initializer added reaper.newHandler()) "
                    + "and install() wraps that initializer too: the host's handler is kept and install() adds "
                    + "none; use one of the two (logged once per reaper)", ch);
        }
    }

    /** Warns once per reaper that a protocol's watch found no handler to go behind. */
    void warnUnanchored(Channel ch, HeartbeatProtocol protocol, String after) {
        if (!warnedUnanchored) {
            warnedUnanchored = true;
            log.warn("{} {} found no decoder to watch after in the pipeline ({}): the peer's pings are not "
                    + "recognised there, and heartbeat frames count as activity (logged once per reaper)", ch,
                    protocol, after == null ? "placeAfter gave none" : "no handler named " + after);
        }
    }

    /** Warns once per reaper that a protocol has not been ready to ping a channel for several intervals. */
    void warnNotReady(Channel ch, Settings s) {
        if (warnedNotReady) {
            return;
        }
        warnedNotReady = true;
        log.warn("{} {} has not been ready to ping for {} intervals of {}ms: is its codec in the pipeline? Until it "
                + "is ready the heartbeat does not probe this channel (logged once per reaper)", ch, s.protocol,
                HeartbeatLogic.NOT_READY_WARN, TimeUnit.NANOSECONDS.toMillis(s.pingInterval));
    }

    /** The wheel of {@code executor}, made on first use and dropped when the executor terminates. */
    LoopWheel wheelFor(EventExecutor executor) {
        LoopWheel w = wheels.get(executor);
        if (w != null) {
            return w;
        }
        return wheels.computeIfAbsent(executor, e -> {
            LoopWheel created = new LoopWheel(ticker, Scheduler.of(e), tickNanos, SLICE_NANOS, this::afterRun);
            created.closeRate(lifecycle.closeRate, lifecycle.closeBurst);
            created.owner = this;
            if (advisor) {
                created.gapCandidate = gapCandidateTicks(settings.timeouts);
                created.gaps = new long[GapHistogram.SLOTS];
            }
            try {
                e.terminationFuture().addListener(f -> retire(wheels.remove(e)));
            } catch (UnsupportedOperationException noTermination) {
                // An EmbeddedChannel's loop never terminates: drop its wheel when its last channel leaves.
                created.onEmpty(() -> {
                    if (wheels.remove(e, created)) {
                        retire(created);
                    }
                });
            }
            return created;
        });
    }

    /** Keeps a dropped wheel's lag figures in the stats. */
    private void retire(LoopWheel w) {
        if (w == null) {
            return;
        }
        if (w.gaps != null) {
            synchronized (retiredGaps) {
                GapHistogram.addInto(retiredGaps, w.gaps);
            }
        }
        retiredLateReaps.add(w.lateReaps());
        retiredHeldBack.add(w.heldBack());
        synchronized (this) {
            retiredMaxLag = Math.max(retiredMaxLag, w.maxLagNanos());
        }
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
        completeDrainIfEmpty(drain);
    }

    /** A channel's work in flight started ({@code +1}) or ended ({@code -1}, also when it closed busy). */
    void busyDelta(int delta) {
        busy.add(delta);
    }

    /** The heartbeat started probing a channel ({@code +1}), or stopped (an answer, an override, a close). */
    void probingDelta(int delta) {
        probing.add(delta);
    }

    /** Adds an observer of reaps and closes. Thread-safe; rare (a metrics binder). */
    synchronized void observe(ReapObserver o) {
        ReapObserver[] cur = observers;
        ReapObserver[] next = java.util.Arrays.copyOf(cur, cur.length + 1);
        next[cur.length] = o;
        observers = next;
    }

    /** Whether anything observes closes: then each channel keeps its open time (see {@link ReapObserver}). */
    boolean observed() {
        return observers.length != 0;
    }

    /** A channel that was open since {@code openedAt} (a ticker reading) closed. Its event loop. */
    void closedAfter(long openedAt) {
        long lifetime = ticker.read() - openedAt;
        for (ReapObserver o : observers) {
            try {
                o.closed(lifetime);
            } catch (Throwable t) {
                log.warn("{} threw on a close; ignored", o, t);
            }
        }
    }

    /**
     * Counts, tells the observers, logs, records (the JFR event) and tells the listener about one reap: the one place
     * every reap is reported, a dry run's decisions and refusals at the cap included. Runs on the channel's event
     * loop.
     */
    void reaped(Channel ch, ReapEvent event) {
        (event.dryRun() ? wouldReap : reaped)[event.reason().ordinal()].increment();
        for (ReapObserver o : observers) {
            try {
                o.reaped(event);
            } catch (Throwable t) {
                log.warn("{} threw on {} ({}); the reap goes on", o, ch, event.message(), t);
            }
        }
        if (log.isDebugEnabled()) {
            log.debug("{} {} remote={}: {}", event.dryRun() ? "would reap" : "reaped", ch.id().asShortText(),
                    ch.remoteAddress(), event.message());
        }
        if (JFR_EVENT) {
            ReapRecord.emit(ch, event);
        }
        if (listener != null) {
            try {
                listener.onReap(ch, event);
            } catch (Throwable t) {
                log.warn("ReapListener {} threw on {} ({}); the reap goes on", listener, ch, event.message(), t);
            }
        }
    }

    /** Reaps (or, with {@code dryRun}, a dry run's decisions) for {@code reason} so far: one counter's sum. */
    long reapCount(ReapReason reason, boolean dryRun) {
        return (dryRun ? wouldReap : reaped)[reason.ordinal()].sum();
    }

    long openCount() {
        return open.sum();
    }

    long busyCount() {
        return busy.sum();
    }

    long probingCount() {
        return probing.sum();
    }

    long tcpMismatches() {
        return kernel.mismatches();
    }

    /** Turns the timeout advisor on. At build, before any wheel exists. */
    void advisor(boolean on) {
        this.advisor = on;
    }

    boolean advisor() {
        return advisor;
    }

    /**
     * The advisor's candidate in ticks: the read idle timeout, else the all idle timeout, in whole ticks (a gap of
     * more ticks than this was longer than the timeout, give or take a tick); none when both are off.
     */
    private int gapCandidateTicks(IdleTimeouts t) {
        long d = !t.readIdle().isZero() ? t.readIdle().toNanos() : t.allIdle().toNanos();
        return d == 0 ? Integer.MAX_VALUE : (int) Math.min(Integer.MAX_VALUE, d / tickNanos);
    }

    /** The advisor's gaps so far, every loop's and the dropped loops', merged; null when the advisor is off. */
    long[] gaps() {
        if (!advisor) {
            return null;
        }
        long[] sum = new long[GapHistogram.SLOTS];
        for (LoopWheel w : wheels.values()) {
            if (w.gaps != null) {
                GapHistogram.addInto(sum, w.gaps);
            }
        }
        synchronized (retiredGaps) {
            GapHistogram.addInto(sum, retiredGaps);
        }
        return sum;
    }

    ReaperStats stats() {
        EnumMap<ReapReason, Long> byReason = new EnumMap<>(ReapReason.class);
        EnumMap<ReapReason, Long> wouldBy = new EnumMap<>(ReapReason.class);
        for (ReapReason r : REASONS) {
            byReason.put(r, reaped[r.ordinal()].sum());
            wouldBy.put(r, wouldReap[r.ordinal()].sum());
        }
        long maxLag = 0;
        long lateReaps = 0;
        long heldBack = retiredHeldBack.sum();
        for (LoopWheel w : wheels.values()) {
            maxLag = Math.max(maxLag, w.maxLagNanos());
            lateReaps += w.lateReaps();
            heldBack += w.heldBack();
        }
        maxLag = Math.max(maxLag, retiredMaxLag);
        lateReaps += retiredLateReaps.sum();
        PressureScale p = pressure;
        return new ReaperStats(open.sum(), opened.sum(), busy.sum(), probing.sum(), gaps(), tickNanos, byReason, kernel.lastByTransport(), kernel.mismatches(),
                maxLag, lateReaps, wouldBy, heldBack, p == null ? 0 : p.pressure(),
                (double) timeoutScale() / PressureScale.ONE);
    }

    /**
     * After every wheel run: the rate-limited summary, and the pressure sample (at most once a second per reaper);
     * a scale that fell brings every parked visit to its nearer deadline.
     */
    void afterRun() {
        maybeLogSummary();
        PressureScale p = pressure;
        if (p != null && p.maybeSample(ticker.read())) {
            revisitAll();
        }
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
        return "reaped " + total + (total == 1 ? " connection" : " connections") + " in the last " + TimeUnit.NANOSECONDS.toSeconds(SUMMARY_NANOS)
                + "s (" + parts + "); " + open.sum() + " open";
    }
}
