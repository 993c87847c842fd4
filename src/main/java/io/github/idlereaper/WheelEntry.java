package io.github.idlereaper;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandler;
import io.netty.channel.ChannelOutboundHandler;
import io.netty.channel.ChannelPromise;
import java.net.SocketAddress;

/**
 * A node of a {@link LoopWheel}. The reaper's pipeline handler is its own wheel entry, so arming, re-arming and
 * removal only relink two fields: no allocation, no task object, O(1).
 *
 * <p>It is a pipeline handler only because the reaper's handler must be one; the wheel never treats it as one.
 * It implements Netty's handler interfaces directly, forwarding every event, instead of extending
 * {@code ChannelDuplexHandler}: the adapter's one-byte {@code added} field would cost a whole 8-byte slot in every
 * connection's handler (72 bytes instead of 64). Subclasses override what they watch. Confined to the event loop
 * that owns the wheel.
 */
abstract class WheelEntry implements ChannelInboundHandler, ChannelOutboundHandler {

    /** Neighbours in a bucket or in the backlog; both null while the entry is not linked. */
    WheelEntry prev;
    WheelEntry next;
    /**
     * The tick (as a 31-bit stamp) this entry's bucket is due at; for an entry in the backlog or a slot, a tick
     * already processed. Written only by the wheel; read by {@link LoopWheel#visitBy} to move visits only earlier.
     */
    int visit;

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

    /**
     * For a choice of victim at the connection cap ({@link LoopWheel#mostIdle}): how long this entry's connection
     * has had no application activity, in nanos, or -1 if it may not be evicted (busy, bytes waiting, closing).
     */
    long evictableIdle(LoopWheel wheel, long now) {
        return -1;
    }

    final boolean linked() {
        return prev != null;
    }

    // ---------------------------------------------------------------- forwarding, as Netty's adapters do

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) throws Exception {
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) throws Exception {
    }

    @Override
    public void channelRegistered(ChannelHandlerContext ctx) throws Exception {
        ctx.fireChannelRegistered();
    }

    @Override
    public void channelUnregistered(ChannelHandlerContext ctx) throws Exception {
        ctx.fireChannelUnregistered();
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        ctx.fireChannelActive();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        ctx.fireChannelInactive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        ctx.fireChannelRead(msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) throws Exception {
        ctx.fireChannelReadComplete();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) throws Exception {
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    @SuppressWarnings("deprecation")
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) throws Exception {
        ctx.fireExceptionCaught(cause);
    }

    @Override
    public void bind(ChannelHandlerContext ctx, SocketAddress localAddress, ChannelPromise promise)
            throws Exception {
        ctx.bind(localAddress, promise);
    }

    @Override
    public void connect(ChannelHandlerContext ctx, SocketAddress remoteAddress, SocketAddress localAddress,
            ChannelPromise promise) throws Exception {
        ctx.connect(remoteAddress, localAddress, promise);
    }

    @Override
    public void disconnect(ChannelHandlerContext ctx, ChannelPromise promise) throws Exception {
        ctx.disconnect(promise);
    }

    @Override
    public void close(ChannelHandlerContext ctx, ChannelPromise promise) throws Exception {
        ctx.close(promise);
    }

    @Override
    public void deregister(ChannelHandlerContext ctx, ChannelPromise promise) throws Exception {
        ctx.deregister(promise);
    }

    @Override
    public void read(ChannelHandlerContext ctx) throws Exception {
        ctx.read();
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) throws Exception {
        ctx.write(msg, promise);
    }

    @Override
    public void flush(ChannelHandlerContext ctx) throws Exception {
        ctx.flush();
    }
}
