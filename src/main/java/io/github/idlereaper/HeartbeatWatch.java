package io.github.idlereaper;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;

/**
 * Watches decoded messages for one reaper handler, right after the protocol's decoder
 * ({@link HeartbeatProtocol#placeAfter}), and passes every message on. Two jobs, each optional:
 * <ul>
 *   <li><b>Activity.</b> With {@code stampsActivity}, every message that is not a heartbeat frame
 *       ({@link HeartbeatProtocol#isHeartbeat}), inbound or outbound, stamps the connection's activity; bytes alone
 *       then stamp only its liveness. So a peer that only answers pings is alive but idle.</li>
 *   <li><b>Peer pings.</b> With a {@code minNanos} above zero, like gRPC's KeepAliveEnforcer: a peer ping sooner
 *       than the permitted interval after the previous one is a strike, a ping at the permitted rate clears them,
 *       and the ping after {@link IdleReaper.Builder#PEER_PING_STRIKES} strikes reaps the channel with
 *       {@link ReapReason#PING_ABUSE}. Pings read in one pass of the loop (up to {@code channelReadComplete}) came
 *       off the socket together: queued in the accept queue or the socket while the loop was busy, or coalesced by
 *       the network, so how far apart the peer sent them is not known, and only the first of them can strike (a
 *       flooder still strikes once per read). Reads the clock once per recognised ping, never per other
 *       message.</li>
 * </ul>
 * Confined to the channel's event loop.
 */
final class HeartbeatWatch extends ChannelDuplexHandler {

    private final ReaperHandler reaper;
    private final HeartbeatProtocol protocol;
    private final boolean stampsActivity;
    private final long minNanos;
    private final Ticker ticker;
    private boolean seen;
    private long lastNanos;
    private int strikes;
    /** A recognised ping was read in this pass of the loop (cleared at {@code channelReadComplete}). */
    private boolean pingThisRead;

    HeartbeatWatch(ReaperHandler reaper, HeartbeatProtocol protocol, boolean stampsActivity, long minNanos,
            Ticker ticker) {
        this.reaper = reaper;
        this.protocol = protocol;
        this.stampsActivity = stampsActivity;
        this.minNanos = minNanos;
        this.ticker = ticker;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (stampsActivity) {
            reaper.inboundMessage(!isHeartbeat(msg));
        }
        if (minNanos > 0 && isPeerPing(msg)) {
            onPeerPing();
        }
        ctx.fireChannelRead(msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        pingThisRead = false;
        ctx.fireChannelReadComplete();
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (stampsActivity && !isHeartbeat(msg)) {
            reaper.outboundActivity();
        }
        ctx.write(msg, promise);
    }

    private boolean isHeartbeat(Object msg) {
        try {
            return protocol.isHeartbeat(msg);
        } catch (Throwable t) {
            return false; // counts as activity: never close a connection over a protocol's bug
        }
    }

    private boolean isPeerPing(Object msg) {
        try {
            return protocol.isPeerPing(msg);
        } catch (Throwable t) {
            return false;
        }
    }

    private void onPeerPing() {
        long now = ticker.read();
        long gap = now - lastNanos;
        boolean first = !seen;
        boolean sameRead = pingThisRead;
        seen = true;
        pingThisRead = true;
        lastNanos = now;
        if (first || gap >= minNanos) {
            strikes = 0;
            return;
        }
        if (sameRead) {
            return; // read together with the ping before it: their real gap is not known
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
