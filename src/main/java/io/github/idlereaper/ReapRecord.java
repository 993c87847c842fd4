package io.github.idlereaper;

import io.netty.channel.Channel;
import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;
import jdk.jfr.Timespan;

/**
 * The Java Flight Recorder event of one reap, {@code io.github.idlereaper.Reap}: committed by
 * {@link ReaperCore#reaped}, the one place every reap is reported (dry-run decisions and refusals at the cap
 * included), on the channel's event loop.
 *
 * <p>While no recording has the event enabled, {@link #emit} costs one check and allocates nothing: the check asks a
 * shared instance, so it does not depend on escape analysis removing a new one. Only {@link ReaperCore} calls
 * {@link #emit}, and only if loading this class succeeded ({@link ReaperCore#JFR_EVENT}): a runtime without the
 * {@code jdk.jfr} module (a jlinked image) cannot load it, and the reaper then runs without the event. No other
 * class of the library refers to this one.
 */
@Name(ReapRecord.NAME)
@Label("Connection Reaped")
@Category({"Netty", "idle-reaper"})
@Description("idle-reaper closed a connection, or in a dry run would have, or refused one at its cap")
@StackTrace(false)
final class ReapRecord extends Event {

    static final String NAME = "io.github.idlereaper.Reap";

    /**
     * Asked only whether the event is enabled: {@link #isEnabled()} reads the event type's state, never the
     * instance's, so one instance serves every thread.
     */
    private static final ReapRecord PROBE = new ReapRecord();

    @Label("Reason")
    @Description("The ReapReason, as named in the stats: READ_IDLE, WRITE_STALL, EVICTED, REJECTED, ...")
    String reason;

    @Label("Idle For")
    @Description("How long the condition held when the reaper decided (see ReapEvent.idleFor())")
    @Timespan(Timespan.NANOSECONDS)
    long idleFor;

    @Label("Limit")
    @Description("The configured limit that was reached; zero where a cap or the pressure decided")
    @Timespan(Timespan.NANOSECONDS)
    long limit;

    @Label("Count")
    @Description("Pings missed, strikes, requests served or connections open, by reason (ReapEvent.count()); "
            + "zero for other reasons")
    int count;

    @Label("Of")
    @Description("What count is measured against: maxMissed, strikes allowed, the request or connection limit "
            + "(ReapEvent.of()); zero for other reasons")
    int of;

    @Label("Remote Address")
    String remoteAddress;

    @Label("Channel ID")
    @Description("Netty's short channel id, as in the DEBUG log line")
    String channelId;

    @Label("Dry Run")
    @Description("A dry run's decision: reported, and nothing sent or closed")
    boolean dryRun;

    @Label("Message")
    @Description("ReapEvent.message(): the terse description with the numbers")
    String message;

    /** Loads this class, which fails with a {@link LinkageError} where the {@code jdk.jfr} module is missing. */
    static boolean load() {
        return PROBE != null;
    }

    /** Commits the event for {@code event} on {@code ch} if a recording has it enabled; otherwise does nothing. */
    static void emit(Channel ch, ReapEvent event) {
        if (!PROBE.isEnabled()) {
            return;
        }
        ReapRecord r = new ReapRecord();
        r.reason = event.reason().name();
        r.idleFor = event.idleNanos();
        r.limit = event.limitNanos();
        r.count = event.count();
        r.of = event.of();
        java.net.SocketAddress remote = ch.remoteAddress();
        r.remoteAddress = remote == null ? null : remote.toString();
        r.channelId = ch.id().asShortText();
        r.dryRun = event.dryRun();
        r.message = event.message();
        r.commit();
    }
}
