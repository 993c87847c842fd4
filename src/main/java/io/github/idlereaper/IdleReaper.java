package io.github.idlereaper;

import io.github.idlereaper.doctor.DoctorReport;
import io.github.idlereaper.doctor.IdleLimit;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.SocketChannel;
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
    /** The name of a heartbeat protocol's companion handler in the pipelines the reaper is installed in. */
    public static final String COMPANION_NAME = "idleReaperCompanion";
    /** The name of the HTTP layer's companion handler ({@link Builder#http()}) in the pipelines the reaper is installed in. */
    public static final String HTTP_NAME = "idleReaperHttp";
    /** The name of the peer-ping watch in the pipelines the reaper is installed in. */
    public static final String PEER_PINGS_NAME = "idleReaperPeerPings";

    private static final Logger log = LoggerFactory.getLogger(IdleReaper.class);

    private final ReaperCore core;
    private final Duration tickResolution;
    private final Duration goodbyeTimeout;
    private final Heartbeat heartbeat;

    private IdleReaper(Builder b, IdleTimeouts timeouts, Duration tick) {
        this.tickResolution = tick;
        this.goodbyeTimeout = b.goodbyeTimeout;
        Ticker ticker = b.ticker != null ? b.ticker : Ticker.systemTicker();
        // The wheel ticks twice per resolution: a stamp is then at most half a resolution coarse, and placement
        // adds at most another half, so a reap is at most one resolution late.
        this.core = new ReaperCore(ticker, tick.toNanos() / 2, b.goodbyeTimeout.toNanos(), b.resetOnReap,
                b.listener, timeouts, b.kernel);
        this.heartbeat = b.builtHeartbeat;
        core.heartbeat(b.builtHeartbeat, b.peerPingMin.toNanos());
        core.heartbeatIsActivity(Boolean.TRUE.equals(b.heartbeatIsActivitySet));
        core.http(b.builtHttp);
        core.lifecycle(b.builtLifecycle);
        core.advisor(Boolean.TRUE.equals(b.advisorSet));
        if (b.maxConnections > 0 || b.maxPerAddress > 0) {
            core.cap(new ConnectionCap(b.maxConnections, b.maxPerAddress, b.capPolicy));
        }
        if (b.pressureThreshold > 0) {
            if (b.pressureSource == null) {
                // The first sample (a count of the file descriptors) here, on the builder's thread, not on a loop.
                SystemPressure.INSTANCE.start();
            }
            core.pressure(new PressureScale(b.pressureSource != null ? b.pressureSource : PressureSource.system(),
                    b.pressureThreshold, b.pressureSaturation, b.pressureMinScale, b.evictAt, ticker.read()));
        }
    }

    /**
     * Returns a new builder.
     *
     * @return a new builder, with every option at its default
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Installs the reaper on a server: wraps the bootstrap's child handler so that every accepted channel gets the
     * reaper's handler first in its pipeline, ahead of whatever the child handler adds. Call it after
     * {@code childHandler(...)} and before {@code bind(...)}: a bootstrap that is already bound keeps using the
     * child handler it had.
     *
     * @param bootstrap the bootstrap, before bind() or connect()
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
     * @param bootstrap the bootstrap, before bind() or connect()
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
     * Returns a new handler for a pipeline built by hand, for servers whose bootstrap {@link #install} cannot reach
     * (Reactor Netty's {@code doOnChannelInit}, Spring WebFlux's {@code NettyServerCustomizer}, a host's own
     * {@code ChannelInitializer}). Add it first, so that it sees raw inbound bytes and every outbound write:
     * {@code pipeline.addFirst(IdleReaper.HANDLER_NAME, reaper.newHandler())}. Nothing else is needed: the handler
     * places what {@code install()} places behind the host's decoders (the heartbeat protocol's watch and
     * companion, the peer-ping watch, the {@link Builder#http() HTTP layer}) by itself, once the code that built the
     * pipeline has returned: at the channel's registration or activation, or at its first read or first check,
     * whichever comes first. A pipeline that also goes through {@code install()} gets each of them once. A handler
     * belongs to one channel; it is not sharable.
     *
     * @return a new handler for a pipeline built by hand
     */
    public ChannelHandler newHandler() {
        return core.newHandler();
    }

    /**
     * The current idle timeouts.
     *
     * @return the current idle timeouts
     */
    public IdleTimeouts timeouts() {
        return core.settings().timeouts;
    }

    /**
     * Replaces the idle timeouts of this running reaper. Every connection takes the new values at its next check,
     * which every event loop schedules at once. Thread-safe.
     *
     * @param timeouts the new idle timeouts
     * @throws NullPointerException if {@code timeouts} is null
     * @throws IllegalArgumentException if an enabled timeout is shorter than {@link #tickResolution()}, the
     *     heartbeat no longer fits inside the read or all idle timeout, or the write-stall timeout is longer than
     *     the reaper's TCP_USER_TIMEOUT
     */
    public void updateTimeouts(IdleTimeouts timeouts) {
        Objects.requireNonNull(timeouts, "timeouts");
        core.checkTimeouts(timeouts, tickResolution, heartbeat);
        core.update(timeouts);
        log.info("idle timeouts updated: {}", timeouts);
    }

    /**
     * How late, at most, a reap may come after its timeout runs out (one event-loop stall aside). Timeouts never
     * run out early.
     *
     * @return the tick resolution
     */
    public Duration tickResolution() {
        return tickResolution;
    }

    /**
     * How long a reaped connection may take to flush its goodbye before it is closed regardless.
     *
     * @return the goodbye timeout
     */
    public Duration goodbyeTimeout() {
        return goodbyeTimeout;
    }

    /**
     * Drains every connection the reaper watches, gracefully ({@link ReapReason#DRAIN}): each gets its protocol's
     * goodbye at its own moment within the builder's {@link Builder#drainSpread} (HTTP/1.1 {@code Connection:
     * close}, HTTP/2 GOAWAY, WebSocket Close 1001, MQTT 5 DISCONNECT 0x8B Server shutting down, a line protocol's
     * goodbye), its work in flight may finish within {@code grace}, and then it is closed. The returned future
     * completes when the last connection the reaper watches has closed: at most the spread plus the grace (plus a
     * tick and the goodbye timeout) after the call. Connections accepted while draining are drained at once, so
     * stop accepting first (close the server channel). A second call returns the first drain's future. Thread-safe.
     *
     * <p>A server's stop sequence: close the server channel, {@code reaper.drain(grace).get()}, then
     * {@code shutdownGracefully()} the event loop groups (docs/lifecycle.md).
     *
     * @param grace how long work in flight may go on
     * @return a future that completes when the last connection the reaper watched has closed
     * @throws NullPointerException if {@code grace} is null
     * @throws IllegalArgumentException if {@code grace} is negative or longer than 30 days
     */
    public java.util.concurrent.CompletableFuture<Void> drain(Duration grace) {
        return core.drain(Checks.timeout("grace", grace).toNanos());
    }

    /**
     * A snapshot of the reaper's counters. Thread-safe.
     *
     * @return the counters, as of now
     */
    public ReaperStats stats() {
        return core.stats();
    }

    /**
     * Examines this host for this reaper: reads the host's TCP keepalive and retransmission sysctls, its conntrack
     * timeout and the process's open-file limit (Linux {@code /proc}), works out the worst-case time each layer of
     * this reaper's current configuration takes to find a peer that vanished, and warns where a layer is slower
     * than the conntrack timeout or one of {@code limits}. The same as
     * {@link DoctorReport#examine(DetectionSettings, IdleLimit...)} with this reaper's {@link DetectionSettings};
     * the same report prints from the command line: {@code java -jar idle-reaper.jar doctor}. Reads a few small
     * files; thread-safe.
     *
     * @param limits the load balancers on the path, whose idle timeouts to check against
     * @return the report: the host's settings, each layer's worst case and the warnings
     * @throws NullPointerException if {@code limits} or one of them is null
     */
    public DoctorReport doctor(IdleLimit... limits) {
        Heartbeat hb = heartbeat();
        return DoctorReport.examine(DetectionSettings.of(timeouts(), tickResolution(), hb.interval(), hb.timeout(),
                hb.maxMissed(), core.kernel().options()), limits);
    }

    /**
     * The timeout advisor's report ({@link Builder#timeoutAdvisor}): from the gaps it recorded between inbound
     * application messages on connections that went on after them, the gap percentiles, how many of those silences
     * the current read idle timeout would have closed, the read idle timeout it recommends, and, for each load
     * balancer or firewall in {@code limits}, the longest heartbeat interval that keeps its idle flows alive. The
     * method and its limits are in {@link TimeoutAdvice} and docs/metrics-and-logging.md. Thread-safe.
     *
     * @param limits the load balancers on the path, whose idle timeouts the heartbeat must beat
     * @return the advice; its {@code toString()} is the report
     * @throws NullPointerException if {@code limits} or one of them is null
     * @throws IllegalStateException if the reaper was built without {@code timeoutAdvisor(true)}
     */
    public TimeoutAdvice advise(IdleLimit... limits) {
        Objects.requireNonNull(limits, "limits");
        for (IdleLimit l : limits) {
            Objects.requireNonNull(l, "limits contains null");
        }
        if (!core.advisor()) {
            throw new IllegalStateException("advise() needs the timeout advisor: build the reaper with "
                    + "timeoutAdvisor(true), which records the gaps between inbound messages");
        }
        return new TimeoutAdvice(core.stats(), timeouts(), heartbeat(), limits);
    }

    /**
     * Reads the TCP keepalive and TCP_USER_TIMEOUT values in effect on {@code channel}'s socket now, through its
     * transport. This shows what the kernel really uses, whether the reaper set the options
     * ({@link Builder#tcpKeepAlive}, {@link Builder#tcpUserTimeout}) or not. A value the transport cannot read is
     * empty. May be called from any thread; it makes a few getsockopt calls.
     *
     * @param channel the channel
     * @return the values in effect on the socket now
     * @throws NullPointerException if {@code channel} is null
     * @throws IllegalArgumentException if {@code channel} is not a TCP socket channel
     * @throws IllegalStateException if {@code channel} is closed
     */
    public static TcpSettings tcpSettings(Channel channel) {
        Objects.requireNonNull(channel, "channel");
        if (!(channel instanceof SocketChannel)) {
            throw new IllegalArgumentException("not a TCP socket channel: " + channel);
        }
        if (!channel.isOpen()) {
            throw new IllegalStateException("channel is closed: " + channel);
        }
        return KernelLayer.read(channel);
    }

    /**
     * Marks one more unit of work in flight on {@code channel}, for example a request that was accepted and whose
     * response is not done yet. While any work is in flight the idle timers do not reap the channel; the
     * write-stall timeout and the heartbeat still apply. Calls nest: each must be matched by one
     * {@link #markIdle(Channel)} (or use {@link #busy(Channel)}). It reaches every reaper installed on the channel.
     * May be called from any thread (off the event loop the call hops onto it) and at any time: on a closed channel
     * it does nothing.
     *
     * @param channel the channel
     * @throws NullPointerException if {@code channel} is null
     * @throws IllegalStateException if the channel is open and no reaper handler is in its pipeline
     */
    public static void markBusy(Channel channel) {
        ChannelControl.forEach(channel, ReaperHandler::busy);
    }

    /**
     * Marks one unit of work done on {@code channel}. When no work is left in flight, the idle timers start again
     * from now: finished work is activity (it does not prove the peer alive, so a heartbeat that is probing goes
     * on). An unmatched call is logged at WARN and ignored. It reaches every reaper installed on the channel. May be
     * called from any thread (off the event loop the call hops onto it) and at any time: on a closed channel it does
     * nothing.
     *
     * @param channel the channel
     * @throws NullPointerException if {@code channel} is null
     * @throws IllegalStateException if the channel is open and no reaper handler is in its pipeline
     */
    public static void markIdle(Channel channel) {
        ChannelControl.forEach(channel, ReaperHandler::idle);
    }

    /**
     * Marks one unit of work in flight on {@code channel}, as {@link #markBusy(Channel)} does, and returns a token
     * whose {@link Busy#close()} marks it done exactly once, from any thread: a second close does nothing.
     *
     * @param channel the channel
     * @return a token whose {@link Busy#close()} marks the work done
     * @throws NullPointerException if {@code channel} is null
     * @throws IllegalStateException if the channel is open and no reaper handler is in its pipeline
     */
    public static Busy busy(Channel channel) {
        markBusy(channel);
        return new Busy(channel);
    }

    /**
     * The heartbeat every channel starts with; {@link Heartbeat#DISABLED} when none was set.
     *
     * @return the heartbeat every channel starts with; {@link Heartbeat#DISABLED} when none was set
     */
    public Heartbeat heartbeat() {
        return heartbeat;
    }

    /**
     * Replaces the idle timeouts of one channel, for example once a WebSocket upgrade or an MQTT CONNECT has told
     * the host what the connection is. The channel keeps them (and ignores later
     * {@link #updateTimeouts(IdleTimeouts)}) until it closes or they are overridden again; its heartbeat, unless
     * overridden too, still follows the reaper's. The timers restart their check at the next tick; time already idle
     * counts against the new values. It reaches every reaper installed on the channel. May be called from any
     * thread (off the event loop the call hops onto it) and at any time: on a closed channel it does nothing. The
     * rules are checked on the caller's thread against the channel's settings, and once more on the event loop
     * against what is in effect there (another override may have come first): an override that breaks them there
     * is refused with a WARN.
     *
     * @param channel the channel
     * @param timeouts the channel's idle timeouts
     * @throws NullPointerException if an argument is null
     * @throws IllegalStateException if the channel is open and no reaper handler is in its pipeline
     * @throws IllegalArgumentException if an enabled timeout is shorter than the reaper's tick resolution, the
     *     channel's heartbeat would not fit inside the read or all idle timeout, or the write-stall timeout is
     *     longer than the reaper's TCP_USER_TIMEOUT
     */
    public static void overrideTimeouts(Channel channel, IdleTimeouts timeouts) {
        Objects.requireNonNull(timeouts, "timeouts");
        ChannelHandlerContext ctx = ChannelControl.context(channel);
        if (ctx == null) {
            return;
        }
        ReaperHandler h = (ReaperHandler) ctx.handler();
        h.core().checkTimeouts(timeouts, h.tickResolution(), h.settings().heartbeat);
        ChannelControl.forEach(channel, r -> r.override(timeouts, null));
    }

    /**
     * Replaces the heartbeat of one channel, or turns it off with {@link Heartbeat#DISABLED}; the new heartbeat
     * starts with the channel counted active. The channel's timeouts, unless overridden too, still follow the
     * reaper's. The protocol's companion and watch are those installed with the channel: a new protocol changes
     * pings and goodbyes only. It reaches every reaper installed on the channel. Thread-safety and rule checks as
     * for {@link #overrideTimeouts}.
     *
     * @param channel the channel
     * @param heartbeat the channel's heartbeat, or {@link Heartbeat#DISABLED} for none
     * @throws NullPointerException if an argument is null
     * @throws IllegalStateException if the channel is open and no reaper handler is in its pipeline
     * @throws IllegalArgumentException if the interval or timeout is shorter than the reaper's tick resolution, or
     *     the heartbeat would not fit inside the channel's read or all idle timeout
     */
    public static void overrideHeartbeat(Channel channel, Heartbeat heartbeat) {
        Objects.requireNonNull(heartbeat, "heartbeat");
        ChannelHandlerContext ctx = ChannelControl.context(channel);
        if (ctx == null) {
            return;
        }
        ReaperHandler h = (ReaperHandler) ctx.handler();
        heartbeat.checkAgainstTick(h.tickResolution());
        heartbeat.checkFitsInside(h.settings().timeouts);
        ChannelControl.forEach(channel, r -> r.override(null, heartbeat));
    }

    /**
     * The idle timeouts in effect on {@code channel} (for the first reaper in its pipeline): the reaper's, or the
     * channel's override. Thread-safe; off the event loop it may miss an override being applied at that moment.
     *
     * @param channel the channel
     * @return the idle timeouts in effect on the channel
     * @throws NullPointerException if {@code channel} is null
     * @throws IllegalStateException if no reaper handler is in the channel's pipeline
     */
    public static IdleTimeouts channelTimeouts(Channel channel) {
        return ChannelControl.handler(channel).settings().timeouts;
    }

    /**
     * The heartbeat in effect on {@code channel} (for the first reaper in its pipeline): the reaper's, or the
     * channel's override. Thread-safe in the same way as {@link #channelTimeouts(Channel)}.
     *
     * @param channel the channel
     * @return the heartbeat in effect on the channel
     * @throws NullPointerException if {@code channel} is null
     * @throws IllegalStateException if no reaper handler is in the channel's pipeline
     */
    public static Heartbeat channelHeartbeat(Channel channel) {
        return ChannelControl.handler(channel).settings().heartbeat;
    }

    /** Adds the heartbeat protocol's per-channel handlers behind {@code reaperHandler}, as install() does. */
    void addWatchers(Channel ch, ChannelHandler reaperHandler) {
        Installer.addWatchers(core, ch, (ReaperHandler) reaperHandler);
    }

    ReaperCore core() {
        return core;
    }

    @Override
    public String toString() {
        return "IdleReaper(" + timeouts() + ", tickResolution=" + tickResolution + ")";
    }

    /**
     * Builds an {@link IdleReaper}. Every option has a default; each may be set once. Single values are checked
     * when set, rules that involve two options in {@link #build()}. Not thread-safe.
     */
    public static final class Builder {
        static final Duration MIN_TICK = IdleTimeouts.MIN_TICK;
        static final Duration MAX_TICK = IdleTimeouts.MAX_TICK;
        static final Duration DEFAULT_GOODBYE = Duration.ofSeconds(1);
        static final Duration MAX_GOODBYE = Duration.ofSeconds(60);
        static final Duration MIN_PEER_PING = Duration.ofMillis(1);
        static final Duration DEFAULT_KEEPALIVE = Duration.ofSeconds(75);
        static final Duration DEFAULT_REQUEST_HEADER = Duration.ofSeconds(60);
        static final Duration DEFAULT_REQUEST_BODY = Duration.ofSeconds(60);
        static final int DEFAULT_MAX_REQUESTS = 1000;

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
        private KernelOptions kernel = KernelOptions.NONE;
        private Duration hbInterval;
        private Duration hbTimeout;
        private int hbMaxMissed;
        private HeartbeatProtocol hbProtocol;
        private Duration peerPingMin = Duration.ZERO;
        private boolean peerPingSet;
        private Boolean heartbeatIsActivitySet;
        private Heartbeat builtHeartbeat = Heartbeat.DISABLED;
        private boolean http;
        private Duration keepAliveTimeout = DEFAULT_KEEPALIVE;
        private boolean keepAliveSet;
        private Duration requestHeaderTimeout = DEFAULT_REQUEST_HEADER;
        private boolean requestHeaderSet;
        private Duration requestBodyTimeout = DEFAULT_REQUEST_BODY;
        private boolean requestBodySet;
        private int maxRequests = DEFAULT_MAX_REQUESTS;
        private boolean maxRequestsSet;
        private HttpSettings builtHttp;
        private Duration halfCloseTimeout = Duration.ZERO;
        private boolean halfCloseSet;
        private Boolean dryRunSet;
        private Boolean advisorSet;
        private Duration maxAge = Duration.ZERO;
        private boolean maxAgeSet;
        private double ageJitter = LifecycleSettings.DEFAULT_AGE_JITTER;
        private boolean ageJitterSet;
        private Duration ageGrace = LifecycleSettings.DEFAULT_AGE_GRACE;
        private boolean ageGraceSet;
        private Duration drainSpread = Duration.ZERO;
        private boolean drainSpreadSet;
        private int closeRate;
        private int closeBurst;
        private boolean closeRateSet;
        private LifecycleSettings builtLifecycle = LifecycleSettings.NONE;
        private int maxConnections;
        private CapPolicy capPolicy = CapPolicy.REJECT;
        private boolean maxConnectionsSet;
        private int maxPerAddress;
        private boolean maxPerAddressSet;
        private double pressureThreshold;
        private double pressureSaturation;
        private double pressureMinScale;
        private PressureSource pressureSource;
        private double evictAt;

        private Builder() {
        }

        /**
         * Reaps a connection with no inbound bytes for {@code timeout}. Default {@link Duration#ZERO}, disabled.
         * Range: zero, or from the tick resolution to 30 days.
         *
         * @param timeout the timeout (its default, range and disabled value are given above)
         * @return this builder
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
         * @param timeout the timeout (its default, range and disabled value are given above)
         * @return this builder
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
         * @param timeout the timeout (its default, range and disabled value are given above)
         * @return this builder
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
         * Reaps a connection whose flushed bytes wait in the outbound buffer with no progress for {@code timeout}:
         * the peer stopped reading. It applies even while the channel is marked busy. Default zero, disabled.
         * Range: zero, or from the tick resolution to 30 days; in {@link #build()}, no longer than
         * {@link #tcpUserTimeout} when both are set.
         *
         * <p>Progress is measured where the transport lets the reaper see it. On epoll and io_uring (Netty 4.2) the
         * socket itself says when it last sent new data to the peer ({@code TCP_INFO}), so a slow reader that keeps
         * reading is never stalled. On NIO (and Netty 4.1's incubator io_uring, and kqueue) only Netty's buffer is
         * seen, and it drains only when the kernel has sent about a third of its send buffer: set
         * {@code SO_SNDBUF} explicitly (which turns the kernel's autotuning off) and choose {@code timeout} at least
         * {@code SO_SNDBUF} divided by the slowest reader's rate you want to keep. On every transport, choose it
         * longer than a healthy reader's window stays shut, which the reader's own kernel decides: 8 to 16 s for an
         * 8 KiB/s Linux reader with default buffers (docs/configuration.md).
         *
         * @param timeout the timeout (its default, range and disabled value are given above)
         * @return this builder
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
         * wheel ticks. Default: a tenth of the smallest enabled timeout or heartbeat timeout, between 10 ms and 1 s
         * (100 ms when none is enabled, so that {@link IdleReaper#updateTimeouts} can enable timeouts from 100 ms
         * later). Range: 10 ms to 1 s.
         *
         * @param resolution the tick resolution
         * @return this builder
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
         * @param timeout the timeout (its default, range and disabled value are given above)
         * @return this builder
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
         * @param reset whether to reset reaped connections rather than close them
         * @return this builder
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
         * @param listener the listener; it runs on the channel's event loop and must not block
         * @return this builder
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
         * @param ticker the clock
         * @return this builder
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
         * Turns on the kernel's TCP keepalive on every channel the reaper watches: SO_KEEPALIVE, with TCP_KEEPIDLE
         * {@code idle}, TCP_KEEPINTVL {@code interval} and TCP_KEEPCNT {@code count}. When an idle connection has
         * received nothing for {@code idle}, the kernel sends a probe every {@code interval}; after {@code count}
         * unanswered probes it drops the connection, and the reaper closes the channel as
         * {@link ReapReason#DEAD_PEER}: within idle + interval × count of the peer vanishing. Probes also keep load
         * balancer and conntrack state alive, so {@code idle} should be below the shortest idle limit on the path
         * (see {@link IdleReaper#doctor(IdleLimit...)}). Keepalive does not run while sent data is unacknowledged;
         * {@link #tcpUserTimeout(Duration)} covers that case.
         *
         * <p>Applied when each accepted (server) or connected (client) channel registers with the reaper, on NIO
         * (through {@code jdk.net.ExtendedSocketOptions}), epoll, io_uring and kqueue; none of the native transports
         * is needed at compile time. The values are read back: one that is not in effect is logged once per
         * transport at WARN and counted in {@link ReaperStats#tcpMismatches()}.
         *
         * <p>Default: not set; the reaper leaves SO_KEEPALIVE as the application set it, and the kernel's defaults
         * (net.ipv4.tcp_keepalive_time 7200 s on Linux) apply where it is on. Range, in whole seconds (the kernel's
         * unit): {@code idle} and {@code interval} 1 to 32767 s, {@code count} 1 to 127.
         *
         * @param idle how long a connection is idle before the kernel probes it (TCP_KEEPIDLE)
         * @param interval the time between probes (TCP_KEEPINTVL)
         * @param count how many unanswered probes make the peer dead (TCP_KEEPCNT)
         * @return this builder
         * @throws NullPointerException if {@code idle} or {@code interval} is null
         * @throws IllegalArgumentException if a value is not whole seconds or outside its range
         * @throws IllegalStateException if it was already set
         */
        public Builder tcpKeepAlive(Duration idle, Duration interval, int count) {
            Checks.notSetTwice(kernel.keepAliveSet(), "tcpKeepAlive", kernel.keepAliveText());
            kernel = kernel.withKeepAlive(idle, interval, count);
            return this;
        }

        /**
         * Sets TCP_USER_TIMEOUT on every channel the reaper watches: how long sent data may stay unacknowledged
         * before the kernel drops the connection, and the reaper closes the channel as {@link ReapReason#DEAD_PEER}.
         * Without it, a peer that vanishes while the server is writing is found only after the host's
         * net.ipv4.tcp_retries2 retransmissions, about 15 minutes by default. With {@link #tcpKeepAlive} also set,
         * Linux uses it in place of the keepalive probe count.
         *
         * <p>Linux only: applied on epoll and io_uring. NIO has no such option (the JDK offers none) and neither
         * has kqueue; there it is logged once at WARN and counted in {@link ReaperStats#tcpMismatches()}.
         *
         * <p>Linux 5.11 and later apply it to a shut receive window too: a peer whose window stays shut (a slow
         * reader between two reads) for longer than {@code timeout} is dropped, although it answers every probe;
         * and a reader that stays slower than the server is dropped about {@code timeout} after its first
         * zero-window probe, however steadily it reads. So in {@link #build()} it must be at least
         * {@link #writeStallTimeout}, which judges such a reader by its progress, and servers that stream to
         * readers that may be slower than them should leave it unset (docs/tcp-keepalive.md).
         *
         * <p>Default: not set; the kernel's retransmission limit applies. {@link Duration#ZERO} means not set.
         * Range: zero, or 1 ms to 24 h, in whole milliseconds (the kernel's unit).
         *
         * @param timeout the timeout (its default, range and disabled value are given above)
         * @return this builder
         * @throws NullPointerException if {@code timeout} is null
         * @throws IllegalArgumentException if {@code timeout} is negative, not whole milliseconds, or above 24 h
         * @throws IllegalStateException if it was already set
         */
        public Builder tcpUserTimeout(Duration timeout) {
            Checks.notSetTwice(kernel.userTimeoutSet(), "tcpUserTimeout", kernel.userTimeout());
            kernel = kernel.withUserTimeout(timeout);
            return this;
        }

        /**
         * Probes a quiet peer before reaping it. After {@code interval} with nothing inbound the reaper writes the
         * protocol's ping from the tail of the pipeline (so the host's encoders apply). Any inbound byte afterwards
         * proves the peer alive, not only the pong. {@code timeout} passing after a ping with nothing inbound is a
         * miss; below {@code maxMissed} the reaper pings again, at {@code maxMissed} it reaps the channel with
         * {@link ReapReason#HEARTBEAT_TIMEOUT}, after the protocol's goodbye. A silent peer is thus reaped within
         * interval + timeout × maxMissed (plus one tick resolution, and the event loop's lag at each ping; see
         * {@link ReaperStats#maxLoopLag()}). A connection that has received nothing at all since it opened is
         * first pinged at a random point of its first interval, so that connections opened
         * together do not ping together; after its first inbound byte, a ping comes only after a whole interval
         * with nothing inbound. Pings run while the channel is marked busy too.
         *
         * <p>The heartbeat proves the peer alive; it does not make the connection active. The reaper's own pings
         * never count as activity, and where the protocol recognises its heartbeat frames
         * ({@link HeartbeatProtocol#isHeartbeat}: WebSocket, HTTP/2 with the frame codec, {@code LineHeartbeat} with
         * a recognised pong) neither do the peer's pings and pongs: a peer that only answers pings is still reaped
         * by the read, write or all idle timeout. {@link #heartbeatIsActivity(boolean)} restores the other rule.
         *
         * <p>Default: none. {@code interval} {@link Duration#ZERO} sends no pings but still uses the protocol's
         * goodbyes, companion and peer-ping recognition (for example MQTT, whose server never pings); then
         * {@code timeout} must be zero and {@code maxMissed} 1. Range: interval zero, or from the tick resolution to
         * 30 days; timeout from the tick resolution to below the interval; maxMissed 1 to
         * {@value Heartbeat#MAX_MISSED}. In {@link #build()}: the timeout must be less than the interval, and
         * interval + timeout × maxMissed must not exceed the read or all idle timeout that it protects, unless that
         * timeout is disabled; the protocol's run-time needs ({@link HeartbeatProtocol#checkAvailable()}, such as
         * Netty's optional codec module) must be on the class path.
         *
         * @param interval how long the peer may be silent before a ping
         * @param timeout the timeout (its default, range and disabled value are given above)
         * @param maxMissed how many pings in a row may go unanswered before the reaper reaps
         * @param protocol the protocol's ping, pong recognition and goodbye (see the {@code protocol} package)
         * @return this builder
         * @throws NullPointerException if {@code interval}, {@code timeout} or {@code protocol} is null
         * @throws IllegalArgumentException if a duration is negative or longer than 30 days, or {@code maxMissed}
         *     is outside 1 to {@value Heartbeat#MAX_MISSED}
         * @throws IllegalStateException if it was already set
         */
        public Builder heartbeat(Duration interval, Duration timeout, int maxMissed, HeartbeatProtocol protocol) {
            Checks.notSetTwice(hbProtocol != null, "heartbeat", builtHeartbeatText());
            Heartbeat.checkValues(interval, timeout, maxMissed, protocol);
            hbInterval = interval;
            hbTimeout = timeout;
            hbMaxMissed = maxMissed;
            hbProtocol = protocol;
            return this;
        }

        private String builtHeartbeatText() {
            return "(interval=" + hbInterval + ", timeout=" + hbTimeout + ", maxMissed=" + hbMaxMissed
                    + ", protocol=" + hbProtocol + ")";
        }

        /** Strikes a peer may collect for pinging too often before it is reaped; as in gRPC. */
        public static final int PEER_PING_STRIKES = 2;

        /**
         * Enforces a minimum interval between the peer's own pings, like gRPC's {@code permitKeepAliveTime}: a
         * ping that comes sooner than {@code minInterval} after the previous one is a strike, a ping at the
         * permitted rate clears them, and the ping after {@value #PEER_PING_STRIKES} strikes reaps the channel
         * with {@link ReapReason#PING_ABUSE}, after the protocol's goodbye (HTTP/2: GOAWAY ENHANCE_YOUR_CALM
         * {@code too_many_pings}). Pings are recognised by {@link HeartbeatProtocol#isPeerPing(Object)}, in a
         * small handler placed after the protocol's decoder; acknowledgements of the reaper's own pings never
         * count. Default {@link Duration#ZERO}: not enforced. Range: zero, or from 1 ms to 30 days. In
         * {@link #build()}: needs a {@link #heartbeat} whose protocol recognises peer pings
         * ({@link HeartbeatProtocol#recognizesPeerPings()}).
         *
         * @param minInterval the shortest interval between the peer's pings that is allowed
         * @return this builder
         * @throws NullPointerException if {@code minInterval} is null
         * @throws IllegalArgumentException if {@code minInterval} is negative, between zero and 1 ms, or longer
         *     than 30 days
         * @throws IllegalStateException if it was already set
         */
        public Builder permitPeerPings(Duration minInterval) {
            Checks.notSetTwice(peerPingSet, "permitPeerPings", peerPingMin);
            peerPingMin = Checks.timeout("permitPeerPings", minInterval);
            if (!minInterval.isZero()) {
                Checks.range("permitPeerPings", minInterval, MIN_PEER_PING, Checks.MAX_TIMEOUT);
            }
            peerPingSet = true;
            return this;
        }

        /**
         * Whether the heartbeat frames a protocol recognises (the peer's pings and pongs) count as activity after
         * all, so that a peer that answers pings, or pings, keeps an idle connection open: the rule of Armeria's
         * {@code keepAliveOnPing}. Default false: they prove the peer alive and do not reset the idle timers, as
         * gRPC's {@code maxConnectionIdle} and Armeria's {@code idleTimeout} have it. Without a protocol that
         * recognises its frames every byte counts as activity either way.
         *
         * @param countsAsActivity whether heartbeat frames reset the idle timers
         * @return this builder
         * @throws IllegalStateException if it was already set
         */
        public Builder heartbeatIsActivity(boolean countsAsActivity) {
            Checks.notSetTwice(heartbeatIsActivitySet != null, "heartbeatIsActivity", heartbeatIsActivitySet);
            heartbeatIsActivitySet = countsAsActivity;
            return this;
        }

        /**
         * Turns on the HTTP layer with its defaults: for HTTP/1.1 and HTTP/2 servers, the reaper tracks requests in
         * flight (the idle timers hold off while any is), and adds {@link #keepAliveTimeout},
         * {@link #requestHeaderTimeout}, {@link #requestBodyTimeout} and {@link #maxRequestsPerConnection}. It puts
         * a small companion handler right after the host's HTTP codec ({@code HttpServerCodec},
         * {@code HttpRequestDecoder} with {@code HttpResponseEncoder}, {@code Http2FrameCodec} or another
         * {@code Http2ConnectionHandler}), and follows pipelines that an h2c upgrade, h2c prior knowledge or TLS
         * ALPN rebuild after the connection opened. After a {@code 101 Switching Protocols} (WebSocket) the HTTP
         * timers stop, and the heartbeat takes over. Setting any HTTP option turns the layer on too; calling this
         * again changes nothing. In {@link #build()}: Netty's {@code netty-codec-http} must be on the class path.
         * See docs/http.md.
         *
         * @return this builder
         */
        public Builder http() {
            http = true;
            return this;
        }

        /**
         * HTTP: closes a connection with no request in flight after this long without the first byte of the next
         * request, like nginx's {@code keepalive_timeout} and Go's {@code IdleTimeout} ({@link
         * ReapReason#KEEPALIVE_TIMEOUT}, without a response). It counts from the flush of the last response, and
         * not while its bytes still wait to be sent. On HTTP/2, from the moment no stream is open; the goodbye is
         * GOAWAY NO_ERROR. Turns on the {@link #http()} layer. Default 75 s, as nginx: longer than the 60 s idle
         * timeout of the load balancers that most often sit in front (AWS ALB), so that the balancer, not the
         * server, closes first. Range: zero (disabled), or from the tick resolution to 30 days.
         *
         * @param timeout the timeout (its default, range and disabled value are given above)
         * @return this builder
         * @throws NullPointerException if {@code timeout} is null
         * @throws IllegalArgumentException if {@code timeout} is negative or longer than 30 days
         * @throws IllegalStateException if it was already set
         */
        public Builder keepAliveTimeout(Duration timeout) {
            Checks.notSetTwice(keepAliveSet, "keepAliveTimeout", keepAliveTimeout);
            keepAliveTimeout = Checks.timeout("keepAliveTimeout", timeout);
            keepAliveSet = true;
            http = true;
            return this;
        }

        /**
         * HTTP/1.1: a deadline from a request's first byte to the end of its headers, like nginx's
         * {@code client_header_timeout} and Go's {@code ReadHeaderTimeout}; bytes that trickle in do not extend it.
         * A connection's first request counts from the accept (which includes a TLS handshake). When it expires the
         * reaper answers {@code 408 Request Timeout} with {@code Connection: close}, flushes it within the goodbye
         * timeout, and closes ({@link ReapReason#REQUEST_HEADER_TIMEOUT}); a connection that sent nothing is closed
         * without a response. Turns on the {@link #http()} layer. Default 60 s, as nginx. Range: zero (disabled),
         * or from the tick resolution to 30 days.
         *
         * @param timeout the timeout (its default, range and disabled value are given above)
         * @return this builder
         * @throws NullPointerException if {@code timeout} is null
         * @throws IllegalArgumentException if {@code timeout} is negative or longer than 30 days
         * @throws IllegalStateException if it was already set
         */
        public Builder requestHeaderTimeout(Duration timeout) {
            Checks.notSetTwice(requestHeaderSet, "requestHeaderTimeout", requestHeaderTimeout);
            requestHeaderTimeout = Checks.timeout("requestHeaderTimeout", timeout);
            requestHeaderSet = true;
            http = true;
            return this;
        }

        /**
         * HTTP/1.1: closes a connection whose request body made no progress (no byte came in) for this long, like
         * nginx's {@code client_body_timeout}, with {@code 408 Request Timeout} and {@code Connection: close} unless
         * the response has begun ({@link ReapReason#REQUEST_BODY_TIMEOUT}). It runs from the end of the headers,
         * so the wait for {@code 100 Continue} counts, and starts again when the server sends {@code 100 Continue}.
         * Turns on the {@link #http()} layer. Default 60 s, as nginx. Range: zero (disabled), or from the tick
         * resolution to 30 days.
         *
         * @param timeout the timeout (its default, range and disabled value are given above)
         * @return this builder
         * @throws NullPointerException if {@code timeout} is null
         * @throws IllegalArgumentException if {@code timeout} is negative or longer than 30 days
         * @throws IllegalStateException if it was already set
         */
        public Builder requestBodyTimeout(Duration timeout) {
            Checks.notSetTwice(requestBodySet, "requestBodyTimeout", requestBodyTimeout);
            requestBodyTimeout = Checks.timeout("requestBodyTimeout", timeout);
            requestBodySet = true;
            http = true;
            return this;
        }

        /**
         * HTTP: the most requests one connection serves, like nginx's {@code keepalive_requests}
         * ({@link ReapReason#MAX_REQUESTS}). HTTP/1.1: the response to the last one carries {@code Connection: close}
         * and the connection closes once it is flushed. HTTP/2: streams count; when the peer opens the last one the
         * reaper sends GOAWAY with its id, lets the open streams finish within the goodbye timeout, then closes.
         * Turns on the {@link #http()} layer. Default 1000, as nginx. Range: zero (no limit), or 1 to
         * {@value Integer#MAX_VALUE}.
         *
         * @param max the most requests on one connection; 0 for no limit
         * @return this builder
         * @throws IllegalArgumentException if {@code max} is negative
         * @throws IllegalStateException if it was already set
         */
        public Builder maxRequestsPerConnection(int max) {
            Checks.notSetTwice(maxRequestsSet, "maxRequestsPerConnection", maxRequests);
            maxRequests = Checks.range("maxRequestsPerConnection", max, 0, Integer.MAX_VALUE);
            maxRequestsSet = true;
            http = true;
            return this;
        }

        /**
         * Closes a connection whose peer shut its output (a FIN: a half-close) once it has had no outbound activity
         * and no work in flight for this long ({@link ReapReason#HALF_CLOSED}), like HAProxy's
         * {@code timeout client-fin}. The timer starts at the FIN and again at each outbound write, and holds off
         * while work is in flight or flushed bytes wait to be sent (the write-stall timeout covers a peer that
         * stops reading). Only channels with {@code ChannelOption.ALLOW_HALF_CLOSURE} see a half-close: Netty
         * closes the others itself at the FIN, and the reaper says so once, at WARN, on the first such channel.
         * Default {@link Duration#ZERO}, disabled. Range: zero, or from the tick resolution to 30 days.
         *
         * @param timeout the timeout (its default, range and disabled value are given above)
         * @return this builder
         * @throws NullPointerException if {@code timeout} is null
         * @throws IllegalArgumentException if {@code timeout} is negative or longer than 30 days
         * @throws IllegalStateException if it was already set
         */
        public Builder halfCloseTimeout(Duration timeout) {
            Checks.notSetTwice(halfCloseSet, "halfCloseTimeout", halfCloseTimeout);
            halfCloseTimeout = Checks.timeout("halfCloseTimeout", timeout);
            halfCloseSet = true;
            return this;
        }

        /**
         * A dry run: every timer and rule runs, and each decision to close is reported, but no goodbye is sent and
         * nothing is closed. The {@link ReapEvent} (fired down the pipeline, with {@link ReapEvent#dryRun()} true),
         * the {@link ReapListener}, the stats ({@link ReaperStats#wouldReap(ReapReason)}) and the DEBUG line
         * ("would reap") see it, once per idle episode: again only after the connection was in use in between. Pings
         * are still sent, so a heartbeat can be tried too. A kernel's dead-peer verdict is reported the same way; the
         * socket has failed, and Netty may close it on its own. Use it to try new timeouts on production traffic
         * before enforcing them. Default false.
         *
         * @param dryRun whether to report decisions only, sending and closing nothing
         * @return this builder
         * @throws IllegalStateException if it was already set
         */
        public Builder dryRun(boolean dryRun) {
            Checks.notSetTwice(dryRunSet != null, "dryRun", dryRunSet);
            dryRunSet = dryRun;
            return this;
        }

        /**
         * Records, for {@link IdleReaper#advise}, the gaps between inbound application messages on every connection
         * (in powers of two of the wheel's tick, one small array per event loop), and counts those longer than the
         * read idle timeout: how long healthy connections really stay silent, and how many the timeout would have
         * closed. The read path then does a subtraction and an array increment, at most once per tick per
         * connection, and allocates nothing (docs/performance.md). {@link ReaperStats#gapPercentile},
         * {@link ReaperStats#gapsOverReadIdle} and {@link IdleReaperMetrics} show it too. Default false.
         *
         * @param on whether to record the gaps
         * @return this builder
         * @throws IllegalStateException if it was already set
         */
        public Builder timeoutAdvisor(boolean on) {
            Checks.notSetTwice(advisorSet != null, "timeoutAdvisor", advisorSet);
            advisorSet = on;
            return this;
        }

        /**
         * A deadline from the accept after which a connection is retired ({@link ReapReason#MAX_AGE}), however
         * active, like gRPC's {@code maxConnectionAge} and Envoy's {@code max_connection_duration}: clients
         * reconnect, and a fleet rebalances after a deploy. Each connection's limit is jittered (see
         * {@link #maxConnectionAgeJitter}). At its age the connection is told in its protocol's words: HTTP/1.1
         * {@code Connection: close} on the response in flight or the next (closed at once with none in flight),
         * HTTP/2 GOAWAY (last stream id 2³¹−1 with a PING, then the real last stream id), WebSocket Close 1001, MQTT
         * 5 DISCONNECT 0x9C (Use another server), a line protocol's goodbye. Its work in flight may then finish
         * within {@link #maxConnectionAgeGrace}. Default {@link Duration#ZERO}, disabled. Range: zero, or from the
         * tick resolution to 30 days. Costs 24 bytes per connection while on (docs/lifecycle.md).
         *
         * @param age how long after its accept a connection is retired
         * @return this builder
         * @throws NullPointerException if {@code age} is null
         * @throws IllegalArgumentException if {@code age} is negative or longer than 30 days
         * @throws IllegalStateException if it was already set
         */
        public Builder maxConnectionAge(Duration age) {
            Checks.notSetTwice(maxAgeSet, "maxConnectionAge", maxAge);
            maxAge = Checks.timeout("maxConnectionAge", age);
            maxAgeSet = true;
            return this;
        }

        /**
         * The jitter of each connection's {@link #maxConnectionAge}, a fraction either way: the limit is drawn
         * uniformly from {@code age × (1 − jitter)} to {@code age × (1 + jitter)}, so connections accepted together
         * (after a deploy) do not all retire together. Default 0.1 (±10 %, as gRPC). Range: 0 (none) to 0.5. Needs
         * {@link #maxConnectionAge}.
         *
         * @param jitter the fraction of the age by which each connection's age may differ, either way
         * @return this builder
         * @throws IllegalArgumentException if {@code jitter} is not between 0 and 0.5
         * @throws IllegalStateException if it was already set
         */
        public Builder maxConnectionAgeJitter(double jitter) {
            Checks.notSetTwice(ageJitterSet, "maxConnectionAgeJitter", ageJitter);
            if (!(jitter >= 0 && jitter <= LifecycleSettings.MAX_AGE_JITTER)) {
                throw new IllegalArgumentException("maxConnectionAgeJitter must be between 0.0 and 0.5: " + jitter);
            }
            ageJitter = jitter;
            ageJitterSet = true;
            return this;
        }

        /**
         * How long a connection at its {@link #maxConnectionAge} may finish its work in flight (HTTP requests and
         * streams, {@code markBusy}) after it was told to go; then it is reaped regardless. Default 30 s. Range: zero
         * (reaped at its age, with its goodbye) to 30 days. Needs {@link #maxConnectionAge}.
         *
         * @param grace how long work in flight may go on after the connection was told to go
         * @return this builder
         * @throws NullPointerException if {@code grace} is null
         * @throws IllegalArgumentException if {@code grace} is negative or longer than 30 days
         * @throws IllegalStateException if it was already set
         */
        public Builder maxConnectionAgeGrace(Duration grace) {
            Checks.notSetTwice(ageGraceSet, "maxConnectionAgeGrace", ageGrace);
            ageGrace = Checks.timeout("maxConnectionAgeGrace", grace);
            ageGraceSet = true;
            return this;
        }

        /**
         * Over how long {@link IdleReaper#drain} spreads its goodbyes: each connection gets its goodbye at its own
         * moment in this window, so that a fleet's clients do not all reconnect at once (HAProxy's
         * {@code close-spread-time}). A drain then takes at most this plus its grace. Default {@link Duration#ZERO}:
         * every goodbye at once. Range: zero to 30 days.
         *
         * @param spread the window over which a drain's goodbyes are spread
         * @return this builder
         * @throws NullPointerException if {@code spread} is null
         * @throws IllegalArgumentException if {@code spread} is negative or longer than 30 days
         * @throws IllegalStateException if it was already set
         */
        public Builder drainSpread(Duration spread) {
            Checks.notSetTwice(drainSpreadSet, "drainSpread", drainSpread);
            drainSpread = Checks.timeout("drainSpread", spread);
            drainSpreadSet = true;
            return this;
        }

        /**
         * Limits the reaper's own closes to {@code perSecond} per event loop, in bursts of up to {@code burst} (a
         * token bucket), for the reasons that can wait: the idle timers, keep-alive, half-close, age and drain. A
         * close held back waits in order, counted in {@link ReaperStats#closesHeldBack()}, and comes as soon as the
         * rate allows: with {@code n} closes due at once on a loop, the last comes up to {@code (n − burst) /
         * perSecond} seconds late, which is part of its bound. Closes that free what a dead or hostile peer holds
         * (write stall, dead peer, heartbeat timeout, ping abuse, the request header and body timeouts) and closes
         * after a goodbye already sent (max requests) are never held. So 100,000 connections that reach their age in
         * the same second close at this rate, not in one burst. Default: no limit. Range: {@code perSecond} and
         * {@code burst} 1 to 1,000,000 (the burst is at least one tick's worth of closes).
         *
         * @param perSecond the closes per second each event loop may make, on average
         * @param burst how many closes may come at once after a quiet spell
         * @return this builder
         * @throws IllegalArgumentException if either is out of range
         * @throws IllegalStateException if it was already set
         */
        public Builder closeRate(int perSecond, int burst) {
            Checks.notSetTwice(closeRateSet, "closeRate", closeRate + "/s, burst " + closeBurst);
            closeRate = Checks.range("closeRate perSecond", perSecond, 1, LifecycleSettings.MAX_CLOSE_RATE);
            closeBurst = Checks.range("closeRate burst", burst, 1, LifecycleSettings.MAX_CLOSE_RATE);
            closeRateSet = true;
            return this;
        }

        /**
         * Caps the server connections this reaper watches at {@code max}; a connection accepted at the cap is
         * handled by {@code policy}: {@link CapPolicy#REJECT} closes it with a RST before the host's handlers see it
         * ({@link ReapReason#REJECTED}); {@link CapPolicy#EVICT_IDLEST} lets it in and evicts the most idle
         * connection of its event loop instead ({@link ReapReason#EVICTED}, with its goodbye), and refuses it when
         * none may be evicted. The choice of victim costs the same at 10 or 1,000,000 connections: it looks at the
         * 64 connections the loop's wheel visits next. Connections still saying goodbye after an eviction count
         * until they close, at most for the {@link #goodbyeTimeout}. Counts accepted connections only (a client's
         * own connections are never refused). Default 0, no cap. Range: 0 (none) to {@value Integer#MAX_VALUE}. See
         * docs/lifecycle.md.
         *
         * @param max the most connections the reaper watches at once; 0 for no cap
         * @param policy what happens to a newcomer at the cap
         * @return this builder
         * @throws NullPointerException if {@code policy} is null
         * @throws IllegalArgumentException if {@code max} is negative
         * @throws IllegalStateException if it was already set
         */
        public Builder maxConnections(int max, CapPolicy policy) {
            Checks.notSetTwice(maxConnectionsSet, "maxConnections", maxConnections + ", " + capPolicy);
            maxConnections = Checks.range("maxConnections", max, 0, Integer.MAX_VALUE);
            capPolicy = java.util.Objects.requireNonNull(policy, "policy");
            maxConnectionsSet = true;
            return this;
        }

        /**
         * Limits the server connections from one remote IP address (any port) to {@code max}: one more is closed
         * with a RST before the host's handlers see it ({@link ReapReason#REJECTED}), as nginx's {@code limit_conn}
         * keyed by {@code $binary_remote_addr}. Never evicts. Default 0, no limit. Range: 0 (none) to
         * {@value Integer#MAX_VALUE}.
         *
         * @param max the most connections from one IP address; 0 for no limit
         * @return this builder
         * @throws IllegalArgumentException if {@code max} is negative
         * @throws IllegalStateException if it was already set
         */
        public Builder maxConnectionsPerAddress(int max) {
            Checks.notSetTwice(maxPerAddressSet, "maxConnectionsPerAddress", maxPerAddress);
            maxPerAddress = Checks.range("maxConnectionsPerAddress", max, 0, Integer.MAX_VALUE);
            maxPerAddressSet = true;
            return this;
        }

        /**
         * Shrinks every idle timeout under resource pressure, as Envoy's {@code reduce_timeouts}: from
         * {@code threshold} to {@code saturation} the read, write and all idle timeouts, the half-close timeout and
         * the HTTP keep-alive timeout shrink linearly from their configured values to {@code minScale} of them,
         * {@code timeout × (minScale + (1 − minScale) × (saturation − pressure) / (saturation − threshold))}, in
         * sixteenths. The pressure comes from {@link #pressureSource} (by default {@link PressureSource#system()}:
         * file descriptors, heap after GC, direct memory), sampled at most once a second. Entering pressure logs
         * one WARN, leaving it (five points below the threshold) one INFO; {@link ReaperStats#timeoutScale()} shows
         * the scale. When the scale falls, every connection is looked at again at once, in slices that yield to
         * I/O, so a shorter timeout reaps sooner, not at the old deadline. Write stall, the heartbeat and the HTTP
         * request timeouts are not scaled. Default: off. Range: {@code 0 < threshold < saturation ≤ 1},
         * {@code minScale} 0.01 to 0.99.
         *
         * @param threshold the pressure (0 to 1) at which timeouts start to shrink
         * @param saturation the pressure at which they reach their floor
         * @param minScale the floor, as a fraction of each timeout
         * @return this builder
         * @throws IllegalArgumentException if a value is out of its range
         * @throws IllegalStateException if it was already set
         */
        public Builder reduceTimeoutsUnderPressure(double threshold, double saturation, double minScale) {
            Checks.notSetTwice(pressureThreshold > 0, "reduceTimeoutsUnderPressure",
                    pressureThreshold + ", " + pressureSaturation + ", " + pressureMinScale);
            if (!(threshold > 0 && threshold < 1)) {
                throw new IllegalArgumentException("reduceTimeoutsUnderPressure threshold must be above 0 and below "
                        + "1: " + threshold);
            }
            if (!(saturation > threshold && saturation <= 1)) {
                throw new IllegalArgumentException("reduceTimeoutsUnderPressure saturation must be above the "
                        + "threshold (" + threshold + ") and at most 1: " + saturation);
            }
            if (!(minScale >= 0.01 && minScale <= 0.99)) {
                throw new IllegalArgumentException("reduceTimeoutsUnderPressure minScale must be between 0.01 and "
                        + "0.99: " + minScale);
            }
            pressureThreshold = threshold;
            pressureSaturation = saturation;
            pressureMinScale = minScale;
            return this;
        }

        /**
         * Where the pressure for {@link #reduceTimeoutsUnderPressure} comes from. Default
         * {@link PressureSource#system()}. Needs {@link #reduceTimeoutsUnderPressure}.
         *
         * @param source the pressure source
         * @return this builder
         * @throws NullPointerException if {@code source} is null
         * @throws IllegalStateException if it was already set
         */
        public Builder pressureSource(PressureSource source) {
            Checks.notSetTwice(pressureSource != null, "pressureSource", pressureSource);
            pressureSource = java.util.Objects.requireNonNull(source, "source");
            return this;
        }

        /**
         * Near saturation, keeps a reserve: while the pressure is at or above {@code level}, each new server
         * connection evicts the most idle connection of its event loop, chosen as for
         * {@link CapPolicy#EVICT_IDLEST} (never a busy one, nor one active within the last second), with its goodbye
         * ({@link ReapReason#PRESSURE}), so that the file descriptors and memory in use stop growing while the
         * shrunk timeouts catch up. The newcomer stays either way. Default: off. Range: from the threshold of
         * {@link #reduceTimeoutsUnderPressure} to 1. Needs {@link #reduceTimeoutsUnderPressure}.
         *
         * @param level the pressure (0 to 1) from which each newcomer evicts the idlest connection
         * @return this builder
         * @throws IllegalArgumentException if {@code level} is not above 0 and at most 1
         * @throws IllegalStateException if it was already set
         */
        public Builder evictUnderPressure(double level) {
            Checks.notSetTwice(evictAt > 0, "evictUnderPressure", evictAt);
            if (!(level > 0 && level <= 1)) {
                throw new IllegalArgumentException("evictUnderPressure must be above 0 and at most 1: " + level);
            }
            evictAt = level;
            return this;
        }

        /**
         * Builds the reaper.
         *
         * @return the reaper, ready to {@code install}
         * @throws IllegalArgumentException if an enabled timeout is shorter than the tick resolution, or a
         *     heartbeat rule (timeout below interval, no timeout or misses without pings, bound inside the idle
         *     timeouts) is broken
         * @throws IllegalStateException if {@link #permitPeerPings} is set without a {@link #heartbeat} whose
         *     protocol recognises peer pings, or the protocol's run-time needs are missing from the class path
         */
        public IdleReaper build() {
            IdleTimeouts t = timeouts.build();
            Heartbeat hb = hbProtocol == null ? Heartbeat.DISABLED
                    : Heartbeat.of(hbInterval, hbTimeout, hbMaxMissed, hbProtocol);
            if (!peerPingMin.isZero()) {
                if (hbProtocol == null) {
                    throw new IllegalStateException(
                            "permitPeerPings needs a heartbeat protocol to recognise pings: call heartbeat(...)");
                }
                if (!hbProtocol.recognizesPeerPings()) {
                    throw new IllegalStateException("permitPeerPings needs a heartbeat protocol that recognises the "
                            + "peer's pings, and " + hbProtocol + " recognises none");
                }
            }
            if (hbProtocol != null) {
                hbProtocol.checkAvailable();
            }
            HttpSettings httpSettings = null;
            if (http) {
                checkHttpCodec();
                httpSettings = new HttpSettings(keepAliveTimeout, requestHeaderTimeout, requestBodyTimeout,
                        maxRequests);
            }
            if ((pressureSource != null || evictAt > 0) && pressureThreshold == 0) {
                throw new IllegalStateException((pressureSource != null ? "pressureSource" : "evictUnderPressure")
                        + " needs reduceTimeoutsUnderPressure: call reduceTimeoutsUnderPressure(...) too");
            }
            if (evictAt > 0 && evictAt < pressureThreshold) {
                throw new IllegalArgumentException("evictUnderPressure (" + evictAt + ") must be at least the "
                        + "reduceTimeoutsUnderPressure threshold (" + pressureThreshold + ")");
            }
            if ((ageJitterSet || ageGraceSet) && maxAge.isZero()) {
                throw new IllegalStateException((ageJitterSet ? "maxConnectionAgeJitter" : "maxConnectionAgeGrace")
                        + " needs maxConnectionAge: call maxConnectionAge(...) too");
            }
            LifecycleSettings life = new LifecycleSettings(halfCloseTimeout, Boolean.TRUE.equals(dryRunSet), maxAge,
                    ageJitter, ageGrace, drainSpread, closeRate, closeBurst);
            Duration tick = tickResolution != null ? tickResolution : defaultTick(t, hb, httpSettings, life);
            t.checkAgainstTick(tick);
            life.checkAgainstTick(tick);
            if (httpSettings != null) {
                httpSettings.checkAgainstTick(tick);
            }
            hb.checkAgainstTick(tick);
            hb.checkFitsInside(t);
            kernel.checkUserTimeoutCovers(t);
            builtHeartbeat = hb;
            builtHttp = httpSettings;
            builtLifecycle = life;
            if (t.smallestEnabled().isZero() && !kernel.any() && !hb.pings() && httpSettings == null
                    && life.smallestEnabled().isZero()) {
                log.info("IdleReaper built with every idle timer disabled; enable one with updateTimeouts(...) "
                        + "(timeouts from the tick resolution, {})", tick);
            }
            return new IdleReaper(this, t, tick);
        }

        /**
         * The tick resolution a reaper chooses when none is set: a tenth of the smallest enabled timeout, heartbeat
         * timeout, HTTP timeout or lifecycle timeout, between 10 ms and 1 s; 100 ms when nothing is enabled.
         */
        static Duration defaultTick(IdleTimeouts t, Heartbeat hb, HttpSettings http, LifecycleSettings life) {
            Duration extra = smaller(hb.pings() ? hb.timeout() : Duration.ZERO,
                    http == null ? Duration.ZERO : http.smallestEnabled());
            return t.defaultTickResolution(smaller(extra, life.smallestEnabled()));
        }

        /** The smaller of two durations where zero means disabled. */
        private static Duration smaller(Duration a, Duration b) {
            if (a.isZero()) {
                return b;
            }
            return b.isZero() || a.compareTo(b) <= 0 ? a : b;
        }

        /** The HTTP layer speaks through Netty's optional HTTP codec module. */
        private static void checkHttpCodec() {
            try {
                Class.forName("io.netty.handler.codec.http.HttpServerCodec", false, IdleReaper.class.getClassLoader());
            } catch (ClassNotFoundException | LinkageError e) {
                throw new IllegalStateException("http() needs io.netty:netty-codec-http on the class path "
                        + "(io.netty.handler.codec.http.HttpServerCodec not found)");
            }
        }
    }
}
