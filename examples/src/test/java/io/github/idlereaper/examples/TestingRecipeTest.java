package io.github.idlereaper.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.idlereaper.IdleReaper;
import io.github.idlereaper.ReapEvent;
import io.github.idlereaper.ReapReason;
import io.github.idlereaper.Ticker;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The recipe of docs/testing.md, with the public API only: a host pipeline tested with the reaper in it. */
class TestingRecipeTest {

    /** The host's handler under test: it counts the ReapEvents it sees. */
    static final class MyHandler extends ChannelInboundHandlerAdapter {
        final List<ReapReason> reaps = new ArrayList<>();

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof ReapEvent) {
                reaps.add(((ReapEvent) evt).reason());
            }
            ctx.fireUserEventTriggered(evt);
        }
    }

    @Test
    void myPipeline_isReapedAfterOneIdleSecond() {
        AtomicLong nanos = new AtomicLong();
        Ticker ticker = nanos::get;
        IdleReaper reaper = IdleReaper.builder()
                .readIdleTimeout(Duration.ofSeconds(1))
                .ticker(ticker)
                .build();
        MyHandler mine = new MyHandler();
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.pipeline().addFirst(IdleReaper.HANDLER_NAME, reaper.newHandler());
        ch.pipeline().addLast(mine);

        advance(ch, nanos, Duration.ofMillis(900));
        assertTrue(ch.isActive(), "not yet");
        advance(ch, nanos, Duration.ofMillis(300));
        assertFalse(ch.isActive(), "reaped");
        assertEquals(List.of(ReapReason.READ_IDLE), mine.reaps);
        ch.finishAndReleaseAll();
    }

    /**
     * Moves the reaper's clock and the channel's clock together in 10 ms steps (shorter than the reaper's tick),
     * running what became due at each step, as a real event loop would. One big jump would look like an event
     * loop that stalled, and the reaper would then reap late rather than risk reaping early.
     */
    static void advance(EmbeddedChannel ch, AtomicLong nanos, Duration d) {
        long step = TimeUnit.MILLISECONDS.toNanos(10);
        for (long left = d.toNanos(); left > 0; left -= step) {
            long n = Math.min(step, left);
            nanos.addAndGet(n);
            ch.advanceTimeBy(n, TimeUnit.NANOSECONDS);
            ch.runScheduledPendingTasks();
            ch.runPendingTasks();
        }
    }
}
