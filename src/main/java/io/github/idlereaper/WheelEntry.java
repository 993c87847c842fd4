package io.github.idlereaper;

import io.netty.channel.ChannelDuplexHandler;

/**
 * A node of a {@link LoopWheel}. The reaper's pipeline handler is its own wheel entry, so arming, re-arming and
 * removal only relink two fields: no allocation, no task object, O(1).
 *
 * <p>It extends {@link ChannelDuplexHandler} only because the handler must; the wheel never treats it as one.
 * Confined to the event loop that owns the wheel.
 */
abstract class WheelEntry extends ChannelDuplexHandler {

    /** Neighbours in a bucket or in the backlog; both null while the entry is not linked. */
    WheelEntry prev;
    WheelEntry next;

    /**
     * Called by the wheel when the entry's bucket comes due. The entry decides lazily, from its own stamps, what
     * is due now.
     *
     * @param wheel the wheel that owns the entry
     * @param now the wheel's current time in ticker nanoseconds
     * @return the ticker time at which the entry wants to be visited again, or {@link LoopWheel#DETACH} to leave
     *     the wheel
     */
    abstract long expire(LoopWheel wheel, long now);

    final boolean linked() {
        return prev != null;
    }
}
