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
 * was processed. How late each tick ran is kept tick by tick for the last {@code BUCKETS} ticks, per block of 16
 * ticks for the last 16384 ticks, and as one maximum beyond that, so a stall of the loop (a GC pause, a blocked
 * handler) can make a reap late but never early.
 *
 * <h2>Buckets</h2>
 * An entry is placed in the bucket of the tick in which its deadline falls, at most {@code BUCKETS - 1} ticks
 * ahead; an entry whose deadline is further away is visited at that horizon and placed again. A visit that comes
 * before the deadline (the tick ran earlier than it) finds nothing due, since every entry checks its own
 * deadlines, and parks the entry in one of {@link #SLOTS} parts of the current tick, which a one-off task visits
 * at that part's end. No entry carries a deadline field. Due entries go to a backlog that is drained in slices
 * of about a millisecond or {@link #SLICE_CLOSES} closes, so that a burst of expiries never holds up the loop's
 * I/O.
 *
 * <p>Not thread-safe: confined to its event loop.
 */
final class LoopWheel implements Runnable {

    /** Returned by {@link WheelEntry#expire} to leave the wheel. */
    static final long DETACH = Long.MIN_VALUE;

    static final int BUCKETS = 512;
    private static final int BUCKET_MASK = BUCKETS - 1;
    private static final int STAMP_MASK = Integer.MAX_VALUE;
    private static final int BLOCK_SHIFT = 4;
    private static final int BLOCKS = 1024;
    private static final int BLOCK_MASK = BLOCKS - 1;
    /** Entries processed between two clock reads while draining the backlog (a reap costs some microseconds). */
    private static final int SLICE_CHECK = 8;
    /**
     * Closes one slice may make before it yields. Each close leaves Netty work behind (firing channelInactive,
     * deregistering, closing a LocalChannel's peer) that runs after the slice and before the loop's next I/O, and
     * costs more than the close itself, so a slice bounded by its own time alone kept a burst's I/O waiting for
     * several times that long.
     */
    static final int SLICE_CLOSES = 32;
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
    /** How late each of the last {@code BUCKETS} ticks ran, by tick; older ticks fall back to their block. */
    private final long[] tickDelay = new long[BUCKETS];
    private final long[] blockDelay = new long[BLOCKS];
    private long lastBlock = -1;
    private long evictedDelay;

    /** The last processed tick. */
    private long done;
    /** {@code done} as a non-negative int, read by handlers on every message. */
    int stamp;

    private int size;
    /** Closes counted by entries in the current slice ({@link #countClose()}). */
    private int closes;
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
        for (int i = 0; i < BUCKETS; i++) {
            WheelEntry s = new Sentinel();
            s.prev = s;
            s.next = s;
            buckets[i] = s;
        }
        backlog.prev = backlog;
        backlog.next = backlog;
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
        unlink(e);
        if (--size == 0) {
            stop();
            if (onEmpty != null) {
                onEmpty.run();
            }
        }
    }

    /** Moves a registered entry to a new deadline. */
    void reschedule(WheelEntry e, long deadline) {
        unlink(e);
        place(e, deadline);
    }

    /** Moves every registered entry to the backlog, so each is visited (in slices) as soon as possible. */
    void revisitAll() {
        spliceSlotsToBacklog();
        for (WheelEntry head : buckets) {
            spliceToBacklog(head);
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

    /**
     * How many ticks {@code time} lies after the start of the (recent) tick stamped {@code stamp}, rounded up: 0
     * at that start exactly, 1 within the tick. Never negative.
     */
    long ticksIntoTick(int stamp, long time) {
        long d = time - tickStart(tickOf(stamp));
        return d <= 0 ? 0 : (d + tickNanos - 1) / tickNanos;
    }

    /** The start of the tick {@code ticks} after the (recent) tick stamped {@code stamp}. */
    long tickStartAfter(int stamp, long ticks) {
        return tickStart(tickOf(stamp) + ticks);
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
        if (backlog.next != backlog && !continuing) {
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
        int n = 0;
        closes = 0;
        WheelEntry e;
        int toSchedule = 0;
        while ((e = backlog.next) != backlog) {
            unlink(e);
            long next = e.expire(this, now);
            if (next != DETACH && !e.linked()) {
                // Visited before a deadline that comes before the next tick's start (entries are placed at the
                // tick in which their deadline falls): wait in a slot of this tick, not for the next tick.
                long into = next - tickStart(done);
                long slot = into > 0 ? (into + slotNanos - 1) / slotNanos : SLOTS;
                if (slot < SLOTS) {
                    linkBefore(slots[(int) slot], e);
                    toSchedule |= 1 << slot;
                } else {
                    place(e, next);
                }
            }
            if (closes >= SLICE_CLOSES || (++n % SLICE_CHECK == 0 && ticker.read() - sliceEnd >= 0)) {
                break;
            }
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

    private void runSlot(WheelEntry slot, int bit) {
        slotsPending &= ~bit;
        if (slot.next != slot) {
            spliceToBacklog(slot);
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
        // The tick in which the deadline falls, not the first one after it: a deadline taken from an upper bound
        // lies just after a tick's start (the bound includes how late a tick ran), and the ceiling put every such
        // entry a whole tick late. If the tick runs before the deadline, the visit finds nothing due (every visit
        // checks its own deadlines) and the entry waits in a slot of that tick (see drain).
        long t = Math.floorDiv(deadline - origin, tickNanos);
        if (t <= done) {
            t = done + 1;
        } else if (t > done + BUCKETS - 1) {
            t = done + BUCKETS - 1;
        }
        linkBefore(buckets[(int) t & BUCKET_MASK], e);
    }

    private long tickStart(long t) {
        return origin + t * tickNanos;
    }

    private long delayOf(long t) {
        if (done - t < BUCKETS) {
            return tickDelay[(int) t & BUCKET_MASK];
        }
        long block = t >> BLOCK_SHIFT;
        if ((done >> BLOCK_SHIFT) - block < BLOCKS) {
            return blockDelay[(int) block & BLOCK_MASK];
        }
        return evictedDelay;
    }

    /** Records how late ticks {@code from..to} ran; within a block the first of them ran the latest. */
    private void recordDelays(long from, long to, long now) {
        for (long t = Math.max(from, to - BUCKETS + 1); t <= to; t++) {
            tickDelay[(int) t & BUCKET_MASK] = now - tickStart(t);
        }
        long oldest = ((to >> BLOCK_SHIFT) - BLOCKS + 1) << BLOCK_SHIFT;
        if (from < oldest) {
            evictedDelay = Math.max(evictedDelay, now - tickStart(from));
            from = oldest;
        }
        for (long t = from; t <= to; t = ((t >> BLOCK_SHIFT) + 1) << BLOCK_SHIFT) {
            long block = t >> BLOCK_SHIFT;
            int slot = (int) block & BLOCK_MASK;
            long delay = now - tickStart(t);
            if (block != lastBlock) {
                evictedDelay = Math.max(evictedDelay, blockDelay[slot]);
                blockDelay[slot] = delay;
                lastBlock = block;
            } else if (delay > blockDelay[slot]) {
                blockDelay[slot] = delay;
            }
        }
    }

    private void start() {
        long now = ticker.read();
        long cur = Math.floorDiv(now - origin, tickNanos);
        if (cur > done) {
            // No entry holds a stamp from the idle gap, so its ticks need no delay record; forget the last era's.
            java.util.Arrays.fill(tickDelay, 0);
            done = cur;
            stamp = (int) cur & STAMP_MASK;
            lastBlock = -1;
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
