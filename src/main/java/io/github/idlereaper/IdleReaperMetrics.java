package io.github.idlereaper;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Binds a reaper's figures to a Micrometer {@link MeterRegistry}:
 * {@code new IdleReaperMetrics(reaper, Tags.of("server", "chat")).bindTo(registry)}. Needs {@code micrometer-core}
 * on the class path (an optional dependency of this library; nothing else here loads it).
 *
 * <p>The meters, as Micrometer names them (a Prometheus scrape shows dots as underscores, with the unit and
 * {@code _total} suffixes):
 * <table>
 *   <caption>Meters</caption>
 *   <tr><th>name</th><th>type</th><th>tags</th><th>what</th></tr>
 *   <tr><td>{@code idle.reaper.connections.open}</td><td>gauge</td><td></td><td>connections the reaper watches</td></tr>
 *   <tr><td>{@code idle.reaper.connections.busy}</td><td>gauge</td><td></td><td>of those, with work in flight</td></tr>
 *   <tr><td>{@code idle.reaper.connections.probing}</td><td>gauge</td><td></td><td>of those, with a heartbeat ping
 *       unanswered</td></tr>
 *   <tr><td>{@code idle.reaper.reaps}</td><td>function counter</td><td>{@code reason}, {@code dry.run}</td>
 *       <td>reaps by reason ({@code read_idle}, {@code heartbeat_timeout}, ...); a dry run's decisions with
 *       {@code dry.run=true}</td></tr>
 *   <tr><td>{@code idle.reaper.reap.idle}</td><td>timer</td><td>{@code reason}, {@code dry.run}</td><td>how long
 *       the condition held at each reap ({@link ReapEvent#idleFor()})</td></tr>
 *   <tr><td>{@code idle.reaper.connection.lifetime}</td><td>timer</td><td></td><td>how long each connection was
 *       open, at its close, whatever closed it</td></tr>
 *   <tr><td>{@code idle.reaper.tcp.mismatches}</td><td>function counter</td><td></td><td>channels on which a TCP
 *       option the reaper sets was not in effect when read back</td></tr>
 *   <tr><td>{@code idle.reaper.gap}, {@code idle.reaper.gaps}, {@code idle.reaper.gaps.over.read.idle}</td>
 *       <td>gauges ({@code quantile} 0.5, 0.9, 0.99, 0.999), function counters</td><td></td><td>with
 *       {@link IdleReaper.Builder#timeoutAdvisor}: the gap percentiles in seconds, the gaps recorded, and those
 *       longer than the read idle timeout ({@link ReaperStats#gapPercentile}, {@link ReaperStats#gapsOverReadIdle})
 *       </td></tr>
 *   <tr><td>{@code idle.reaper.pressure}, {@code idle.reaper.timeout.scale}</td><td>gauges</td><td></td><td>with
 *       {@link IdleReaper.Builder#reduceTimeoutsUnderPressure}: the pressure last sampled and the timeouts' scale
 *       ({@link ReaperStats#pressure()}, {@link ReaperStats#timeoutScale()})</td></tr>
 * </table>
 *
 * <p>Costs: nothing per message. The gauges and counters read the counters the reaper keeps anyway, when the
 * registry asks. The two timers record once per reap and once per close, on the channel's event loop. The
 * lifetime needs each channel's open time: the reaper keeps it, in a channel attribute (about 50 bytes), only for
 * channels opened after the first {@code bindTo}; connections already open then are not in the lifetime timer.
 * The timers publish a count, a total and a maximum; for percentiles or a histogram, add a
 * {@code MeterFilter} that configures {@code idle.reaper.reap.idle} and {@code idle.reaper.connection.lifetime}.
 *
 * <p>Thread-safe. Binding to several registries records into each; binding twice to the same one changes nothing.
 * The meters hold the reaper strongly: they live as long as the registry does.
 */
public final class IdleReaperMetrics implements MeterBinder {

    private static final ReapReason[] REASONS = ReapReason.values();

    private final IdleReaper reaper;
    private final Tags tags;
    private final Set<MeterRegistry> bound = Collections.newSetFromMap(new IdentityHashMap<>());

    /**
     * A binder for {@code reaper}'s meters, with no extra tags.
     *
     * @param reaper the reaper to measure
     * @throws NullPointerException if {@code reaper} is null
     */
    public IdleReaperMetrics(IdleReaper reaper) {
        this(reaper, Tags.empty());
    }

    /**
     * A binder for {@code reaper}'s meters, each with {@code tags} (for example the server's name, when a process
     * runs several reapers).
     *
     * @param reaper the reaper to measure
     * @param tags tags every meter carries
     * @throws NullPointerException if an argument is null
     */
    public IdleReaperMetrics(IdleReaper reaper, Iterable<Tag> tags) {
        this.reaper = Objects.requireNonNull(reaper, "reaper");
        this.tags = Tags.of(Objects.requireNonNull(tags, "tags"));
    }

    /**
     * Registers the meters with {@code registry}, and from now on records each reap and close into its timers.
     *
     * @param registry the registry
     * @throws NullPointerException if {@code registry} is null
     */
    @Override
    public void bindTo(MeterRegistry registry) {
        Objects.requireNonNull(registry, "registry");
        synchronized (bound) {
            if (!bound.add(registry)) {
                return;
            }
        }
        ReaperCore core = reaper.core();
        Gauge.builder("idle.reaper.connections.open", core, ReaperCore::openCount).tags(tags).strongReference(true)
                .description("Connections the reaper watches").register(registry);
        Gauge.builder("idle.reaper.connections.busy", core, ReaperCore::busyCount).tags(tags).strongReference(true)
                .description("Connections with work in flight").register(registry);
        Gauge.builder("idle.reaper.connections.probing", core, ReaperCore::probingCount).tags(tags)
                .strongReference(true).description("Connections with a heartbeat ping unanswered")
                .register(registry);
        for (ReapReason r : REASONS) {
            for (boolean dry : new boolean[] {false, true}) {
                FunctionCounter.builder("idle.reaper.reaps", core, c -> c.reapCount(r, dry))
                        .tags(tags).tags(reasonTags(r, dry))
                        .description("Connections reaped, by reason; a dry run's decisions with dry.run=true")
                        .register(registry);
            }
        }
        FunctionCounter.builder("idle.reaper.tcp.mismatches", core, ReaperCore::tcpMismatches).tags(tags)
                .description("Channels on which a TCP option the reaper sets was not in effect when read back")
                .register(registry);
        if (core.pressure() != null) {
            Gauge.builder("idle.reaper.pressure", core, c -> c.pressure().pressure()).tags(tags)
                    .strongReference(true).description("Resource pressure last sampled, 0 to 1").register(registry);
            Gauge.builder("idle.reaper.timeout.scale", core, c -> (double) c.timeoutScale() / PressureScale.ONE)
                    .tags(tags).strongReference(true)
                    .description("The idle timeouts' share of their configured values under pressure")
                    .register(registry);
        }
        if (core.advisor()) {
            for (double q : GAP_QUANTILES) {
                Gauge.builder("idle.reaper.gap", core, c -> gapSeconds(c, q)).tags(tags)
                        .tag("quantile", Double.toString(q)).strongReference(true).baseUnit("seconds")
                        .description("The timeout advisor's estimate of the gap between inbound messages at this"
                                + " quantile, on connections that went on")
                        .register(registry);
            }
            FunctionCounter.builder("idle.reaper.gaps", core, c -> GapHistogram.count(c.gaps())).tags(tags)
                    .description("Gaps between inbound messages the timeout advisor recorded").register(registry);
            FunctionCounter.builder("idle.reaper.gaps.over.read.idle", core, c -> c.gaps()[0]).tags(tags)
                    .description("Recorded gaps longer than the read idle timeout: silences it would have closed")
                    .register(registry);
        }
        core.observe(new Recorder(registry, tags));
    }

    private static final double[] GAP_QUANTILES = {0.5, 0.9, 0.99, 0.999};

    private static double gapSeconds(ReaperCore c, double q) {
        return GapHistogram.quantileTicks(c.gaps(), q) * c.tickNanos() / 1e9;
    }

    private static Tags reasonTags(ReapReason r, boolean dry) {
        return Tags.of("reason", r.name().toLowerCase(Locale.ROOT), "dry.run", Boolean.toString(dry));
    }

    @Override
    public String toString() {
        return "IdleReaperMetrics(" + reaper + ", " + tags + ")";
    }

    /** Records one registry's timers, on the channels' event loops; the reap timers are made on first use. */
    private static final class Recorder implements ReapObserver {
        private final MeterRegistry registry;
        private final Tags tags;
        private final AtomicReferenceArray<Timer> reapTimers = new AtomicReferenceArray<>(REASONS.length * 2);
        private final Timer lifetime;

        Recorder(MeterRegistry registry, Tags tags) {
            this.registry = registry;
            this.tags = tags;
            this.lifetime = Timer.builder("idle.reaper.connection.lifetime").tags(tags)
                    .description("How long each connection was open, at its close").register(registry);
        }

        @Override
        public void reaped(ReapEvent event) {
            int i = event.reason().ordinal() * 2 + (event.dryRun() ? 1 : 0);
            Timer t = reapTimers.get(i);
            if (t == null) {
                t = Timer.builder("idle.reaper.reap.idle").tags(tags).tags(reasonTags(event.reason(), event.dryRun()))
                        .description("How long the condition held when the reaper decided").register(registry);
                reapTimers.set(i, t);
            }
            t.record(event.idleFor().toNanos(), TimeUnit.NANOSECONDS);
        }

        @Override
        public void closed(long lifetimeNanos) {
            lifetime.record(Math.max(0, lifetimeNanos), TimeUnit.NANOSECONDS);
        }

        @Override
        public String toString() {
            return "IdleReaperMetrics recorder for " + registry;
        }
    }
}
