package io.github.idlereaper.bench;

import io.github.idlereaper.bench.Stack.Config;
import io.github.idlereaper.bench.Stack.Timeouts;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelPipeline;
import java.time.Duration;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Figure 3: the CPU the timers of n connections cost their event loop when every connection is active, so that
 * nothing is ever reaped and all the work is upkeep (re-arming).
 *
 * <p>n {@link SimChannel}s live on one {@link SimLoop}. Simulated time moves in steps of {@code step}. In each step
 * the figure first does the traffic (a read batch and a write with flush, for the channels whose turn it is: each
 * channel gets one every {@code activityPeriod}, shorter than the timeout), then moves the clock and runs whatever
 * timer work came due, timing that with the loop thread's CPU clock and allocation counter. Only the timer work is
 * counted; the bare configuration (no handler) measures the loop's own cost in that window, which the figure
 * subtracts for the net cost. The handlers are added over the first timeout, spread evenly, so that their timers
 * are spread as in a long-running server; the figure counts the simulated minute after a settling period.
 *
 * <p>The activity period matters to a lazy timer (the reaper's wheel and IdleStateHandler alike): a timer that
 * fires finds the last activity and re-arms for its timeout from there. When the period divides the timeout, the
 * last activity falls in the very step the timer fires, and it re-arms a whole timeout ahead: one firing per
 * timeout. Otherwise the last activity is up to one period old, and the timer fires more often.
 */
final class UpkeepFigure {

    static final List<Config> CONFIGS = List.of(Config.BARE, Config.NETTY_R, Config.NETTY, Config.REAPER);

    /** Timer CPU per simulated second, bytes allocated by it per simulated second, and the channels it closed. */
    record Upkeep(double cpuMsPerSec, double bytesPerSec, long closed, double realSeconds) {
    }

    private final int n;
    private final Duration timeout;
    private final long stepNanos;
    /** How many steps apart the activity of one channel is, in the run under way. */
    private int activitySlots;
    private final SimLoop.Clock clock = new SimLoop.Clock();
    private final SimLoop loop = new SimLoop(clock);
    private final SimChannel[] channels;
    private final ByteBuf buf = Unpooled.unreleasableBuffer(Unpooled.buffer(64).writeZero(64));
    private long stepCount;

    UpkeepFigure(int n, Duration timeout, Duration step) throws Exception {
        this.n = n;
        this.timeout = timeout;
        this.stepNanos = step.toNanos();
        this.channels = new SimChannel[n];
        for (int from = 0; from < n; from += 10_000) {
            int start = from;
            loop.submit(() -> {
                for (int i = start; i < Math.min(n, start + 10_000); i++) {
                    channels[i] = newChannel();
                }
            }).sync();
        }
    }

    /** Runs each of {@code configs} with every channel active once every {@code activityPeriod}. */
    Map<Config, Upkeep> runAll(List<Config> configs, Duration activityPeriod) throws Exception {
        activitySlots = (int) (activityPeriod.toNanos() / stepNanos);
        if (activityPeriod.compareTo(timeout) >= 0 || activitySlots < 1
                || activitySlots * stepNanos != activityPeriod.toNanos()) {
            throw new IllegalArgumentException("activity must come more often than the timeout, in whole steps: "
                    + activityPeriod);
        }
        Map<Config, Upkeep> out = new EnumMap<>(Config.class);
        for (Config c : configs) {
            out.put(c, run(c));
        }
        return out;
    }

    void close() {
        loop.shutdownGracefully(0, 0, TimeUnit.SECONDS);
    }

    /** One configuration: spread the handlers over one timeout, settle for half of one, measure over one. */
    private Upkeep run(Config config) throws Exception {
        long start = System.nanoTime();
        Timeouts t = Timeouts.all(timeout);
        Stack stack = Stack.of(config, t, clock);
        ChannelHandler[][] handlers = new ChannelHandler[n][];
        int spreadSteps = (int) (timeout.toNanos() / stepNanos);
        int settleSteps = spreadSteps / 2;
        int measureSteps = spreadSteps;
        int[] added = {0};
        long[] totals = new long[2];
        for (int s = 0; s < spreadSteps + settleSteps + measureSteps; s++) {
            boolean spreading = s < spreadSteps;
            boolean measuring = s >= spreadSteps + settleSteps;
            int target = spreading ? (int) ((long) n * (s + 1) / spreadSteps) : n;
            loop.submit(() -> {
                for (int i = added[0]; i < target; i++) {
                    ChannelHandler[] hs = stack.newHandlers();
                    ChannelPipeline p = channels[i].pipeline();
                    for (int k = hs.length - 1; k >= 0; k--) {
                        p.addFirst(hs[k]);
                    }
                    handlers[i] = hs;
                }
                added[0] = target;
                traffic(added[0]);
                loop.advance(stepNanos);
                stepCount++;
                long c0 = Measure.cpuNanos();
                long a0 = Measure.allocatedBytes();
                loop.runDue();
                long c1 = Measure.cpuNanos();
                long a1 = Measure.allocatedBytes();
                if (measuring) {
                    totals[0] += c1 - c0;
                    totals[1] += a1 - a0;
                }
            }).sync();
        }
        long[] closed = {0};
        for (int from = 0; from < n; from += 10_000) {
            int begin = from;
            loop.submit(() -> {
                for (int i = begin; i < Math.min(n, begin + 10_000); i++) {
                    if (!channels[i].isActive()) {
                        closed[0]++;
                        channels[i] = reopen(i);
                    } else {
                        Stack.remove(channels[i].pipeline(), handlers[i]);
                    }
                }
            }).sync();
        }
        double seconds = measureSteps * (double) stepNanos / 1e9;
        return new Upkeep(totals[0] / 1e6 / seconds, totals[1] / seconds, closed[0],
                (System.nanoTime() - start) / 1e9);
    }

    /** A read batch and a write with flush on every channel whose turn this step is. */
    private void traffic(int upTo) {
        int slot = (int) (stepCount % activitySlots);
        for (int i = slot; i < upTo; i += activitySlots) {
            SimChannel ch = channels[i];
            ChannelPipeline p = ch.pipeline();
            p.fireChannelRead(buf);
            p.fireChannelReadComplete();
            ch.writeAndFlush(buf, ch.voidPromise());
        }
    }

    private SimChannel reopen(int i) {
        return newChannel();
    }

    /** A registered, active channel whose pipeline ends in a sink, so reads stop before the tail. Loop only. */
    private SimChannel newChannel() {
        SimChannel ch = new SimChannel();
        ch.pipeline().addLast(Handlers.InSink.INSTANCE);
        loop.register(ch);
        return ch;
    }
}
