package io.github.idlereaper;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Puts a reaper's handler first in each new channel's pipeline, after running the host's own handler, then the
 * protocol's watchers behind the protocol's decoder: what {@link IdleReaper#install} wraps a bootstrap's handler
 * with. Sharable: one serves every channel of a bootstrap.
 */
@ChannelHandler.Sharable
final class Installer extends ChannelInitializer<Channel> {

    private static final Logger log = LoggerFactory.getLogger(IdleReaper.class);

    private final IdleReaper reaper;
    private final ChannelHandler original;

    Installer(IdleReaper reaper, ChannelHandler original) {
        this.reaper = reaper;
        this.original = original;
    }

    @Override
    protected void initChannel(Channel ch) {
        ChannelPipeline p = ch.pipeline();
        ReaperCore core = reaper.core();
        ConnectionCap cap = core.cap();
        // The connection cap decides before the host's handlers exist: a refused newcomer is closed with a RST,
        // and no host handler sees it.
        boolean admitted = false;
        if (core.admits() && ch.parent() != null) {
            if (!core.admit(ch, core.wheelFor(ch.eventLoop()))) {
                return;
            }
            admitted = true;
        }
        ReaperHandler h;
        try {
            // The host's initializer runs now, synchronously, so whatever it adds ends up behind the reaper.
            p.addLast(original);
            h = handlerOf(p, core);
            if (h != null) {
                // The host's initializer added this reaper's handler itself (newHandler()): one effective handler,
                // the host's, rather than two that count the channel twice. It was admitted on its own.
                core.warnInstalledTwice(ch);
                if (admitted) {
                    admitted = false;
                    release(cap, ch);
                }
            } else {
                h = core.newHandler();
                if (admitted) {
                    h.admitted(); // from here the handler releases the count when the channel leaves
                    admitted = false;
                }
                p.addFirst(uniqueName(p, IdleReaper.HANDLER_NAME), h);
            }
        } finally {
            if (admitted) {
                release(cap, ch); // the host's initializer threw: no handler holds the count
            }
        }
        addWatchers(core, ch, h);
    }

    private static void release(ConnectionCap cap, Channel ch) {
        if (cap != null) {
            cap.release(ch);
        }
    }

    /** The handler of {@code core} in {@code p}, or null. Once per channel, at setup. */
    private static ReaperHandler handlerOf(ChannelPipeline p, ReaperCore core) {
        if (p.get(ReaperHandler.class) == null) {
            return null; // the usual case, without copying the pipeline
        }
        for (Map.Entry<String, ChannelHandler> e : p) {
            if (e.getValue() instanceof ReaperHandler && ((ReaperHandler) e.getValue()).core() == core) {
                return (ReaperHandler) e.getValue();
            }
        }
        return null;
    }

    /**
     * Whether a channel of {@code core} gets anything from {@link #addWatchers}: the HTTP layer (server channels) or a
     * heartbeat protocol's handlers. Once per channel, when its reaper handler is added.
     */
    static boolean hasWatchers(ReaperCore core, Channel ch) {
        return core.http() != null && ch.parent() != null || core.settings().protocol != null;
    }

    /**
     * Adds the HTTP layer and the heartbeat protocol's per-channel handlers after {@link HeartbeatProtocol#placeAfter}:
     * the protocol's companion, and the {@link HeartbeatWatch} that tells heartbeat frames from activity and counts
     * the peer's pings. The watch splits liveness from activity only where it sits behind the named handler
     * (typically the decoder): placed last, it might never see a message, and the connection would look idle while
     * in use. Once per handler ({@link ReaperHandler#takePlacement}): install() calls it right after the host's
     * initializer, and a handler added by hand calls it itself once its pipeline is built
     * ({@link ReaperHandler#place}); whichever comes first places, and the other finds nothing to do.
     */
    static void addWatchers(ReaperCore core, Channel ch, ReaperHandler reaperHandler) {
        if (!reaperHandler.takePlacement()) {
            return;
        }
        if (core.http() != null && ch.parent() != null) {
            // A server's accepted channel (the layer is for servers; a client's channel has no parent).
            HttpCompanion.install(reaperHandler, ch, uniqueName(ch.pipeline(), IdleReaper.HTTP_NAME));
        }
        Settings s = reaperHandler.settings();
        HeartbeatProtocol protocol = s.protocol;
        if (protocol == null) {
            return;
        }
        ChannelPipeline p = ch.pipeline();
        String after = protocol.placeAfter(p);
        boolean anchored = after != null && p.context(after) != null;
        ChannelHandler companion = protocol.companion(ch);
        if (companion != null) {
            addAfter(p, anchored ? after : null, uniqueName(p, IdleReaper.COMPANION_NAME), companion);
        }
        boolean recognizes = protocol.recognizesHeartbeats() || protocol.recognizesPeerPings();
        if (recognizes && !anchored) {
            core.warnUnanchored(ch, protocol, after);
        }
        boolean split = anchored && protocol.recognizesHeartbeats() && !core.heartbeatIsActivity();
        if (split || s.peerPingMin > 0) {
            addAfter(p, anchored ? after : null, uniqueName(p, IdleReaper.PEER_PINGS_NAME),
                    new HeartbeatWatch(reaperHandler, protocol, split, s.peerPingMin, core.ticker()));
            if (split) {
                reaperHandler.splitLivenessFromActivity();
            }
        }
    }

    /** {@code base}, or {@code base#2}, {@code base#3}, ... when that is taken (by another reaper's handlers). */
    private static String uniqueName(ChannelPipeline p, String base) {
        String name = base;
        for (int i = 2; p.get(name) != null; i++) {
            name = base + "#" + i;
        }
        return name;
    }

    private static void addAfter(ChannelPipeline p, String after, String name, ChannelHandler h) {
        if (after == null) {
            p.addLast(name, h);
        } else {
            p.addAfter(after, name, h);
        }
    }
}
