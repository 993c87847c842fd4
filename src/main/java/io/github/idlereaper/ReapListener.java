package io.github.idlereaper;

import io.netty.channel.Channel;

/**
 * Told about every connection the reaper closes. Set with {@link IdleReaper.Builder#listener(ReapListener)}.
 *
 * <p>The callback runs on the channel's event loop, so it must be quick and must not block. A listener that
 * throws is logged at WARN and changes nothing: the connection is closed and counted all the same.
 */
@FunctionalInterface
public interface ReapListener {

    /**
     * Called once per reaped connection, when the reaper closes it.
     *
     * @param channel the channel being closed
     * @param event the reason and the numbers
     */
    void onReap(Channel channel, ReapEvent event);
}
