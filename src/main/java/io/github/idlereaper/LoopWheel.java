package io.github.idlereaper;

/**
 * A hashed timing wheel for one event loop of one reaper, plus the coarse clock that the loop's handlers stamp.
 *
 * <h2>Time</h2>
 * Time is cut into ticks of {@code tickNanos}: tick {@code t} starts at {@code origin + t * tickNanos}. The wheel
 * never reads the clock on its own; {@link #advance(long)} pushes time in (from {@link #run()} in production, from
 * the test in tests), so it is deterministic to test.
 *
 * <h2>Stamps</h2>
 * Each run publishes {@link #stamp}, the number of the last processed tick. A handler that sees traffic stores it
 * in an int field: one load, one store, no clock read. A stamp {@code s} says "the activity happened after tick
 * {@code s} was processed and before tick {@code s + 1} was", so the wheel turns it into a strict upper bound on
 * the activity's real time with {@link #upperBound(int)}: the start of tick {@code s + 1} plus how late that tick
 * was processed. How late each tick ran is kept at four levels of coarseness: tick by tick for the last
 * {@code BUCKETS} ticks, then the largest delay per block of 2<sup>4</sup>, 2<sup>14</sup> and 2<sup>24</sup> ticks,
 * which together cover the whole 31-bit stamp range. So a stall of the loop (a GC pause, a blocked handler) can make
 * a reap late but never early, and a stall only ever weighs on stamps from its own blocks: nothing is remembered
 * for the life of the process.
 *
 * <h2>Buckets</h2>
 * An entry is placed in the bucket of the tick in which its deadline falls, at most {@code BUCKETS - 1} ticks
 * ahead; an entry whose deadline is further away is visited at that horizon and placed again. A visit that comes
 * before the deadline (the tick ran earlier than it) finds nothing due, since every entry checks its own
 * deadlines, and parks the entry in one of {@link #SLOTS} parts of the current tick, which a one-off task visits
 * at that part's end. Due entries go to a backlog that is drained in slices of about a millisecond or
 * {@link #SLICE_CLOSES} closes, so that a burst of expiries never holds up the loop's I/O.
 *
 * <h2>Visits only move earlier</h2>
 * Each entry remembers the tick it will be visited at ({@link WheelEntry#visit}). Between visits, the only way to
 * move it is {@link #visitBy(WheelEntry, long)}, which brings the visit earlier and never postpones it: a deadline
 * that appears between visits (a stall that starts, the end of a busy period, a new override) can shorten the
 * wait, and no timer can push back another's. A visit itself computes the entry's earliest armed deadline from
 * the entry's own state; a {@code visitBy} that comes during the entry's own visit (from an event that the visit
 * caused) is folded into that result, and an entry that leaves the wheel during its own visit is not placed again.
 *
 * <p>Not thread-safe: confined to its event loop.
 */
final class LoopWheel implements Runnable {

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(IdleReaper.class);

    /** Returned by {@link WheelEntry#expire} to leave the wheel. */
    static final long DETACH = Long.MIN_VALUE;
    /**
     * Returned by {@link WheelEntry#expire} to be visited again once the loop has handled the I/O that is ready:
     * after a lagging run ({@link #lagging()}), whose stamps may not show bytes that arrived while the loop was
     * held up.
     */
    static final long AFTER_IO = Long.MIN_VALUE + 2;
    /**
     * Returned by {@link WheelEntry#expire} when a close that can wait found no token of the loop's close rate
     * ({@link #takeCloseToken}): the entry waits, in order, until the rate lets it close, and is visited then.
     */
    static final long HOLD = Long.MIN_VALUE + 6;

    static final int BUCKETS = 512;
    private static final int BUCKET_MASK = BUCKETS - 1;
    private static final int STAMP_MASK = Integer.MAX_VALUE;
    /** The delay record's levels: a level keeps the largest delay per block of {@code 1 << shift} ticks. */
    private static final int[] LEVEL_SHIFT = {0, 4, 14, 24};
    /** Blocks per level; the last level spans 2^31 ticks, the whole stamp range. */
    private static final int[] LEVEL_BLOCKS = {BUCKETS, 1024, 1024, 128};
    /** Entries processed between two clock reads while draining the backlog (a reap costs some microseconds). */
    private static final int SLICE_CHECK = 8;
    /**
     * Closes one slice may make before it yields. Each close leaves Netty work behind (firing channelInactive,
     * deregistering, closing a LocalChannel's peer) that runs after the slice and before the loop's next I/O, and
     * costs more than the close itself, so a slice bounded by its own time alone kept a burst's I/O waiting for
     * several times that long.
     */
    static final int SLICE_CLOSES = 32;
    /** How many entries {@link #mostIdle} looks at, at most, to choose a connection to evict. */
    static final int EVICT_SCAN = 64;
    /** How many parts a tick is cut into for entries visited before a deadline within it. */
    static final int SLOTS = 16;

    private final Ticker ticker;
    private final Scheduler scheduler;
    private final long tickNanos;
    private final long sliceNanos;
    /** The length of one of the {@link #SLOTS} parts of a tick that an early visit is retried at. */
    private final long slotNanos;
    private final long origin;
    private final Runnable afterRun;
    private final Runnable drainTask = this::drainNow;
    private final Runnable afterIoTask = this::runAfterIo;
    /** Entries to visit again after the loop's next pass of I/O ({@link #AFTER_IO}). */
    private final WheelEntry afterIo = new Sentinel();
    /** Closes held back by the close rate ({@link #HOLD}), first held first. */
    private final WheelEntry held = new Sentinel();
    /** Held entries the rate let go, each with a token paid for: visited first, and allowed to close. */
    private final WheelEntry released = new Sentinel();
    /** The close rate as the cost of one close in nanos of credit; 0 when closes are not rate-limited. */
    private long closeCostNanos;
    /** The most credit the bucket holds (its burst). */
    private long creditCapNanos;
    /** The bucket's credit, in nanos, as of {@link #lastRefill}. */
    private long credit;
    private long lastRefill;
    /** The entry being visited came from {@link #released}: its close is paid for. */
    private boolean grantedVisit;
    /** Closes held back by the close rate since the wheel was made: written on the loop, read by the stats. */
    private volatile long heldBack;
    /** {@link #afterIoTask} is scheduled and has not run yet. */
    private boolean afterIoPending;
    /** The ticks the last run processed started more than a tick before it: the loop was held up. */
    private boolean lagging;
    /** The largest lag seen since the wheel was made, in nanos: written on the loop, read by the stats. */
    private volatile long maxLagNanos;
    /** Reaps decided at a lagging visit (counted by entries): read by the stats. */
    private volatile long lateReaps;
    /** Asks sockets for their progress, for the loop's write-stall checks. */
    final SocketProgress socketProgress = new SocketProgress();

    private final WheelEntry[] buckets = new WheelEntry[BUCKETS];
    private final WheelEntry backlog = new Sentinel();
    /**
     * Entries visited before their deadline, which falls within the current tick: slot {@code i} holds those due
     * by {@code tickStart(done) + i * slotNanos}, and a one-off task visits it then, rather than the next tick
     * visiting them a whole tick later. The next tick takes them all too, should it come first, so the slots are
     * only a shortcut. Slot 0 is unused.
     */
    private final WheelEntry[] slots = new WheelEntry[SLOTS];
    private final Runnable[] slotTasks = new Runnable[SLOTS];
    /** Bit {@code i}: slot {@code i}'s task is scheduled and has not run yet. */
    private int slotsPending;
    /** The drain's continuation is scheduled and has not run yet. */
    private boolean continuing;
    /** How late ticks ran: per level, the largest delay of each of its recent blocks (level 0: tick by tick). */
    private final long[][] levelDelay = new long[LEVEL_SHIFT.length][];
    /** Per level, the block its last record went to, or -1. */
    private final long[] lastBlock = new long[LEVEL_SHIFT.length];

    /** The last processed tick. */
    private long done;
    /** {@code done} as a non-negative int, read by handlers on every message. */
    int stamp;
    /**
     * The reaper whose wheel this is (null for a wheel made by a test): handlers that follow it with nothing of their
     * own read its settings from here rather than through their own chain (see {@link ReaperHandler#AGE_STAMP}).
     */
    ReaperCore owner;
    /**
     * The timeout advisor's gaps on this loop ({@link GapHistogram}), written by handlers on the read path; null when
     * the advisor is off, which is all the read path asks.
     */
    long[] gaps;
    /**
     * The advisor's candidate timeout in ticks (the read idle timeout): longer gaps are counted apart. Plain, not
     * volatile: read on the read path; a new value from {@code updateTimeouts} reaches the loop soon, and a gap
     * counted against the old one in between is a statistic, not a decision.
     */
    int gapCandidate = Integer.MAX_VALUE;

    private int size;
    /** The entry whose {@link WheelEntry#expire} is running, or null. */
    private WheelEntry visiting;
    /** The earliest {@link #visitBy} asked for {@link #visiting} during its visit, or {@code Long.MAX_VALUE}. */
    private long visitingBy;
    /** {@link #visiting} left the wheel during its own visit. */
    private boolean visitingLeft;
    /** Closes counted by entries in the current slice ({@link #countClose()}). */
    private int closes;
    /** {@link #mostIdle}'s choice so far, and its idle time. */
    private WheelEntry evictBest;
    private long evictBestIdle;
    private Runnable stopTicking;
    private Runnable onEmpty;

    /**
     * @param ticker the clock
     * @param scheduler runs the wheel
     * @param tickNanos the tick length
     * @param sliceNanos how long one run may spend on due entries before it yields to I/O
     * @param afterRun called at the end of every run (for the reaper's rate-limited summary); may be null
     */
    LoopWheel(Ticker ticker, Scheduler scheduler, long tickNanos, long sliceNanos, Runnable afterRun) {
        if (tickNanos <= 0) {
            throw new IllegalArgumentException("tickNanos must be positive: " + tickNanos);
        }
        this.ticker = ticker;
        this.scheduler = scheduler;
        this.tickNanos = tickNanos;
        this.sliceNanos = sliceNanos;
        this.slotNanos = Math.max(1, tickNanos / SLOTS);
        this.afterRun = afterRun;
        this.origin = ticker.read();
        for (int i = 0; i < LEVEL_SHIFT.length; i++) {
            levelDelay[i] = new long[LEVEL_BLOCKS[i]];
            lastBlock[i] = -1;
        }
        for (int i = 0; i < BUCKETS; i++) {
            WheelEntry s = new Sentinel();
            s.prev = s;
            s.next = s;
            buckets[i] = s;
        }
        backlog.prev = backlog;
        backlog.next = backlog;
        afterIo.prev = afterIo;
        afterIo.next = afterIo;
        held.prev = held;
        held.next = held;
        released.prev = released;
        released.next = released;
        for (int i = 1; i < SLOTS; i++) {
            WheelEntry slot = new Sentinel();
            slot.prev = slot;
            slot.next = slot;
            slots[i] = slot;
            int bit = 1 << i;
            slotTasks[i] = () -> runSlot(slot, bit);
        }
    }

    long tickNanos() {
        return tickNanos;
    }

    /**
     * Whether the loop was held up: the ticks of the last run started more than a tick before it (a blocked
     * handler, a GC pause, a starved CPU). A decision to reap at such a visit waits for one pass of I/O first
     * ({@link #AFTER_IO}), so that bytes that arrived meanwhile are seen.
     */
    boolean lagging() {
        return lagging;
    }

    /** The largest lag of a tick since the wheel was made, in nanos. Any thread. */
    long maxLagNanos() {
        return maxLagNanos;
    }

    /** Reaps decided at a lagging visit. Any thread. */
    long lateReaps() {
        return lateReaps;
    }

    /** Counts a reap decided at a lagging visit. Event loop only. */
    void countLateReap() {
        lateReaps++;
    }

    /**
     * Limits the closes that can wait to {@code perSecond} on this loop, with bursts of up to {@code burst} (a token
     * bucket; the burst is at least one tick's worth of tokens, so that the rate holds at any tick). Set once,
     * before any entry; 0 for no limit.
     */
    void closeRate(int perSecond, int burst) {
        if (perSecond <= 0) {
            closeCostNanos = 0;
            return;
        }
        closeCostNanos = Math.max(1, 1_000_000_000L / perSecond);
        long perTick = (tickNanos + closeCostNanos - 1) / closeCostNanos;
        creditCapNanos = Math.max(burst, perTick + 1) * closeCostNanos;
        credit = burst * closeCostNanos;
        lastRefill = ticker.read();
    }

    /**
     * For an entry that decided at its visit to close for a reason that can wait: whether the loop's close rate lets
     * it close now. An entry the rate let go is paid for; others wait behind those held already. Event loop only.
     */
    boolean takeCloseToken(long now) {
        if (closeCostNanos == 0 || grantedVisit) {
            return true;
        }
        if (held.next != held) {
            return false;
        }
        refill(now);
        if (credit >= closeCostNanos) {
            credit -= closeCostNanos;
            return true;
        }
        return false;
    }

    /** The entry being visited was held back by the close rate and is now let go (it waited long enough). */
    boolean grantedVisit() {
        return grantedVisit;
    }

    /** Closes held back by the close rate since the wheel was made. Any thread. */
    long heldBack() {
        return heldBack;
    }

    private void refill(long now) {
        long gained = now - lastRefill;
        if (gained > 0) {
            credit = Math.min(creditCapNanos, credit + gained);
            lastRefill = now;
        }
    }

    /** Lets held entries go, first held first, as far as the rate's credit pays for their closes. */
    private void releaseHeld(long now) {
        if (held.next == held) {
            return;
        }
        refill(now);
        while (held.next != held && credit >= closeCostNanos) {
            credit -= closeCostNanos;
            WheelEntry e = held.next;
            unlink(e);
            linkBefore(released, e);
        }
    }

    /**
     * The connection to evict at the cap: of the first {@link #EVICT_SCAN} entries in the order the wheel visits
     * them (held back by the close rate, due, waiting in this tick, then bucket by bucket from the next tick), the one
     * idle longest ({@link WheelEntry#evictableIdle}), if at least {@code minIdleNanos}; or null. The wheel orders
     * entries by their earliest deadline, so the ones it visits next are those nearest their idle limit. O(1): at
     * most {@code EVICT_SCAN} entries and the {@link #BUCKETS} list heads, whatever the wheel holds.
     */
    WheelEntry mostIdle(long now, long minIdleNanos) {
        evictBest = null;
        evictBestIdle = minIdleNanos - 1;
        int seen = scanForEviction(held, now, 0);
        seen = scanForEviction(released, now, seen);
        seen = scanForEviction(backlog, now, seen);
        seen = scanForEviction(afterIo, now, seen);
        for (int i = 1; i < SLOTS && seen < EVICT_SCAN; i++) {
            seen = scanForEviction(slots[i], now, seen);
        }
        for (long t = done + 1; t < done + BUCKETS && seen < EVICT_SCAN; t++) {
            seen = scanForEviction(buckets[(int) t & BUCKET_MASK], now, seen);
        }
        WheelEntry best = evictBest;
        evictBest = null;
        return best;
    }

    private int scanForEviction(WheelEntry head, long now, int seen) {
        for (WheelEntry e = head.next; e != head && seen < EVICT_SCAN; e = e.next, seen++) {
            long idle = e.evictableIdle(this, now);
            if (idle > evictBestIdle) {
                evictBest = e;
                evictBestIdle = idle;
            }
        }
        return seen;
    }

    /** Sets what to run each time the last entry leaves. */
    void onEmpty(Runnable action) {
        this.onEmpty = action;
    }

    /** How far ahead the wheel can place an entry; a later deadline is visited at this horizon first. */
    long horizonNanos() {
        return (BUCKETS - 1) * tickNanos;
    }

    /** Entries registered with this wheel. */
    int size() {
        return size;
    }

    Ticker ticker() {
        return ticker;
    }

    /** Registers {@code e} and places it for {@code deadline}. Starts the wheel's tick if it was idle. */
    void register(WheelEntry e, long deadline) {
        if (size++ == 0) {
            start();
        }
        place(e, deadline);
    }

    /** Removes {@code e} for good. Idempotent only in the sense that an unlinked entry is just uncounted. */
    void unregister(WheelEntry e) {
        if (e == visiting) {
            visitingLeft = true;
        }
        unlink(e);
        if (--size == 0) {
            stop();
            if (onEmpty != null) {
                onEmpty.run();
            }
        }
    }

    /**
     * Brings {@code e}'s next visit to no later than {@code deadline}'s tick; never postpones it. O(1), no
     * allocation. During {@code e}'s own visit the request is folded into the visit's result. An entry that is not
     * in the wheel is left alone. Every timer that starts between visits goes through here.
     */
    void visitBy(WheelEntry e, long deadline) {
        if (e == visiting) {
            if (visitingBy == Long.MAX_VALUE || deadline - visitingBy < 0) {
                visitingBy = deadline;
            }
            return;
        }
        if (e.prev == null) {
            return;
        }
        // Ticks ahead of the last processed one: at most BUCKETS - 1 for a bucket, zero or less for an entry in
        // the backlog or a slot (due now), in the 31-bit stamp arithmetic.
        int ahead = ((e.visit - (int) done) << 1) >> 1;
        long t = tickFor(deadline);
        if (ahead > 0 && t < done + ahead) {
            unlink(e);
            link(e, t);
        }
    }

    /** Moves every registered entry to the backlog, so each is visited (in slices) as soon as possible. */
    void revisitAll() {
        spliceSlotsToBacklog();
        spliceToBacklog(afterIo);
        for (WheelEntry head : buckets) {
            spliceToBacklog(head);
        }
        int now = (int) done & STAMP_MASK;
        for (WheelEntry e = backlog.next; e != backlog; e = e.next) {
            e.visit = now;
        }
        continueLater();
    }

    /**
     * A strict upper bound, in ticker nanos, on the real time of an activity stamped {@code stamp}: the activity
     * happened no later than the returned time.
     */
    long upperBound(int stamp) {
        long s = tickOf(stamp);
        if (s >= done) {
            // Stamped after the last tick was processed: all we know is that it has happened by now.
            return ticker.read();
        }
        long t = s + 1;
        return tickStart(t) + delayOf(t);
    }

    /** How far {@code time} lies after the start of the (recent) tick stamped {@code stamp}, in nanos. */
    long nanosIntoTick(int stamp, long time) {
        return time - tickStart(tickOf(stamp));
    }

    /** The start of the tick {@code ticks} after the (recent) tick stamped {@code stamp}. */
    long tickStartAfter(int stamp, long ticks) {
        return tickStart(tickOf(stamp) + ticks);
    }

    /**
     * The start of the tick stamped {@code stamp} when it lies ahead of the last processed tick (within half the
     * stamp range), else {@code Long.MIN_VALUE}: for a stamp of the future, such as an age's due tick.
     */
    long startIfAhead(int stamp) {
        int d = ((stamp - (int) done) << 1) >> 1;
        return d > 0 ? tickStart(done + d) : Long.MIN_VALUE;
    }

    /** The stamp {@code ticks} before the last processed tick (a stamp from the past, for a backdated start). */
    int stampBefore(long ticks) {
        return (int) (done - ticks) & STAMP_MASK;
    }

    /**
     * The stamp of the tick in which {@code time} fell, at most the last processed tick's: a stamp whose
     * {@link #upperBound} is no earlier than {@code time}, for an event the wheel learns of after it happened.
     */
    int stampAt(long time) {
        long t = Math.min(done, Math.floorDiv(time - origin, tickNanos));
        return (int) t & STAMP_MASK;
    }

    /** Whether stamp {@code a} is later than stamp {@code b}, both recent (31-bit stamp arithmetic). */
    static boolean later(int a, int b) {
        return ((a - b) << 1) > 0;
    }

    /** The absolute number of the recent tick stamped {@code stamp}: at most {@link #done}. */
    private long tickOf(int stamp) {
        return done - ((((int) done & STAMP_MASK) - stamp) & STAMP_MASK);
    }

    /** The time the next tick starts: the earliest time a newly placed entry can be visited. */
    long nextTickStart() {
        return tickStart(done + 1);
    }

    @Override
    public void run() {
        advance(ticker.read());
    }

    /** Processes every tick that has started by {@code now}, then drains due entries within one slice. */
    void advance(long now) {
        long cur = Math.floorDiv(now - origin, tickNanos);
        if (cur > done) {
            long prev = done;
            recordDelays(prev + 1, cur, now);
            long lag = now - tickStart(prev + 1);
            lagging = lag > tickNanos;
            if (lag > maxLagNanos) {
                maxLagNanos = lag;
            }
            // Entries waiting in a slot of the last tick are due by now.
            spliceSlotsToBacklog();
            if (cur - prev >= BUCKETS) {
                for (WheelEntry head : buckets) {
                    spliceToBacklog(head);
                }
            } else {
                for (long t = prev + 1; t <= cur; t++) {
                    spliceToBacklog(buckets[(int) t & BUCKET_MASK]);
                }
            }
            done = cur;
            stamp = (int) cur & STAMP_MASK;
        }
        releaseHeld(now);
        if (!continuing) {
            drain(now);
        }
        if (afterRun != null) {
            afterRun.run();
        }
    }

    private void drainNow() {
        continuing = false;
        drain(ticker.read());
    }

    /**
     * Schedules the drain's continuation if the backlog is not empty and none is scheduled. While one is, every
     * other way into the drain (the tick, a slot's task) only adds to the backlog: each of them would otherwise
     * drain a slice of its own, and when several come due together the loop runs them all in one task pass, several
     * slices back to back before its next I/O.
     */
    private void continueLater() {
        if ((backlog.next != backlog || released.next != released) && !continuing) {
            continuing = true;
            scheduler.execute(drainTask);
        }
    }

    /** Called by an entry that closes its channel from {@link WheelEntry#expire}: part of the slice's budget. */
    void countClose() {
        closes++;
    }

    private void drain(long now) {
        long sliceEnd = now + sliceNanos;
        // How late the visits run beyond the tick each was due in: a held-up loop, and also the reaper's own
        // backlog (a burst of reaps drained in slices between passes of I/O). Part of the loop's lag.
        long maxLate = maxLagNanos;
        int n = 0;
        closes = 0;
        WheelEntry e;
        int toSchedule = 0;
        while (true) {
            boolean granted = (e = released.next) != released;
            if (!granted && (e = backlog.next) == backlog) {
                break;
            }
            unlink(e);
            // A held entry's wait is the close rate's, not the loop's lag.
            long late = granted ? 0 : now - tickStart(tickOf(e.visit)) - tickNanos;
            if (late > maxLate) {
                maxLate = late;
            }
            grantedVisit = granted;
            visiting = e;
            visitingBy = Long.MAX_VALUE;
            visitingLeft = false;
            long next;
            try {
                next = e.expire(this, now);
            } catch (Throwable t) {
                // One entry's failure must not stop the wheel (Netty never runs a periodic task again once it
                // threw): look at it again at the next tick.
                log.warn("an IdleReaper wheel entry failed at its visit; visiting it again at the next tick", t);
                next = now + tickNanos;
            } finally {
                visiting = null;
                grantedVisit = false;
            }
            if (next == HOLD && !visitingLeft) {
                linkBefore(held, e);
                e.visit = (int) done & STAMP_MASK;
                heldBack++;
            } else if (next == AFTER_IO && !visitingLeft) {
                linkBefore(afterIo, e);
                e.visit = (int) done & STAMP_MASK;
                if (!afterIoPending) {
                    afterIoPending = true;
                    scheduler.execute(afterIoTask);
                }
            } else if (next != DETACH && !visitingLeft) {
                if (visitingBy != Long.MAX_VALUE && (next == Long.MAX_VALUE || visitingBy - next < 0)) {
                    next = visitingBy;
                }
                // Visited before a deadline that comes before the next tick's start (entries are placed at the
                // tick in which their deadline falls): wait in a slot of this tick, not for the next tick.
                long into = next == Long.MAX_VALUE ? Long.MAX_VALUE : next - tickStart(done);
                long slot = into > 0 && into < tickNanos ? (into + slotNanos - 1) / slotNanos : SLOTS;
                if (slot < SLOTS) {
                    linkBefore(slots[(int) slot], e);
                    e.visit = (int) done & STAMP_MASK;
                    toSchedule |= 1 << slot;
                } else {
                    place(e, next);
                }
            }
            if (closes >= SLICE_CLOSES || (++n % SLICE_CHECK == 0 && ticker.read() - sliceEnd >= 0)) {
                break;
            }
        }
        if (maxLate > maxLagNanos) {
            maxLagNanos = maxLate;
        }
        continueLater();
        toSchedule &= ~slotsPending;
        if (toSchedule != 0) {
            long start = tickStart(done);
            long read = ticker.read();
            for (int i = 1; i < SLOTS; i++) {
                if ((toSchedule & (1 << i)) != 0) {
                    slotsPending |= 1 << i;
                    scheduler.schedule(slotTasks[i], Math.max(0, start + i * slotNanos - read));
                }
            }
        }
    }

    private void runAfterIo() {
        afterIoPending = false;
        visitNow(afterIo);
    }

    private void runSlot(WheelEntry slot, int bit) {
        slotsPending &= ~bit;
        visitNow(slot);
    }

    /** Moves the entries waiting in {@code list} to the backlog, and drains it unless a continuation will. */
    private void visitNow(WheelEntry list) {
        if (list.next != list) {
            spliceToBacklog(list);
            if (!continuing) {
                drain(ticker.read());
            }
        }
    }

    private void spliceSlotsToBacklog() {
        for (int i = 1; i < SLOTS; i++) {
            spliceToBacklog(slots[i]);
        }
    }

    private void place(WheelEntry e, long deadline) {
        link(e, tickFor(deadline));
    }

    /**
     * The tick whose bucket an entry due at {@code deadline} goes to: the tick in which the deadline falls, not the
     * first one after it (a deadline taken from an upper bound lies just after a tick's start, since the bound
     * includes how late a tick ran, and the ceiling put every such entry a whole tick late; if the tick runs before
     * the deadline, the visit finds nothing due and the entry waits in a slot of that tick, see drain), within the
     * next tick and the horizon.
     */
    private long tickFor(long deadline) {
        if (deadline == Long.MAX_VALUE) {
            return done + BUCKETS - 1; // no deadline: look again at the horizon
        }
        long t = Math.floorDiv(deadline - origin, tickNanos);
        if (t <= done) {
            return done + 1;
        }
        return Math.min(t, done + BUCKETS - 1);
    }

    private void link(WheelEntry e, long tick) {
        linkBefore(buckets[(int) tick & BUCKET_MASK], e);
        e.visit = (int) tick & STAMP_MASK;
    }

    private long tickStart(long t) {
        return origin + t * tickNanos;
    }

    /** How late tick {@code t} ran, at the finest level that still remembers it. */
    private long delayOf(long t) {
        int last = LEVEL_SHIFT.length - 1;
        for (int i = 0; i < last; i++) {
            int shift = LEVEL_SHIFT[i];
            if ((done >> shift) - (t >> shift) < LEVEL_BLOCKS[i]) {
                return levelDelay[i][(int) (t >> shift) & (LEVEL_BLOCKS[i] - 1)];
            }
        }
        // The last level spans the whole stamp range: no stamp can be older.
        return levelDelay[last][(int) (t >> LEVEL_SHIFT[last]) & (LEVEL_BLOCKS[last] - 1)];
    }

    /**
     * Records how late ticks {@code from..to} ran, at every level; within a block the first of them ran the
     * latest. Ticks older than a level's span are not recorded there (no stamp can refer to them through it).
     */
    private void recordDelays(long from, long to, long now) {
        for (int i = 0; i < LEVEL_SHIFT.length; i++) {
            int shift = LEVEL_SHIFT[i];
            int blocks = LEVEL_BLOCKS[i];
            long[] delays = levelDelay[i];
            long first = Math.max(from, ((to >> shift) - blocks + 1) << shift);
            for (long t = first; t <= to; t = ((t >> shift) + 1) << shift) {
                long block = t >> shift;
                int slot = (int) block & (blocks - 1);
                long delay = now - tickStart(t);
                if (block != lastBlock[i]) {
                    delays[slot] = delay;
                    lastBlock[i] = block;
                } else if (delay > delays[slot]) {
                    delays[slot] = delay;
                }
            }
        }
    }

    private void start() {
        long now = ticker.read();
        long cur = Math.floorDiv(now - origin, tickNanos);
        if (cur > done) {
            // No entry holds a stamp from the idle gap, so its ticks need no delay record; forget the last era's.
            for (int i = 0; i < LEVEL_SHIFT.length; i++) {
                java.util.Arrays.fill(levelDelay[i], 0);
                lastBlock[i] = -1;
            }
            done = cur;
            stamp = (int) cur & STAMP_MASK;
        }
        long initialDelay = Math.max(0, tickStart(done + 1) - now);
        stopTicking = scheduler.startPeriodic(this, initialDelay, tickNanos);
    }

    private void stop() {
        if (stopTicking != null) {
            stopTicking.run();
            stopTicking = null;
        }
    }

    private void spliceToBacklog(WheelEntry head) {
        if (head.next == head) {
            return;
        }
        WheelEntry first = head.next;
        WheelEntry last = head.prev;
        head.next = head;
        head.prev = head;
        WheelEntry tail = backlog.prev;
        tail.next = first;
        first.prev = tail;
        last.next = backlog;
        backlog.prev = last;
    }

    private static void linkBefore(WheelEntry head, WheelEntry e) {
        WheelEntry tail = head.prev;
        e.prev = tail;
        e.next = head;
        tail.next = e;
        head.prev = e;
    }

    private static void unlink(WheelEntry e) {
        WheelEntry p = e.prev;
        if (p == null) {
            return;
        }
        WheelEntry n = e.next;
        p.next = n;
        n.prev = p;
        e.prev = null;
        e.next = null;
    }

    /** A bucket's list head. Never expires. */
    private static final class Sentinel extends WheelEntry {
        @Override
        long expire(LoopWheel wheel, long now) {
            throw new AssertionError("a sentinel never expires");
        }
    }
}
