package io.github.idlereaper;

import io.netty.channel.ChannelHandler;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * A reaper first on a {@link DeadlineMatrixTest.StallableChannel} whose peer has stopped reading, with time pushed
 * in by hand: for the tests of write stalls and outbound progress.
 */
final class StallRig implements AutoCloseable {

    static final Duration RES = Duration.ofMillis(100);
    static final long STEP = RES.toNanos() / 2;

    final FakeTicker ticker = new FakeTicker();
    final List<ReapEvent> reaps = new ArrayList<>();
    final DeadlineMatrixTest.StallableChannel ch = new DeadlineMatrixTest.StallableChannel();
    final IdleReaper reaper;
    final LoopWheel wheel;

    /**
     * @param config the reaper's options, over a 100 ms tick resolution, the rig's ticker and a listener
     * @param behind handlers that go behind the reaper
     */
    StallRig(Consumer<IdleReaper.Builder> config, ChannelHandler... behind) {
        this(config, ch -> { }, behind);
    }

    /** The same, with {@code setup} applied to the channel before it registers. */
    StallRig(Consumer<IdleReaper.Builder> config, Consumer<DeadlineMatrixTest.StallableChannel> setup,
            ChannelHandler... behind) {
        setup.accept(ch);
        IdleReaper.Builder b = IdleReaper.builder().tickResolution(RES).ticker(ticker).listener((c, e) -> reaps.add(e));
        config.accept(b);
        reaper = b.build();
        ch.pipeline().addLast(behind);
        ch.pipeline().addFirst(IdleReaper.HANDLER_NAME, reaper.newHandler());
        try {
            ch.register();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
        wheel = reaper.core().wheelFor(ch.eventLoop());
        ch.stalled = true;
    }

    /** One wheel tick: time, the wheel, the channel's tasks. */
    void tick() {
        ticker.advanceNanos(STEP);
        wheel.advance(ticker.read());
        ch.runPendingTasks();
    }

    @Override
    public void close() {
        ch.stalled = false;
        ch.finishAndReleaseAll();
    }
}
