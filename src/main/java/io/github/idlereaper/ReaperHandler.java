package io.github.idlereaper;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelPipelineException;
import io.netty.channel.ChannelPromise;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import java.time.Duration;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The reaper's pipeline handler: first in the pipeline, one per channel, and its own {@link LoopWheel} entry.
 *
 * <h2>Two clocks</h2>
 * <ul>
 *   <li><b>Liveness</b> ({@link #liveStamp}): any inbound byte, a pong included. The heartbeat and the dead-peer
 *       report read it.</li>
 *   <li><b>Activity</b> ({@link #readStamp}, {@link #writeStamp}): application messages either way, and the end of
 *       work in flight. The idle timers read it. While the protocol's {@link HeartbeatWatch} recognises heartbeat
 *       frames ({@link #SPLIT}), the watch stamps activity for every other message; otherwise every byte counts as
 *       both.</li>
 * </ul>
 *
 * <p>On the hot paths it only stores the wheel's stamp: a read stores it in {@code liveStamp} (and, without a
 * watch, in {@code readStamp}), a write in {@code writeStamp} and adds the message's size to {@code ledger}.
 * Everything else happens lazily when the wheel visits the entry ({@link #expire}): the stamps become upper bounds
 * on real time, the outbound buffer is sampled for progress ({@link OutboundProgress}), the heartbeat runs
 * ({@link HeartbeatLogic}), and the earliest timer that has run out reaps the channel.
 *
 * <p>Every deadline that appears between visits (a stall that starts at a flush, the end of a busy period, an
 * override) brings the visit earlier through {@link LoopWheel#visitBy}; nothing postpones a visit.
 *
 * <p>The fields are kept few on purpose (the whole object is 64 bytes with compressed oops), because one lives for
 * every connection. Confined to the channel's event loop.
 */
final class ReaperHandler extends WheelEntry {

    private static final Logger log = LoggerFactory.getLogger(IdleReaper.class);

    // Bits of `state`.
    /** Counted as open in the stats; cleared when the channel closes. */
    static final int COUNTED = 1;
    /** No flushed bytes were pending at the last sample. */
    static final int OUT_EMPTY = 1 << 1;
    /** Reaped: the goodbye is being flushed, and the next visit closes the channel regardless. */
    static final int REAPING = 1 << 2;
    /** Was counted once; never counts again. */
    static final int RETIRED = 1 << 3;
    /**
     * The kernel gave up on the peer ({@link DeadPeerCause}) and the reaper counted it as
     * {@link ReapReason#DEAD_PEER}.
     */
    static final int DEAD_PEER = 1 << 4;
    /**
     * Heartbeat phase, bits 5..7: 0 while ACTIVE; n (1 to {@link Heartbeat#MAX_MISSED}) while PROBING, with n pings
     * sent since the last inbound byte.
     */
    static final int PINGS_SHIFT = 5;
    static final int PINGS_MASK = 7 << PINGS_SHIFT;
    /**
     * Bits 8..11. While PROBING or REAPING, with {@code pingTick}: how far into the tick {@code pingTick} the last
     * ping left or the goodbye was written, in eighths of a tick rounded up (0 to 8), so that a miss or the
     * goodbye's forced close comes within an eighth of a tick of its real time; {@link HeartbeatLogic#MARK_LATE}
     * when the moment was later than that tick (a stalled loop), and the stamp's upper bound applies. While ACTIVE:
     * how many pings in a row the protocol was not ready to send (up to 15).
     */
    static final int MARK_SHIFT = 8;
    static final int MARK_MASK = 15 << MARK_SHIFT;
    /** In its event loop's wheel (an open channel leaves it while deregistered from its loop). */
    static final int IN_WHEEL = 1 << 12;
    /** A {@link HeartbeatWatch} stamps activity: liveness apart from activity. */
    static final int SPLIT = 1 << 13;
    /** The channel's message size estimator is not Netty's default: sizes come from it. */
    static final int CUSTOM_SIZES = 1 << 14;
    /** Another reaper's handler is in this pipeline too: per-channel calls go to every one. */
    static final int SHARED = 1 << 15;
    /**
     * With {@link #SPLIT}: inbound bytes of this read that no decoded message has claimed yet. Bytes a decoder keeps
     * (part of a frame still arriving) are activity: a slow upload of one large frame is not idleness.
     */
    static final int UNCLAIMED = 1 << 16;
    /**
     * A reap decided at a lagging visit waited for one pass of I/O ({@link LoopWheel#AFTER_IO}); the next visit
     * decides for good. Cleared at every visit.
     */
    static final int DEFERRED = 1 << 17;
    /**
     * Bit 18: the next read leaves the fast path. With an {@link HttpCompanion}, the HTTP layer waits for a
     * request's first byte: the read tells the companion, which starts the request's header deadline, and clears
     * the bit. Without one, the bit is {@link #UNPLACED}.
     */
    static final int HTTP_WAIT = 1 << 18;
    /**
     * Bit 18 without an {@link HttpCompanion}: the protocol's watch and companion and the HTTP layer are still to be
     * placed behind the host's decoders ({@link Installer#addWatchers}). Set when the handler is added, if there is
     * anything to place; {@code install()} places them right after the host's initializer. A handler the host added
     * itself ({@code newHandler()}, a pipeline built by hand, usually before its decoders exist) places them at the
     * first of {@code channelRegistered}, {@code channelActive}, its first read and its first wheel visit, once the
     * host's code that built the pipeline has returned. The two meanings never meet: only a companion sets
     * {@link #HTTP_WAIT}, and a companion exists only once the placement is done. So a pipeline built by hand costs
     * no field and no bit, and the read path tests the same bit it tested before.
     */
    static final int UNPLACED = HTTP_WAIT;
    /**
     * The peer shut its output (a FIN) and the channel allows half-closure: the half-close timeout runs, from the
     * FIN ({@link #liveStamp} is set to it; no byte comes in after it) and from the last outbound activity.
     */
    static final int HALF_CLOSED = 1 << 19;
    /**
     * A dry run reported a decision for this idle episode; the next visit where no deadline has run out (the
     * connection was in use since) clears it, and only then is a decision reported again.
     */
    static final int DRY_SEEN = 1 << 20;
    /**
     * The channel was admitted ({@link ReaperCore#admit}: the connection cap, eviction under pressure), at install or
     * at registration, once; the cap's count is released when the channel leaves.
     */
    static final int ADMITTED = 1 << 21;
    /**
     * The age's fast path: {@code core} holds this channel's {@link ChannelLife} directly over the reaper's core (no
     * override, no HTTP companion), the reaper has no heartbeat, and the wheel belongs to that core. While not
     * REAPING, {@code pingTick} (unused without a heartbeat) then holds the stamp at which the age is due, so that a
     * visit reads the settings from the wheel's core and bounds the age without touching the ChannelLife: one cache
     * miss less per visit at a million connections. See {@link #refreshAge}.
     */
    static final int AGE_STAMP = 1 << 22;
    static final int BUSY_SHIFT = 23;
    static final int BUSY_ONE = 1 << BUSY_SHIFT;
    static final int BUSY_MAX = -1 >>> BUSY_SHIFT;

    /** When the channel was registered (a ticker reading), for the lifetime a {@link ReapObserver} hears of. */
    static final io.netty.util.AttributeKey<Long> OPENED_AT =
            io.netty.util.AttributeKey.valueOf(ReaperHandler.class, "openedAt");

    /**
     * The shared {@link ReaperCore}, or a {@link ChannelOverride} (which refers to it) once this channel's settings
     * were overridden, or this channel's {@link HttpCompanion} (which holds one of those two in its place); read
     * through {@link #core()}, {@link #settings()} and {@link #http()}.
     */
    private Object core;
    ChannelHandlerContext ctx;
    LoopWheel wheel;
    /** Liveness: the wheel stamp of the last inbound byte. */
    int liveStamp;
    /** Inbound activity: the stamp of the last inbound application message, or of the end of work in flight. */
    int readStamp;
    /** Outbound activity: the stamp of the last outbound application write, or of the end of work in flight. */
    int writeStamp;
    /**
     * Outbound bytes written since the last sample, as Netty counts them, minus what was pending at that sample
     * plus the current message's progress; so at the next sample, "ledger - pending + progress" is exactly what
     * left the socket in between (see {@link OutboundProgress}).
     */
    int ledger;
    /** The stamp at which outbound progress was last seen, or at which flushed bytes started to wait. */
    int outTick;
    /** Flag bits, the heartbeat phase (5..7), the mark (8..11), flags (12..21), from bit 22 the busy count. */
    int state;
    /**
     * While PROBING, the stamp of the last ping. While REAPING, the stamp of the goodbye's write, from which the
     * goodbye's timeout runs. Otherwise -1. Stamps are never negative.
     */
    int pingTick = -1;

    ReaperHandler(ReaperCore core) {
        this.core = core;
    }

    ReaperCore core() {
        Object c = base();
        return c instanceof ChannelOverride ? ((ChannelOverride) c).core : (ReaperCore) c;
    }

    /** This channel's settings: the reaper's, or its override. Any thread (a racy read of an immutable value). */
    Settings settings() {
        Object c = base();
        return c instanceof ChannelOverride ? ((ChannelOverride) c).settings() : ((ReaperCore) c).settings();
    }

    /** This channel's override, or null. */
    ChannelOverride override() {
        Object c = base();
        return c instanceof ChannelOverride ? (ChannelOverride) c : null;
    }

    /** The core or the override, past an HTTP companion and a {@link ChannelLife}. */
    private Object base() {
        Object c = core;
        if (c instanceof ReaperCore || c instanceof ChannelOverride) {
            return c;
        }
        if (!(c instanceof ChannelLife)) {
            c = ((HttpCompanion) c).base;
        }
        return c instanceof ChannelLife ? ((ChannelLife) c).base : c;
    }

    /** This channel's HTTP companion, or null (checked in an order that loads its class only when there is one). */
    HttpCompanion http() {
        Object c = core;
        return c instanceof ReaperCore || c instanceof ChannelOverride || c instanceof ChannelLife ? null
                : (HttpCompanion) c;
    }

    /** This channel's age, or null when the reaper has no age limit. */
    ChannelLife life() {
        Object c = core;
        if (c instanceof ReaperCore || c instanceof ChannelOverride) {
            return null;
        }
        if (!(c instanceof ChannelLife)) {
            c = ((HttpCompanion) c).base;
        }
        return c instanceof ChannelLife ? (ChannelLife) c : null;
    }

    /** Replaces the core or the override, keeping an HTTP companion and a {@link ChannelLife} in front of it. */
    private void base(Object next) {
        ChannelLife life = life();
        HttpCompanion http = http();
        if (life != null) {
            life.base = next;
        } else if (http != null) {
            http.base = next;
        } else {
            core = next;
        }
        refreshAge();
    }

    /** Starts this channel's age from the stamp {@code now} of its wheel, with a jitter drawn now. */
    private void startAge(int now) {
        ReaperCore c = core();
        LifecycleSettings l = c.lifecycle();
        if (l.maxAgeNanos == 0) {
            return;
        }
        ChannelLife old = life();
        int ageTicks = old != null ? old.ageTicks : l.ageTicks(wheel.tickNanos(), c::jitterTicks);
        ChannelLife fresh = new ChannelLife(base(), now, ageTicks);
        HttpCompanion http = http();
        if (http != null) {
            http.base = fresh;
        } else {
            core = fresh;
        }
    }

    /** What {@code core} holds, for a companion that takes its place. */
    Object coreField() {
        return core;
    }

    void coreField(Object c) {
        core = c;
        refreshAge();
    }

    // ---------------------------------------------------------------- pipeline events

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        if (this.ctx != null) {
            // Netty removes the handler from this second pipeline again, and tells that pipeline why.
            throw new ChannelPipelineException("an IdleReaper handler belongs to one channel; it is already in "
                    + this.ctx.channel() + ": use reaper.newHandler() for each channel");
        }
        this.ctx = ctx;
        this.wheel = core().wheelFor(ctx.executor());
        if (Installer.hasWatchers(core(), ctx.channel())) {
            state |= UNPLACED; // see place()
        }
        noteOtherReapers(ctx.pipeline());
        // TCP keepalive and TCP_USER_TIMEOUT, once per channel and as soon as it is registered: a client gets them
        // before it connects. A no-op unless the reaper sets them.
        core().kernel().apply(ctx.channel());
        if (ctx.channel().isActive()) {
            register();
        }
    }

    /**
     * Marks this handler and every other reaper handler in {@code p} {@link #SHARED} when there is more than one,
     * so that per-channel calls reach them all. Once per channel, at setup (not on a hot path).
     */
    private void noteOtherReapers(ChannelPipeline p) {
        ReaperHandler other = null;
        for (Map.Entry<String, ChannelHandler> e : p) {
            if (e.getValue() instanceof ReaperHandler && e.getValue() != this) {
                other = (ReaperHandler) e.getValue();
                other.state |= SHARED;
            }
        }
        if (other != null) {
            state |= SHARED;
        }
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        if (ctx == this.ctx) { // not a second pipeline that refused this handler
            unregister();
        }
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        if (register()) {
            place();
            ctx.fireChannelActive();
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        try {
            if ((state & (COUNTED | REAPING | DEAD_PEER)) == COUNTED
                    && (ledger != 0 || (state & OUT_EMPTY) == 0)) {
                // Closed, not by the reaper, with something written since the buffer was last seen empty: by a
                // write that failed with the kernel's verdict? (A write that closes the channel can fail only then;
                // other closes cost nothing here. With autoClose off, a failed write only shuts output down, and
                // Netty keeps no cause for the later close: not counted.)
                Throwable why = closeCause(ctx.channel());
                if (why != null) {
                    countKernelClose(why);
                }
            }
        } catch (Throwable t) {
            log.warn("{} could not tell why it closed; not counted", ctx.channel(), t);
        } finally {
            unregister();
            ctx.fireChannelInactive();
        }
    }

    /** Registered on a (perhaps other) event loop after a deregistration: join that loop's wheel. */
    @Override
    public void channelRegistered(ChannelHandlerContext ctx) {
        if ((state & (COUNTED | IN_WHEEL)) == COUNTED && ctx.channel().isActive()) {
            joinWheel(core().wheelFor(ctx.executor()));
        }
        // A pipeline built by hand: the host's initializer, which added this handler, has run to its end.
        place();
        ctx.fireChannelRegistered();
    }

    /** Deregistered from its event loop while open (it may move to another): leave that loop's wheel. */
    @Override
    public void channelUnregistered(ChannelHandlerContext ctx) {
        if ((state & IN_WHEEL) != 0) {
            state &= ~IN_WHEEL;
            wheel.unregister(this);
        }
        ctx.fireChannelUnregistered();
    }

    /**
     * Classifies the kernel giving up on the peer ({@link DeadPeerCause}) as {@link ReapReason#DEAD_PEER}, once:
     * fires the event, counts it, tells the listener, passes the exception on and closes the channel. Every other
     * exception only passes through.
     */
    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        boolean dead = countKernelClose(cause);
        ctx.fireExceptionCaught(cause);
        if (dead && !core().lifecycle().dryRun) {
            ctx.channel().close();
        }
    }

    /** The peer's FIN on a channel that allows half-closure: the half-close timeout starts. */
    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt == ChannelInputShutdownEvent.INSTANCE && (state & (IN_WHEEL | HALF_CLOSED)) == IN_WHEEL) {
            long halfClose = PressureScale.scaled(core().lifecycle().halfCloseNanos, core().timeoutScale());
            if (halfClose > 0) {
                state |= HALF_CLOSED;
                // The FIN is the last thing the peer sends: its moment is the liveness stamp from here on.
                liveStamp = wheel.stamp;
                if ((state & REAPING) == 0) {
                    wheel.visitBy(this, wheel.nextTickStart() + halfClose);
                }
            }
        }
        ctx.fireUserEventTriggered(evt);
    }

    /**
     * Counts {@code cause} as {@link ReapReason#DEAD_PEER} if it is the kernel's verdict on the peer and nothing
     * was counted for this channel yet (the reaper's own reap, or an earlier verdict): fires the event, counts it
     * and tells the listener. A RST ({@code ECONNRESET}) counts only after keepalive probes: the reaper set
     * keepalive and the peer had been quiet for at least its idle time, so the RST answered a probe (a host that
     * rebooted); otherwise it is the peer's own close.
     */
    private boolean countKernelClose(Throwable cause) {
        if ((state & (COUNTED | REAPING | DEAD_PEER)) != COUNTED) {
            return false;
        }
        int verdict = DeadPeerCause.of(cause);
        if (verdict == DeadPeerCause.NONE) {
            return false;
        }
        long quiet = quietNanos();
        if (verdict == DeadPeerCause.RESET && !resetAnswersProbes(quiet)) {
            return false;
        }
        state |= DEAD_PEER;
        ReapEvent event = new ReapEvent(quiet, core().kernel().deadPeerLimit().toNanos(), cause);
        if (core().lifecycle().dryRun) {
            event = event.asDryRun();
        }
        ctx.fireUserEventTriggered(event);
        core().reaped(ctx.channel(), event);
        return true;
    }

    /**
     * Whether a RST answered the kernel's keepalive probes (a host that rebooted and forgot the connection) rather
     * than being the peer's own close. Keepalive must be the reaper's, and the peer quiet for at least its idle
     * time. Then the socket decides where it can say ({@code tcpi_probes} at least 1: epoll, io_uring); elsewhere
     * (NIO) nothing may have been written within the idle time either, since keepalive does not probe while sent
     * data waits and the peer's acknowledgements restart its clock. An idle peer that answered a probe and then
     * reset on its own cannot be told apart there.
     */
    private boolean resetAnswersProbes(long quiet) {
        KernelOptions k = core().kernel().options();
        long idle = k.keepAliveIdleSeconds * 1_000_000_000L;
        if (!k.keepAliveSet() || quiet < idle) {
            return false;
        }
        int probes = wheel.socketProgress.probes(ctx.channel());
        if (probes >= 0) {
            return probes > 0;
        }
        if ((state & OUT_EMPTY) == 0) {
            return false;
        }
        long lastOut = Math.max(wheel.upperBound(writeStamp), wheel.upperBound(outTick));
        if ((state & PINGS_MASK) != 0) {
            // The heartbeat's pings (acknowledged by the peer's kernel) restart keepalive's clock too.
            lastOut = Math.max(lastOut, HeartbeatLogic.markedBy(this, wheel));
        }
        return core().ticker().read() - lastOut >= idle;
    }

    /**
     * Why the channel closed, as Netty kept it: the failure of a write that made it close (an ETIMEDOUT that a
     * write saw first), or null. Netty fails a write on a closed channel with a {@code ClosedChannelException}
     * caused by the close's first cause, and writes' own failures reach no handler; so ask with a write. Once per
     * close of a channel the reaper did not close, on its event loop; not on a hot path.
     */
    private static Throwable closeCause(Channel ch) {
        ChannelPromise p = ch.newPromise();
        ch.unsafe().write(Unpooled.EMPTY_BUFFER, p);
        Throwable t = p.cause();
        return t == null ? null : t.getCause();
    }

    /**
     * A lower bound on how long the peer has been silent: since the later of the last inbound byte and the last
     * inbound activity (the liveness stamp is backdated at the start by the first ping's jitter).
     */
    private long quietNanos() {
        long now = core().ticker().read();
        long last = Math.max(wheel.upperBound(liveStamp), wheel.upperBound(readStamp));
        return Math.max(0, now - last);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        int s = wheel.stamp;
        liveStamp = s;
        int st = state;
        if ((st & HTTP_WAIT) != 0) {
            HttpCompanion http = http();
            if (http == null) {
                // UNPLACED: a pipeline built by hand, read from before any other chance to place the watchers.
                place();
                http = http();
                st = state;
            }
            if ((st & HTTP_WAIT) != 0) {
                // The first byte of an HTTP request: once per request, not per read.
                state = st & ~HTTP_WAIT;
                http.firstByte(s);
                st = state;
            }
        }
        if ((st & SPLIT) == 0) {
            activity(s);
            ctx.fireChannelRead(msg);
            return;
        }
        // The watch claims the bytes when a decoded message reaches it; bytes that a decoder keeps for a frame
        // still arriving are activity too.
        state = st | UNCLAIMED;
        ctx.fireChannelRead(msg);
        if ((state & UNCLAIMED) != 0) {
            state &= ~UNCLAIMED;
            activity(s);
        }
    }

    /**
     * Inbound activity at stamp {@code s}: the read idle clock starts again, and with the timeout advisor on the
     * gap since the last activity is recorded ({@link GapHistogram}): when it is at least a tick, and the connection
     * was not busy (work in flight holds the idle timers off, so such a gap is no silence they would judge).
     */
    private void activity(int s) {
        long[] g = wheel.gaps;
        if (g != null) {
            int gap = (s - readStamp) & Integer.MAX_VALUE;
            if (gap != 0 && (state >>> BUSY_SHIFT) == 0) {
                GapHistogram.record(g, gap, wheel.gapCandidate);
            }
        }
        readStamp = s;
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        int st = state;
        if ((st & SPLIT) == 0) {
            writeStamp = wheel.stamp;
        }
        ledger += (st & CUSTOM_SIZES) == 0 ? OutboundProgress.sizeOf(msg) : OutboundProgress.estimate(ctx, msg);
        ctx.write(msg, promise);
    }

    @Override
    public void flush(ChannelHandlerContext ctx) {
        ctx.flush();
        // The usual case: the socket took everything at once, and the drain is noted now, which keeps write and
        // all idle exact. Otherwise flushed bytes start to wait, and the stall's deadline may come before the
        // entry's visit: bring the visit to it.
        if ((state & IN_WHEEL) != 0 && OutboundProgress.startsWaiting(this)) {
            long stall = settings().writeStall;
            if (stall > 0) {
                wheel.visitBy(this, wheel.nextTickStart() + stall);
            }
        }
    }

    /**
     * A decoded message reached the heartbeat watch: the bytes of this read are claimed, and they are activity
     * unless the message is a heartbeat frame.
     */
    void inboundMessage(boolean activity) {
        state &= ~UNCLAIMED;
        if (activity) {
            activity(wheel.stamp);
        }
    }

    /** Outbound activity seen by the heartbeat watch: an application message. */
    void outboundActivity() {
        writeStamp = wheel.stamp;
    }

    /** From now on the heartbeat watch stamps activity, and bytes alone stamp only liveness. */
    void splitLivenessFromActivity() {
        state |= SPLIT;
    }

    boolean shared() {
        return (state & SHARED) != 0;
    }

    // ---------------------------------------------------------------- placing the watchers

    /**
     * Places the protocol's watch and companion and the HTTP layer behind the host's decoders, if they are still
     * {@link #UNPLACED}: once per channel, and never after {@code install()} placed them. Event loop only.
     */
    void place() {
        if ((state & UNPLACED) != 0 && http() == null) {
            Installer.addWatchers(core(), ctx.channel(), this);
        }
    }

    /**
     * Takes the placement for {@link Installer#addWatchers}: true once, if there is something to place; false when
     * it was done, or when the connection cap refused the channel (it is closing).
     */
    boolean takePlacement() {
        if ((state & UNPLACED) == 0 || http() != null) {
            return false;
        }
        state &= ~UNPLACED;
        return (state & RETIRED) == 0;
    }

    // ---------------------------------------------------------------- registration

    /**
     * Starts watching the channel, once; false if the connection cap refused it (closed with a RST: the event
     * that registered it goes no further).
     */
    private boolean register() {
        if ((state & (COUNTED | RETIRED)) != 0) {
            return true;
        }
        Channel ch = ctx.channel();
        ReaperCore c = core();
        if (c.admits() && (state & ADMITTED) == 0 && ch.parent() != null) {
            // Built by hand (newHandler()): install() admits before the host's handlers are added.
            if (!c.admit(ch, wheel)) {
                state |= RETIRED;
                return false;
            }
            state |= ADMITTED;
        }
        state |= COUNTED;
        if (ch.config().getMessageSizeEstimator() != io.netty.channel.DefaultMessageSizeEstimator.DEFAULT) {
            state |= CUSTOM_SIZES;
        }
        core().checkFirst(ch, this);
        core().checkHalfClosure(ch);
        joinWheel(wheel);
        core().opened();
        if (core().observed()) {
            // Kept for the observers' connection lifetime, only while one is there: an attribute costs the channel
            // about 50 bytes, which a reaper without a metrics binder should not pay.
            ch.attr(OPENED_AT).set(core().ticker().read());
        }
        return true;
    }

    /** install() admitted this channel before adding this handler: the handler must not admit it again. */
    void admitted() {
        state |= ADMITTED;
    }

    /**
     * Joins {@code w} and starts every clock from now: on the first registration, and when the channel moved to
     * another loop (whose stamps mean nothing to the old wheel; the timers restart, late rather than early).
     */
    private void joinWheel(LoopWheel w) {
        wheel = w;
        state = (state | IN_WHEEL | OUT_EMPTY) & ~DEFERRED;
        // Registering may restart an idle wheel and move its stamp, so take the stamps after it.
        w.register(this, w.nextTickStart());
        int now = w.stamp;
        readStamp = now;
        writeStamp = now;
        outTick = now;
        liveStamp = HeartbeatLogic.firstLiveStamp(core(), w, settings(), now);
        // The age restarts with the clocks on a move to another loop: later, never earlier.
        startAge(now);
        HttpCompanion http = http();
        if (http != null) {
            http.restart(now);
        }
        ChannelOutboundBuffer buf = ctx.channel().unsafe().outboundBuffer();
        ledger = buf == null ? 0 : (int) buf.totalPendingWriteBytes() - (int) buf.currentProgress();
        if ((state & REAPING) != 0) {
            HeartbeatLogic.mark(this, w);
        } else {
            HeartbeatLogic.stopProbing(this);
            pingTick = -1;
        }
        refreshAge();
    }

    /**
     * Sets or clears {@link #AGE_STAMP} after {@code core} changed (an age started, an override, an HTTP companion).
     * Event loop only.
     */
    private void refreshAge() {
        Object k = core;
        LoopWheel w = wheel;
        if (k instanceof ChannelLife && w != null && ((ChannelLife) k).base == w.owner
                && w.owner.settings().pingInterval == 0) {
            state |= AGE_STAMP;
            if ((state & REAPING) == 0) {
                pingTick = ((ChannelLife) k).dueStamp();
            }
        } else if ((state & AGE_STAMP) != 0) {
            state &= ~AGE_STAMP;
            if ((state & (REAPING | PINGS_MASK)) == 0) {
                pingTick = -1;
            }
        }
    }

    private void unregister() {
        if ((state & ADMITTED) != 0) {
            state &= ~ADMITTED;
            ConnectionCap cap = core().cap();
            if (cap != null) {
                cap.release(ctx.channel());
            }
        }
        if ((state & COUNTED) == 0) {
            return;
        }
        state = (state & ~COUNTED) | RETIRED;
        if ((state & IN_WHEEL) != 0) {
            state &= ~IN_WHEEL;
            wheel.unregister(this);
        }
        ReaperCore c = core();
        if ((state >>> BUSY_SHIFT) != 0) {
            c.busyDelta(-1);
        }
        if ((state & PINGS_MASK) != 0) {
            c.probingDelta(-1);
        }
        c.closed();
        Long openedAt = ctx.channel().hasAttr(OPENED_AT) ? ctx.channel().attr(OPENED_AT).getAndSet(null) : null;
        if (openedAt != null) {
            c.closedAfter(openedAt);
        }
    }

    // ---------------------------------------------------------------- work in flight

    /** Marks one more unit of work in flight. Event loop only; a no-op once the channel closed. */
    void busy() {
        if ((state & RETIRED) != 0) {
            return;
        }
        if ((state >>> BUSY_SHIFT) == BUSY_MAX) {
            log.warn("{} markBusy() called {} times without markIdle(); ignoring", ctx.channel(), BUSY_MAX);
            return;
        }
        state += BUSY_ONE;
        if ((state >>> BUSY_SHIFT) == 1) {
            core().busyDelta(1);
        }
    }

    /**
     * Marks one unit of work done; when none is left, the idle timers start again from now (activity, not
     * liveness: finished work says the connection is in use, not that the peer is there). Event loop only; a
     * no-op once the channel closed.
     */
    void idle() {
        if ((state & RETIRED) != 0) {
            return;
        }
        if ((state >>> BUSY_SHIFT) == 0) {
            log.warn("{} markIdle() called without a matching markBusy(); ignoring", ctx.channel());
            return;
        }
        state -= BUSY_ONE;
        if ((state >>> BUSY_SHIFT) == 0) {
            core().busyDelta(-1);
            int now = wheel.stamp;
            readStamp = now;
            writeStamp = now;
            int scale = core().timeoutScale();
            long smallest = PressureScale.scaled(settings().smallestIdle, scale);
            if ((state & HALF_CLOSED) != 0) {
                smallest = shorter(smallest, PressureScale.scaled(core().lifecycle().halfCloseNanos, scale));
            }
            if (Retirement.due(this) && (state & REAPING) == 0) {
                // Retiring (age or drain) and waiting for its work: that was the last of it.
                smallest = 1;
            }
            if (smallest > 0 && (state & REAPING) == 0) {
                // While busy the entry may be parked far ahead: the first idle deadline may now come first.
                wheel.visitBy(this, wheel.nextTickStart() + smallest);
            }
        }
    }

    int busyCount() {
        return state >>> BUSY_SHIFT;
    }

    // ---------------------------------------------------------------- the lazy check

    @Override
    long expire(LoopWheel w, long now) {
        // No isActive() here: it chases the channel's socket on every visit, and IN_WHEEL already goes with
        // channelInactive. reap() checks a channel closed but not yet inactive; a ping to one fails, and Netty
        // releases it.
        if ((state & IN_WHEEL) == 0) {
            return LoopWheel.DETACH;
        }
        if ((state & REAPING) != 0) {
            // A visit is not proof that the goodbye's time is up (the wheel may visit a little early, and an
            // override asks for a visit at the next tick): check it.
            long closeAt = HeartbeatLogic.markedBy(this, w) + core().goodbyeNanos();
            if (closeAt - now > 0) {
                return closeAt;
            }
            // The goodbye did not flush within its bound. Close from here, first in the pipeline, so that no
            // handler above (an HTTP/2 graceful shutdown, a TLS close_notify) can defer it again.
            w.countClose();
            ctx.close();
            return LoopWheel.DETACH;
        }
        if ((state & UNPLACED) != 0) {
            // A pipeline built by hand that nothing has passed through yet (an idle connection added to a live
            // pipeline): place the watchers now, so that the HTTP layer's first request deadline applies. With a
            // companion this is HTTP_WAIT, and place() does nothing.
            place();
        }
        // Whether a reap decided at this visit already waited for a pass of I/O (see waitsForIo).
        boolean deferred = (state & DEFERRED) != 0;
        state &= ~DEFERRED;
        // Resolved once per visit: past an HTTP companion, an age and an override it is a chain of instanceof (and
        // the age's base is a volatile read, which the compiler would not fold into one across the helpers).
        Object k = core;
        HttpCompanion http = null;
        ChannelLife life = null;
        // The age's fast path: a floor under the age, from pingTick (see AGE_STAMP); the ChannelLife is looked at
        // only once the floor is reached, or in a drain.
        long ageFloor = Long.MAX_VALUE;
        if ((state & (AGE_STAMP | REAPING)) == AGE_STAMP && w.owner.drain() == null) {
            long due = w.startIfAhead(pingTick);
            if (due != Long.MIN_VALUE && due + w.tickNanos() - now > 0) {
                ageFloor = due + w.tickNanos();
                k = w.owner;
            }
        }
        if (!(k instanceof ReaperCore) && !(k instanceof ChannelOverride)) {
            if (!(k instanceof ChannelLife)) {
                http = (HttpCompanion) k;
                k = http.base;
            }
            if (k instanceof ChannelLife) {
                life = (ChannelLife) k;
                k = life.base;
            }
        }
        ReaperCore c;
        Settings s;
        if (k instanceof ChannelOverride) {
            c = ((ChannelOverride) k).core;
            s = ((ChannelOverride) k).settings();
        } else {
            c = (ReaperCore) k;
            s = c.settings();
        }
        // The idle timeouts, shrunk under resource pressure (the scale is ONE without it).
        int scale = c.timeoutScale();
        long readIdle = PressureScale.scaled(s.readIdle, scale);
        long writeIdle = PressureScale.scaled(s.writeIdle, scale);
        long allIdle = PressureScale.scaled(s.allIdle, scale);
        long next = Long.MAX_VALUE;
        long stallAt = Long.MAX_VALUE;
        long writeUb = Long.MIN_VALUE;
        boolean waiting = false;
        boolean halfClosed = (state & HALF_CLOSED) != 0;
        if (s.watchesOutbound || halfClosed) {
            if (ledger != 0 || (state & OUT_EMPTY) == 0) {
                // Otherwise nothing was written since the buffer was last seen empty: it still is, and the
                // channel's buffer (three objects away) need not be touched.
                OutboundProgress.sample(this, w);
            }
            long outUb = w.upperBound(outTick);
            if ((state & OUT_EMPTY) == 0) {
                // Flushed bytes are waiting: the connection has something to say, so it is not write or all
                // idle. The kernel's send buffer makes progress visible here only in bursts, so whether the
                // peer still takes data is the write-stall timer's call alone.
                waiting = true;
                if (s.writeStall > 0) {
                    stallAt = outUb + s.writeStall;
                    if (stallAt - now <= 0 && OutboundProgress.sentSince(this, w)) {
                        // Netty's buffer saw no progress, but the socket did (a slow reader's window opened).
                        stallAt = w.upperBound(outTick) + s.writeStall;
                    }
                }
                next = now + s.outboundSample;
            } else {
                writeUb = Math.max(w.upperBound(writeStamp), outUb);
            }
        }
        long readAt = Long.MAX_VALUE;
        long writeAt = Long.MAX_VALUE;
        long allAt = Long.MAX_VALUE;
        long halfAt = Long.MAX_VALUE;
        long halfClose = halfClosed ? PressureScale.scaled(c.lifecycle().halfCloseNanos, scale) : 0;
        if ((state >>> BUSY_SHIFT) == 0) {
            long readUb = readIdle > 0 || allIdle > 0 ? w.upperBound(readStamp) : 0;
            if (readIdle > 0) {
                readAt = readUb + readIdle;
            }
            if (writeIdle > 0 && !waiting) {
                writeAt = writeUb + writeIdle;
            }
            if (allIdle > 0 && !waiting) {
                allAt = Math.max(readUb, writeUb) + allIdle;
            }
            if (halfClose > 0 && !waiting) {
                // From the FIN (the liveness stamp) and from the last outbound activity.
                halfAt = Math.max(w.upperBound(liveStamp), writeUb) + halfClose;
            }
        }
        long httpAt = http == null ? Long.MAX_VALUE : http.deadline(w, now, waiting);
        // The first bound crossed wins; on a tie the more specific reason (stall, read, write, all, HTTP).
        ReapReason reason = null;
        long at = Long.MAX_VALUE;
        long limit = 0;
        if (stallAt - now <= 0 && stallAt < at) {
            reason = ReapReason.WRITE_STALL;
            at = stallAt;
            limit = s.writeStall;
        }
        if (readAt - now <= 0 && readAt < at) {
            reason = ReapReason.READ_IDLE;
            at = readAt;
            limit = readIdle;
        }
        if (writeAt - now <= 0 && writeAt < at) {
            reason = ReapReason.WRITE_IDLE;
            at = writeAt;
            limit = writeIdle;
        }
        if (allAt - now <= 0 && allAt < at) {
            reason = ReapReason.ALL_IDLE;
            at = allAt;
            limit = allIdle;
        }
        if (httpAt - now <= 0 && httpAt < at) {
            reason = http.reason();
            at = httpAt;
            limit = http.limit(reason);
        }
        if (halfAt - now <= 0 && halfAt < at) {
            reason = ReapReason.HALF_CLOSED;
            at = halfAt;
            limit = halfClose;
        }
        long retireAt = ageFloor;
        if (reason == null && ageFloor == Long.MAX_VALUE && Retirement.on(c)) {
            retireAt = Retirement.visit(this, w, now, c, life, http);
            if (retireAt == Retirement.REAP_AGE || retireAt == Retirement.REAP_DRAIN) {
                if (waitsForIo(w, deferred, http != null)) {
                    return LoopWheel.AFTER_IO;
                }
                if (heldBack(w, now)) {
                    return LoopWheel.HOLD;
                }
                ReaperDrain drain = c.drain();
                if (retireAt == Retirement.REAP_DRAIN) {
                    return reap(ReapReason.DRAIN, now - drain.startNanos, drain.graceNanos, now, 0, 0);
                }
                long ageLimit = Retirement.ageLimit(this);
                return reap(ReapReason.MAX_AGE, ageLimit + Math.max(0, now - life.ageAt(w)), ageLimit, now, 0, 0);
            }
        }
        if (reason != null) {
            if (waitsForIo(w, deferred, reason == ReapReason.KEEPALIVE_TIMEOUT)) {
                return LoopWheel.AFTER_IO;
            }
            if (canWait(reason) && heldBack(w, now)) {
                return LoopWheel.HOLD;
            }
            return reap(reason, now - (at - limit), limit, now, 0, 0);
        }
        if (s.pingInterval > 0) {
            long hbAt = HeartbeatLogic.visit(this, w, s, now);
            if (hbAt == HeartbeatLogic.REAPED) {
                if (waitsForIo(w, deferred, false)) {
                    return LoopWheel.AFTER_IO;
                }
                return reap(ReapReason.HEARTBEAT_TIMEOUT, now - HeartbeatLogic.markedBy(this, w), s.pingTimeout,
                        now, s.maxMissed, s.maxMissed);
            }
            if (hbAt == LoopWheel.DETACH) {
                return LoopWheel.DETACH; // the ping's write closed the channel
            }
            next = Math.min(next, hbAt);
        }
        // Nothing has run out: a dry run's episode, if one was reported, is over.
        state &= ~DRY_SEEN;
        return Math.min(Math.min(Math.min(next, httpAt), Math.min(halfAt, retireAt)),
                Math.min(Math.min(stallAt, readAt), Math.min(writeAt, allAt)));
    }

    /**
     * Whether a close for {@code reason} may wait for the loop's close rate ({@link IdleReaper.Builder#closeRate}):
     * the idle timers, keep-alive, half-close, age and drain. A close that frees what a dead or hostile peer holds
     * (write stall, dead peer, heartbeat timeout, ping abuse, the request header and body timeouts) never waits, nor
     * does one whose goodbye already went out (max requests).
     */
    static boolean canWait(ReapReason reason) {
        switch (reason) {
            case READ_IDLE:
            case WRITE_IDLE:
            case ALL_IDLE:
            case KEEPALIVE_TIMEOUT:
            case HALF_CLOSED:
            case MAX_AGE:
            case DRAIN:
                return true;
            default:
                return false;
        }
    }

    /** Whether the loop's close rate holds this visit's close back (never in a dry run, which closes nothing). */
    private boolean heldBack(LoopWheel w, long now) {
        return !core().lifecycle().dryRun && !w.takeCloseToken(now);
    }

    /**
     * For a visit that decided to reap: whether the decision waits for one pass of the loop's I/O first, once: when
     * the loop lagged (bytes that arrived while it was held up are not stamped yet), and always for a keep-alive
     * close ({@code closeRace}: a request that arrived just now and is not read yet would meet a closed socket). A
     * decision that waited is final; it counts as late when the loop lagged.
     */
    private boolean waitsForIo(LoopWheel w, boolean deferred, boolean closeRace) {
        if (w.grantedVisit()) {
            return false; // held back by the close rate: it waited longer than a pass of I/O
        }
        if (deferred) {
            if (!closeRace || w.lagging()) {
                w.countLateReap();
            }
            return false;
        }
        if (closeRace || w.lagging()) {
            state |= DEFERRED;
            return true;
        }
        return false;
    }

    // ---------------------------------------------------------------- overrides and peer pings

    /** The reaper's tick resolution (twice the wheel's tick). */
    Duration tickResolution() {
        return Duration.ofNanos(core().tickNanos() * 2);
    }

    /**
     * Replaces this channel's timeouts and/or heartbeat (null keeps the current choice, which may be to follow the
     * reaper's) and looks at the channel again at the next tick. A new heartbeat starts ACTIVE. The rule that the
     * heartbeat fits inside the idle timeouts is checked again here, on the loop, against what is in effect now, so
     * that two overrides racing from two threads cannot break it: the one that would is refused with a WARN. Event
     * loop only; a no-op once the channel closed.
     */
    void override(IdleTimeouts timeouts, Heartbeat heartbeat) {
        if ((state & RETIRED) != 0) {
            return;
        }
        ReaperCore c = core();
        ChannelOverride cur = override();
        IdleTimeouts t = timeouts != null ? timeouts : cur != null ? cur.timeouts : null;
        Heartbeat h = heartbeat != null ? heartbeat : cur != null ? cur.heartbeat : null;
        ChannelOverride next = new ChannelOverride(c, t, h);
        Settings s = next.settings();
        try {
            s.heartbeat.checkFitsInside(s.timeouts);
        } catch (IllegalArgumentException e) {
            log.warn("{} override refused: {}", ctx.channel(), e.getMessage());
            return;
        }
        base(next);
        if (heartbeat != null && (state & REAPING) == 0) {
            HeartbeatLogic.stopProbing(this);
            pingTick = -1;
        }
        if ((state & (IN_WHEEL | REAPING)) == IN_WHEEL) {
            wheel.visitBy(this, wheel.nextTickStart());
        }
    }

    /** Reaps now, outside a wheel visit (ping abuse). Event loop only; ignored unless watched and not reaping. */
    void reapNow(ReapReason reason, long idleNanos, long limitNanos, int count, int of) {
        if ((state & (IN_WHEEL | REAPING)) != IN_WHEEL || !ctx.channel().isActive()) {
            return;
        }
        long next = reap(reason, idleNanos, limitNanos, core().ticker().read(), count, of);
        if (next != LoopWheel.DETACH && (state & IN_WHEEL) != 0) {
            wheel.visitBy(this, next);
        }
    }

    /**
     * Evicted for a newcomer, at the connection cap ({@link ReapReason#EVICTED}, {@link ConnectionCap}) or under
     * resource pressure ({@link ReapReason#PRESSURE}): reaped now with its goodbye. Event loop only, the newcomer's,
     * which is this channel's.
     */
    void evict(ReapReason reason, long now, int count, int of) {
        long idle = Math.max(0, now - Math.max(wheel.upperBound(readStamp), wheel.upperBound(writeStamp)));
        reapNow(reason, idle, 0, count, of);
    }

    @Override
    long evictableIdle(LoopWheel w, long now) {
        int st = state;
        if ((st & (IN_WHEEL | REAPING | RETIRED | OUT_EMPTY)) != (IN_WHEEL | OUT_EMPTY) || (st >>> BUSY_SHIFT) != 0
                || ledger != 0) {
            return -1;
        }
        return now - Math.max(w.upperBound(readStamp), w.upperBound(writeStamp));
    }

    // ---------------------------------------------------------------- reaping

    private long reap(ReapReason reason, long idleNanos, long limitNanos, long now, int count, int of) {
        Channel ch = ctx.channel();
        if (!ch.isActive()) {
            return LoopWheel.DETACH; // already closing; channelInactive follows
        }
        if (core().lifecycle().dryRun) {
            return wouldReap(ch, reason, idleNanos, limitNanos, now, count, of);
        }
        state |= REAPING;
        wheel.countClose();
        ReapEvent event = new ReapEvent(reason, idleNanos, limitNanos, count, of);
        ctx.fireUserEventTriggered(event);
        core().reaped(ch, event);
        if (!ch.isActive()) {
            return LoopWheel.DETACH;
        }
        if (core().resetOnReap()) {
            ch.config().setOption(ChannelOption.SO_LINGER, 0);
        }
        ChannelOutboundBuffer buf = ch.unsafe().outboundBuffer();
        long goodbye = core().goodbyeNanos();
        boolean speaks = goodbye > 0 && reason != ReapReason.WRITE_STALL;
        HttpCompanion http = speaks ? http() : null;
        ChannelFuture said = http != null ? http.goodbye(ctx, reason) : null;
        Object bye = speaks && said == null ? protocolGoodbye(ch, reason) : null;
        if (http != null && said == null && bye == null) {
            said = http.fallbackGoodbye(ch);
        }
        if (said != null) {
            // HTTP's own goodbye (a 408, the last response, GOAWAY), written and flushed where HTTP put it.
            said.addListener(http.closer(reason));
            return awaitGoodbye(now, goodbye);
        }
        if (bye != null) {
            // The protocol's goodbye (WebSocket Close 1001, HTTP/2 GOAWAY, ...) from the tail, so the host's
            // encoders apply; it flushes whatever the application wrote in answer to the event too.
            ch.writeAndFlush(bye).addListener(ChannelFutureListener.CLOSE);
            return awaitGoodbye(now, goodbye);
        }
        if (reason == ReapReason.WRITE_STALL || goodbye == 0) {
            // A stalled peer will not read a goodbye, and a zero goodbye timeout asks for none: close at once, from
            // here, first in the pipeline, so that no handler above (an HTTP/2 graceful shutdown waiting for
            // streams, a TLS close_notify) can defer it. (Netty refuses a void promise for close(), so each close
            // makes one promise.)
            ctx.close();
            return LoopWheel.DETACH;
        }
        if (buf == null || buf.totalPendingWriteBytes() == 0) {
            // Nothing to flush: close from the tail, so the host's handlers may say goodbye in their own words (an
            // HTTP/2 handler's GOAWAY), within the goodbye timeout; the wheel closes it regardless after that.
            ch.close();
            return awaitGoodbye(now, goodbye);
        }
        // Flush what the application wrote in answer to the ReapEvent, then close; the wheel closes the channel
        // at the next visit if the flush does not finish within the goodbye timeout.
        ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        return awaitGoodbye(now, goodbye);
    }

    /**
     * A dry run's decision: reported once per idle episode (the event down the pipeline, the listener, the stats
     * and the DEBUG line), and nothing said or closed. The entry is looked at again within half the shortest limit,
     * so that a visit sees the episode end (nothing run out) before a new one could run out.
     */
    private long wouldReap(Channel ch, ReapReason reason, long idleNanos, long limitNanos, long now, int count,
            int of) {
        if ((state & DRY_SEEN) == 0) {
            state |= DRY_SEEN;
            ReapEvent event = new ReapEvent(reason, idleNanos, limitNanos, count, of).asDryRun();
            ctx.fireUserEventTriggered(event);
            core().reaped(ch, event);
        }
        return now + dryRunRecheck();
    }

    /** Half the shortest enabled limit of this channel, and at least the tick resolution. */
    private long dryRunRecheck() {
        Settings s = settings();
        long shortest = s.smallestIdle;
        shortest = shorter(shortest, s.writeStall);
        shortest = shorter(shortest, s.pingInterval > 0 ? s.pingTimeout : 0);
        shortest = shorter(shortest, core().lifecycle().halfCloseNanos);
        HttpSettings h = core().http();
        shortest = shorter(shortest, h == null ? 0 : h.smallestEnabled().toNanos());
        long tick = core().tickNanos() * 2;
        return Math.max(tick, shortest / 2);
    }

    /** The smaller of two limits where 0 means disabled. */
    private static long shorter(long a, long b) {
        if (a == 0) {
            return b;
        }
        return b == 0 ? a : Math.min(a, b);
    }

    /**
     * After a goodbye's write: the flush may have completed, and the channel closed and left the wheel, right
     * there. Otherwise the goodbye's timeout runs from this moment (marked: the heartbeat is over, so its mark is
     * free), and the wheel closes the channel once it is up. Only these reaps read the clock; one that closes at
     * once does not.
     */
    private long awaitGoodbye(long now, long goodbye) {
        if ((state & IN_WHEEL) == 0) {
            return LoopWheel.DETACH;
        }
        HeartbeatLogic.mark(this, wheel);
        return now + goodbye;
    }

    /** The protocol's goodbye for {@code reason}, or null; a protocol that throws only logs. */
    private Object protocolGoodbye(Channel ch, ReapReason reason) {
        HeartbeatProtocol p = settings().protocol;
        if (p == null) {
            return null;
        }
        try {
            return p.goodbye(ch, reason);
        } catch (Throwable t) {
            log.warn("{} HeartbeatProtocol {} threw from goodbye({}); closing without one", ch, p, reason, t);
            return null;
        }
    }
}
