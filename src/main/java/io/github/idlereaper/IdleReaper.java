package io.github.idlereaper;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import java.time.Duration;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Closes idle and stalled Netty connections. Build one with {@link #builder()}, then install it with one call:
 *
 * <pre>{@code
 * IdleReaper reaper = IdleReaper.builder()
 *         .readIdleTimeout(Duration.ofSeconds(60))
 *         .writeStallTimeout(Duration.ofSeconds(30))
 *         .build();
 *
 * ServerBootstrap b = new ServerBootstrap()
 *         .group(boss, workers)
 *         .channel(NioServerSocketChannel.class)
 *         .childHandler(new MyInitializer());
 * reaper.install(b);            // before bind(): every accepted channel gets the reaper first in its pipeline
 * b.bind(8080).sync();
 * }</pre>
 *
 * <p>Each channel gets its own small handler, first in its pipeline. Reads and writes only store a stamp; one
 * timer wheel per event loop checks the channels lazily when their deadlines come. When a timer runs out the
 * reaper fires a {@link ReapEvent} down the pipeline, flushes what the application wrote in answer (within the
 * goodbye timeout), closes the channel, counts the reap in {@link #stats()} and tells the {@link ReapListener}.
 *
 * <p>A reaper is immutable apart from its timeouts ({@link #updateTimeouts(IdleTimeouts)}) and thread-safe. One
 * reaper can serve many bootstraps and event loops.
 */
public final class IdleReaper {

    /** The name of the reaper's handler in every pipeline it is installed in. */
    public static final String HANDLER_NAME = "idleReaper";

    private static final Logger log = LoggerFactory.getLogger(IdleReaper.class);

    private final ReaperCore core;
    private final Duration tickResolution;
    private final Duration goodbyeTimeout;
    private final Object updateLock = new Object();
    private volatile IdleTimeouts timeouts;

    private IdleReaper(Builder b, IdleTimeouts timeouts, Duration tick) {
        this.timeouts = timeouts;
        this.tickResolution = tick;
        this.goodbyeTimeout = b.goodbyeTimeout;
        Ticker ticker = b.ticker != null ? b.ticker : Ticker.systemTicker();
        // The wheel ticks twice per resolution: a stamp is then at most half a resolution coarse, and placement
        // adds at most another half, so a reap is at most one resolution late.
        this.core = new ReaperCore(ticker, tick.toNanos() / 2, b.goodbyeTimeout.toNanos(), b.resetOnReap,
                b.listener, timeouts);
    }

    /** Returns a new builder. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Installs the reaper on a server: wraps the bootstrap's child handler so that every accepted channel gets the
     * reaper's handler first in its pipeline, ahead of whatever the child handler adds. Call it after
     * {@code childHandler(...)} and before {@code bind(...)}: a bootstrap that is already bound keeps using the
     * child handler it had.
     *
     * @throws NullPointerException if {@code bootstrap} is null
     * @throws IllegalStateException if the bootstrap has no child handler yet, or a reaper is already installed on it
     */
    public void install(ServerBootstrap bootstrap) {
        Objects.requireNonNull(bootstrap, "bootstrap");
        ChannelHandler child = bootstrap.config().childHandler();
        if (child == null) {
            throw new IllegalStateException(
                    "install(ServerBootstrap) needs a child handler: call childHandler(...) before install(...)");
        }
        if (child instanceof Installer) {
            throw new IllegalStateException("an IdleReaper is already installed on this ServerBootstrap");
        }
        bootstrap.childHandler(new Installer(this, child));
    }

    /**
     * Installs the reaper on a client: wraps the bootstrap's handler so that every connected channel gets the
     * reaper's handler first in its pipeline. Call it after {@code handler(...)} and before {@code connect(...)}.
     *
     * @throws NullPointerException if {@code bootstrap} is null
     * @throws IllegalStateException if the bootstrap has no handler yet, or a reaper is already installed on it
     */
    public void install(Bootstrap bootstrap) {
        Objects.requireNonNull(bootstrap, "bootstrap");
        ChannelHandler handler = bootstrap.config().handler();
        if (handler == null) {
            throw new IllegalStateException(
                    "install(Bootstrap) needs a handler: call handler(...) before install(...)");
        }
        if (handler instanceof Installer) {
            throw new IllegalStateException("an IdleReaper is already installed on this Bootstrap");
        }
        bootstrap.handler(new Installer(this, handler));
    }

    /**
     * Returns a new handler for a pipeline built by hand. Add it first, so that it sees raw inbound bytes and
     * every outbound write: {@code pipeline.addFirst(IdleReaper.HANDLER_NAME, reaper.newHandler())}. A handler
     * belongs to one channel; it is not sharable.
     */
    public ChannelHandler newHandler() {
        return core.newHandler();
    }

    /** The current idle timeouts. */
    public IdleTimeouts timeouts() {
        return timeouts;
    }

    /**
     * Replaces the idle timeouts of this running reaper. Every connection takes the new values at its next check,
     * which every event loop schedules at once. Thread-safe.
     *
     * @throws NullPointerException if {@code timeouts} is null
     * @throws IllegalArgumentException if an enabled timeout is shorter than {@link #tickResolution()}
     */
    public void updateTimeouts(IdleTimeouts timeouts) {
        Objects.requireNonNull(timeouts, "timeouts");
        timeouts.checkAgainstTick(tickResolution);
        synchronized (updateLock) {
            this.timeouts = timeouts;
            core.update(timeouts);
        }
        log.info("idle timeouts updated: {}", timeouts);
    }

    /**
     * How late, at most, a reap may come after its timeout runs out (one event-loop stall aside). Timeouts never
     * run out early.
     */
    public Duration tickResolution() {
        return tickResolution;
    }

    /** How long a reaped connection may take to flush its goodbye before it is closed regardless. */
    public Duration goodbyeTimeout() {
        return goodbyeTimeout;
    }

    /** A snapshot of the reaper's counters. Thread-safe. */
    public ReaperStats stats() {
        return core.stats();
    }

    /**
     * Marks one more unit of work in flight on {@code channel}, for example a request that was accepted and whose
     * response is not done yet. While any work is in flight the idle timers do not reap the channel; only the
     * write-stall timeout applies. Calls nest: each must be matched by one {@link #markIdle(Channel)}.
     * May be called from any thread; off the event loop the call hops onto it.
     *
     * @throws NullPointerException if {@code channel} is null
     * @throws IllegalStateException if no reaper handler is in the channel's pipeline
     */
    public static void markBusy(Channel channel) {
        onLoop(channel, true);
    }

    /**
     * Marks one unit of work done on {@code channel}. When no work is left in flight, the idle timers start again
     * from now. May be called from any thread; off the event loop the call hops onto it. An unmatched call is
     * logged at WARN and ignored.
     *
     * @throws NullPointerException if {@code channel} is null
     * @throws IllegalStateException if no reaper handler is in the channel's pipeline
     */
    public static void markIdle(Channel channel) {
        onLoop(channel, false);
    }

    private static void onLoop(Channel channel, boolean busy) {
        Objects.requireNonNull(channel, "channel");
        ChannelHandlerContext ctx = channel.pipeline().context(ReaperHandler.class);
        if (ctx == null) {
            throw new IllegalStateException("no IdleReaper handler in the pipeline of " + channel);
        }
        ReaperHandler h = (ReaperHandler) ctx.handler();
        if (ctx.executor().inEventLoop()) {
            h.busyChange(busy);
        } else {
            ctx.executor().execute(() -> h.busyChange(busy));
        }
    }

    ReaperCore core() {
        return core;
    }

    @Override
    public String toString() {
        return "IdleReaper(" + timeouts + ", tickResolution=" + tickResolution + ")";
    }

    /** Puts the reaper's handler first in each new channel's pipeline, after running the host's own handler. */
    @ChannelHandler.Sharable
    private static final class Installer extends ChannelInitializer<Channel> {
        private final IdleReaper reaper;
        private final ChannelHandler original;

        Installer(IdleReaper reaper, ChannelHandler original) {
            this.reaper = reaper;
            this.original = original;
        }

        @Override
        protected void initChannel(Channel ch) {
            ChannelPipeline p = ch.pipeline();
            // The host's initializer runs now, synchronously, so whatever it adds ends up behind the reaper.
            p.addLast(original);
            p.addFirst(HANDLER_NAME, reaper.newHandler());
        }
    }

    /**
     * Builds an {@link IdleReaper}. Every option has a default; each may be set once. Single values are checked
     * when set, rules that involve two options in {@link #build()}. Not thread-safe.
     */
    public static final class Builder {
        static final Duration MIN_TICK = Duration.ofMillis(10);
        static final Duration MAX_TICK = Duration.ofSeconds(1);
        static final Duration DEFAULT_GOODBYE = Duration.ofSeconds(1);
        static final Duration MAX_GOODBYE = Duration.ofSeconds(60);

        private final IdleTimeouts.Builder timeouts = IdleTimeouts.builder();
        private boolean readIdleSet;
        private boolean writeIdleSet;
        private boolean allIdleSet;
        private boolean writeStallSet;
        private Duration tickResolution;
        private Duration goodbyeTimeout = DEFAULT_GOODBYE;
        private boolean goodbyeSet;
        private Boolean resetOnReapSet;
        private boolean resetOnReap;
        private ReapListener listener;
        private Ticker ticker;

        private Builder() {
        }

        /**
         * Reaps a connection with no inbound bytes for {@code timeout}. Default {@link Duration#ZERO}, disabled.
         * Range: zero, or from the tick resolution to 30 days.
         *
         * @throws NullPointerException if {@code timeout} is null
         * @throws IllegalArgumentException if {@code timeout} is negative or longer than 30 days
         * @throws IllegalStateException if it was already set
         */
        public Builder readIdleTimeout(Duration timeout) {
            Checks.notSetTwice(readIdleSet, "readIdleTimeout", timeouts.build().readIdle());
            timeouts.readIdle(timeout);
            readIdleSet = true;
            return this;
        }

        /**
         * Reaps a connection with no outbound progress for {@code timeout}. A write by the application and bytes
         * leaving the socket (including a {@code FileRegion}'s progress) both count, so a slow consumer that is
         * still draining a large response is not idle. Default zero, disabled. Range: zero, or from the tick
         * resolution to 30 days.
         *
         * @throws NullPointerException if {@code timeout} is null
         * @throws IllegalArgumentException if {@code timeout} is negative or longer than 30 days
         * @throws IllegalStateException if it was already set
         */
        public Builder writeIdleTimeout(Duration timeout) {
            Checks.notSetTwice(writeIdleSet, "writeIdleTimeout", timeouts.build().writeIdle());
            timeouts.writeIdle(timeout);
            writeIdleSet = true;
            return this;
        }

        /**
         * Reaps a connection with neither inbound bytes nor outbound progress for {@code timeout}. Default zero,
         * disabled. Range: zero, or from the tick resolution to 30 days.
         *
         * @throws NullPointerException if {@code timeout} is null
         * @throws IllegalArgumentException if {@code timeout} is negative or longer than 30 days
         * @throws IllegalStateException if it was already set
         */
        public Builder allIdleTimeout(Duration timeout) {
            Checks.notSetTwice(allIdleSet, "allIdleTimeout", timeouts.build().allIdle());
            timeouts.allIdle(timeout);
            allIdleSet = true;
            return this;
        }

        /**
         * Reaps a connection whose flushed bytes wait in the outbound buffer with no flush progress for
         * {@code timeout}: the peer stopped reading. It applies even while the channel is marked busy. Default
         * zero, disabled. Range: zero, or from the tick resolution to 30 days.
         *
         * @throws NullPointerException if {@code timeout} is null
         * @throws IllegalArgumentException if {@code timeout} is negative or longer than 30 days
         * @throws IllegalStateException if it was already set
         */
        public Builder writeStallTimeout(Duration timeout) {
            Checks.notSetTwice(writeStallSet, "writeStallTimeout", timeouts.build().writeStall());
            timeouts.writeStall(timeout);
            writeStallSet = true;
            return this;
        }

        /**
         * Sets how late a reap may come after its timeout runs out; timeouts never run out early. Finer costs more
         * wheel ticks. Default: a tenth of the smallest enabled timeout, between 10 ms and 1 s (1 s when none is
         * enabled). Range: 10 ms to 1 s.
         *
         * @throws NullPointerException if {@code resolution} is null
         * @throws IllegalArgumentException if {@code resolution} is outside 10 ms to 1 s
         * @throws IllegalStateException if it was already set
         */
        public Builder tickResolution(Duration resolution) {
            Checks.notSetTwice(tickResolution != null, "tickResolution", tickResolution);
            tickResolution = Checks.range("tickResolution", resolution, MIN_TICK, MAX_TICK);
            return this;
        }

        /**
         * Sets how long a reaped connection may take to flush what the application wrote in answer to the
         * {@link ReapEvent} before it is closed regardless. A write-stall reap never waits: its peer does not
         * read. Default 1 s. {@link Duration#ZERO} closes at once. Range: zero to 60 s.
         *
         * @throws NullPointerException if {@code timeout} is null
         * @throws IllegalArgumentException if {@code timeout} is outside zero to 60 s
         * @throws IllegalStateException if it was already set
         */
        public Builder goodbyeTimeout(Duration timeout) {
            Checks.notSetTwice(goodbyeSet, "goodbyeTimeout", goodbyeTimeout);
            goodbyeTimeout = Checks.range("goodbyeTimeout", timeout, Duration.ZERO, MAX_GOODBYE);
            goodbyeSet = true;
            return this;
        }

        /**
         * Whether a reaped connection is reset (SO_LINGER 0, so the kernel sends RST and frees the socket's
         * buffers at once) instead of closed gracefully. Default false.
         *
         * @throws IllegalStateException if it was already set
         */
        public Builder resetOnReap(boolean reset) {
            Checks.notSetTwice(resetOnReapSet != null, "resetOnReap", resetOnReapSet);
            resetOnReapSet = reset;
            resetOnReap = reset;
            return this;
        }

        /**
         * Sets the listener told about every reap. Default none.
         *
         * @throws NullPointerException if {@code listener} is null
         * @throws IllegalStateException if it was already set
         */
        public Builder listener(ReapListener listener) {
            Objects.requireNonNull(listener, "listener");
            Checks.notSetTwice(this.listener != null, "listener", this.listener);
            this.listener = listener;
            return this;
        }

        /**
         * Sets the clock. Default {@link Ticker#systemTicker()}. Tests pass a ticker they move by hand.
         *
         * @throws NullPointerException if {@code ticker} is null
         * @throws IllegalStateException if it was already set
         */
        public Builder ticker(Ticker ticker) {
            Objects.requireNonNull(ticker, "ticker");
            Checks.notSetTwice(this.ticker != null, "ticker", this.ticker);
            this.ticker = ticker;
            return this;
        }

        /**
         * Builds the reaper.
         *
         * @throws IllegalArgumentException if an enabled timeout is shorter than the tick resolution
         */
        public IdleReaper build() {
            IdleTimeouts t = timeouts.build();
            Duration tick = tickResolution != null ? tickResolution : defaultTick(t);
            t.checkAgainstTick(tick);
            if (t.smallestEnabled().isZero()) {
                log.info("IdleReaper built with every idle timer disabled; enable one with updateTimeouts(...)");
            }
            return new IdleReaper(this, t, tick);
        }

        /** A tenth of the smallest enabled timeout, between 10 ms and 1 s. */
        static Duration defaultTick(IdleTimeouts t) {
            Duration smallest = t.smallestEnabled();
            if (smallest.isZero()) {
                return MAX_TICK;
            }
            Duration tenth = smallest.dividedBy(10);
            if (tenth.compareTo(MIN_TICK) < 0) {
                return MIN_TICK;
            }
            return tenth.compareTo(MAX_TICK) > 0 ? MAX_TICK : tenth;
        }
    }
}
