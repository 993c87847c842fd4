package io.github.idlereaper;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;

/**
 * Counts strikes against a peer that pings more often than permitted, like gRPC's KeepAliveEnforcer: a ping
 * sooner than the permitted interval after the previous one is a strike, a ping at the permitted rate clears
 * them, and the ping after {@link IdleReaper.Builder#PEER_PING_STRIKES} strikes reaps the channel with
 * {@link ReapReason#PING_ABUSE}. Sits after the protocol's decoder and passes every message on; the protocol's
 * {@link HeartbeatProtocol#isPeerPing} decides what a ping is (never an acknowledgement). Added only with
 * {@link IdleReaper.Builder#permitPeerPings}. Reads the clock once per recognised ping, never per other message.
 * Confined to the channel's event loop.
 */
final class PeerPingWatch extends ChannelInboundHandlerAdapter {

    private final ReaperHandler reaper;
    private final HeartbeatProtocol protocol;
    private final long minNanos;
    private final Ticker ticker;
    private boolean seen;
    private long lastNanos;
    private int strikes;

    PeerPingWatch(ReaperHandler reaper, HeartbeatProtocol protocol, long minNanos, Ticker ticker) {
        this.reaper = reaper;
        this.protocol = protocol;
        this.minNanos = minNanos;
        this.ticker = ticker;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        boolean ping;
        try {
            ping = protocol.isPeerPing(msg);
        } catch (Throwable t) {
            ping = false;
        }
        if (ping) {
            onPeerPing();
        }
        ctx.fireChannelRead(msg);
    }

    private void onPeerPing() {
        long now = ticker.read();
        long gap = now - lastNanos;
        boolean first = !seen;
        seen = true;
        lastNanos = now;
        if (first || gap >= minNanos) {
            strikes = 0;
            return;
        }
        if (++strikes > IdleReaper.Builder.PEER_PING_STRIKES) {
            reaper.reapNow(ReapReason.PING_ABUSE, gap, minNanos, strikes, IdleReaper.Builder.PEER_PING_STRIKES);
        }
    }

    /** Strikes so far; for tests. */
    int strikes() {
        return strikes;
    }
}
