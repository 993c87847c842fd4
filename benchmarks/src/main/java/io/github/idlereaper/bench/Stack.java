package io.github.idlereaper.bench;

import io.github.idlereaper.CapPolicy;
import io.github.idlereaper.IdleReaper;
import io.github.idlereaper.Ticker;
import io.github.idlereaper.protocol.LineHeartbeat;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.handler.timeout.ReadTimeoutHandler;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * One configuration under test, with the same timeouts for every configuration of a run: the handlers it puts at
 * the head of a pipeline. Immutable and thread-safe; {@link #addFirst} runs on the channel's event loop.
 */
final class Stack {

    /** The configurations a figure can compare. */
    enum Config {
        /** No handler at all. */
        BARE("bare"),
        /** One handler that forwards every read and write: the floor for "a handler in the path". */
        PASS("pass-through"),
        /** Netty's ReadTimeoutHandler (reader only; it closes by itself). */
        READ_TIMEOUT("ReadTimeoutHandler(r)"),
        /** Netty's IdleStateHandler, reader only, plus a handler that closes on its event. */
        NETTY_R("IdleStateHandler(r)+closer"),
        /** Netty's IdleStateHandler with reader, writer and all idle, plus a handler that closes on its events. */
        NETTY("IdleStateHandler(r,w,a)+closer"),
        /** {@link #NETTY} plus a handler that sends heartbeat pings on its own periodic timer. */
        NETTY_HB("IdleStateHandler(r,w,a)+closer+pinger"),
        /** The reaper with read, write, all idle and write stall on. */
        REAPER("idle-reaper(r,w,a,stall)"),
        /** {@link #REAPER} plus a heartbeat ({@link LineHeartbeat}). */
        REAPER_HB("idle-reaper(r,w,a,stall,heartbeat)"),
        /**
         * {@link #REAPER} with every lifecycle feature on: half-close, max age (ten timeouts, ±10 %), a cap with
         * eviction, timeouts scaled by pressure (a source that reads none), a close rate.
         */
        REAPER_ALL("idle-reaper(r,w,a,stall + half-close, age, cap, pressure, close rate)");

        final String label;

        Config(String label) {
            this.label = label;
        }
    }

    /**
     * The timeouts every configuration of a figure gets. {@code tick} null means the reaper's default. The
     * heartbeat (for the *_HB configurations) pings after a quarter of the read timeout without inbound bytes, waits
     * an eighth for an answer, and gives up after 3 misses.
     */
    record Timeouts(Duration read, Duration write, Duration all, Duration stall, Duration tick) {
        static Timeouts all(Duration d) {
            return new Timeouts(d, d, d, d, null);
        }

        static Timeouts readOnly(Duration d, Duration tick) {
            return new Timeouts(d, Duration.ZERO, Duration.ZERO, Duration.ZERO, tick);
        }

        Duration pingInterval() {
            return read.dividedBy(4);
        }

        Duration pingTimeout() {
            return read.dividedBy(8);
        }

        static final int PING_MISSES = 3;

        @Override
        public String toString() {
            return "read=" + read.toMillis() + "ms write=" + write.toMillis() + "ms all=" + all.toMillis()
                    + "ms stall=" + stall.toMillis() + "ms" + (tick == null ? "" : " tick=" + tick.toMillis() + "ms");
        }
    }

    private static final byte[] PING_BYTES = "PING\r\n".getBytes(StandardCharsets.US_ASCII);
    private static final LineHeartbeat PING = LineHeartbeat.of("PING\r\n", StandardCharsets.US_ASCII);

    final Config config;
    final Timeouts timeouts;
    /** The reaper, for {@link Config#REAPER} only. */
    final IdleReaper reaper;

    private Stack(Config config, Timeouts timeouts, IdleReaper reaper) {
        this.config = config;
        this.timeouts = timeouts;
        this.reaper = reaper;
    }

    static Stack of(Config config, Timeouts t) {
        return of(config, t, null);
    }

    /** A stack whose reaper reads {@code ticker} (null: the system ticker). */
    static Stack of(Config config, Timeouts t, Ticker ticker) {
        IdleReaper reaper = null;
        if (config == Config.REAPER || config == Config.REAPER_HB || config == Config.REAPER_ALL) {
            IdleReaper.Builder b = IdleReaper.builder()
                    .readIdleTimeout(t.read())
                    .writeIdleTimeout(t.write())
                    .allIdleTimeout(t.all())
                    .writeStallTimeout(t.stall());
            if (config == Config.REAPER_HB) {
                b.heartbeat(t.pingInterval(), t.pingTimeout(), Timeouts.PING_MISSES, PING);
            }
            if (config == Config.REAPER_ALL) {
                b.halfCloseTimeout(t.read()).maxConnectionAge(t.read().multipliedBy(10))
                        .maxConnections(10_000_000, CapPolicy.EVICT_IDLEST)
                        .reduceTimeoutsUnderPressure(0.7, 0.9, 0.1).pressureSource(() -> 0)
                        .closeRate(100_000, 1_000);
            }
            if (t.tick() != null) {
                b.tickResolution(t.tick());
            }
            if (ticker != null) {
                b.ticker(ticker);
            }
            reaper = b.build();
        }
        return new Stack(config, t, reaper);
    }

    /** The handlers of one channel, head first. */
    ChannelHandler[] newHandlers() {
        switch (config) {
            case BARE:
                return new ChannelHandler[0];
            case PASS:
                return new ChannelHandler[] {new Handlers.PassThrough()};
            case READ_TIMEOUT:
                return new ChannelHandler[] {new ReadTimeoutHandler(nanos(timeouts.read()), TimeUnit.NANOSECONDS)};
            case NETTY_R:
                return new ChannelHandler[] {
                    new IdleStateHandler(nanos(timeouts.read()), 0, 0, TimeUnit.NANOSECONDS), Handlers.IdleCloser.INSTANCE};
            case NETTY:
                return new ChannelHandler[] {
                    new IdleStateHandler(nanos(timeouts.read()), nanos(timeouts.write()), nanos(timeouts.all()),
                            TimeUnit.NANOSECONDS),
                    Handlers.IdleCloser.INSTANCE};
            case NETTY_HB:
                return new ChannelHandler[] {
                    new IdleStateHandler(nanos(timeouts.read()), nanos(timeouts.write()), nanos(timeouts.all()),
                            TimeUnit.NANOSECONDS),
                    Handlers.IdleCloser.INSTANCE,
                    new Handlers.PingSender(timeouts.pingInterval(), Timeouts.PING_MISSES, PING_BYTES)};
            case REAPER:
            case REAPER_HB:
            case REAPER_ALL:
                return new ChannelHandler[] {reaper.newHandler()};
            default:
                throw new AssertionError(config);
        }
    }

    /** Puts this configuration's handlers at the head of {@code p}, in order. Returns how many it added. */
    int addFirst(ChannelPipeline p) {
        ChannelHandler[] hs = newHandlers();
        for (int i = hs.length - 1; i >= 0; i--) {
            p.addFirst(hs[i]);
        }
        return hs.length;
    }

    /** Removes what {@link #addFirst} added, given the handlers it returned from {@link #newHandlers()}. */
    static void remove(ChannelPipeline p, ChannelHandler[] hs) {
        for (ChannelHandler h : hs) {
            p.remove(h);
        }
    }

    private static long nanos(Duration d) {
        return d.toNanos();
    }

    @Override
    public String toString() {
        return config.label;
    }
}
