package io.github.idlereaper;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import java.util.Queue;

/**
 * A test server's own handler, behind the reaper: notes each channel that becomes active, and drops what it reads.
 * Tests that watch more extend it.
 */
@ChannelHandler.Sharable
class AcceptingHost extends ChannelInboundHandlerAdapter {

    private final Queue<Channel> accepted;

    AcceptingHost(Queue<Channel> accepted) {
        this.accepted = accepted;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        accepted.add(ctx.channel());
        ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        ReferenceCountUtil.release(msg);
    }
}
