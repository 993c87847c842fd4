package io.github.idlereaper;

import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The connection cap ({@link IdleReaper.Builder#maxConnections}) and the per-address limit
 * ({@link IdleReaper.Builder#maxConnectionsPerAddress}): admits each accepted connection once, before the host's
 * handlers see it, and releases it when it closes. At the cap it evicts the most idle connection of the newcomer's
 * loop ({@link LoopWheel#mostIdle}) or rejects the newcomer with a RST, as its {@link CapPolicy} says. Thread-safe:
 * the counts are shared by every loop; an eviction only touches the newcomer's own loop.
 */
final class ConnectionCap {

    /** A connection with application activity more recent than this is never evicted. */
    static final long EVICT_MIN_IDLE_NANOS = 1_000_000_000L;

    /** The most connections; 0 for no cap. */
    final int max;
    /** The most connections from one remote address; 0 for no limit. */
    final int perAddress;
    final CapPolicy policy;
    private final AtomicInteger count = new AtomicInteger();
    private final ConcurrentHashMap<Object, Integer> byAddress = new ConcurrentHashMap<>();

    ConnectionCap(int max, int perAddress, CapPolicy policy) {
        this.max = max;
        this.perAddress = perAddress;
        this.policy = policy;
    }

    /** Connections admitted and not yet released (with those still saying goodbye after an eviction). */
    int count() {
        return count.get();
    }

    /**
     * Admits {@code ch}, a server's accepted connection on its event loop, whose wheel is {@code wheel}: true if it
     * may stay (counted until {@link #release}), false if it was refused, reported and closed with a RST. In a dry
     * run every decision is reported and the newcomer always stays.
     */
    boolean admit(ReaperCore core, Channel ch, LoopWheel wheel) {
        boolean dry = core.lifecycle().dryRun;
        Object key = perAddress > 0 ? addressKey(ch) : null;
        if (key != null) {
            int n = byAddress.merge(key, 1, Integer::sum);
            if (n > perAddress && !dry) {
                byAddress.computeIfPresent(key, (k, v) -> v <= 1 ? null : v - 1);
                reject(core, ch, n - 1, perAddress, true);
                return false;
            }
            if (n > perAddress) {
                report(core, ch, n - 1, perAddress, true);
            }
        }
        if (max == 0) {
            return true;
        }
        for (int c = count.get(); c < max; c = count.get()) {
            if (count.compareAndSet(c, c + 1)) {
                return true;
            }
        }
        // Full.
        int open = count.get();
        if (policy == CapPolicy.EVICT_IDLEST) {
            long now = core.ticker().read();
            WheelEntry victim = wheel.mostIdle(now, EVICT_MIN_IDLE_NANOS);
            if (victim != null && (dry || wheel.takeCloseToken(now))) {
                count.incrementAndGet();
                ((ReaperHandler) victim).evict(ReapReason.EVICTED, now, open, max);
                return true;
            }
        }
        if (dry) {
            count.incrementAndGet();
            report(core, ch, open, max, false);
            return true;
        }
        if (key != null) {
            byAddress.computeIfPresent(key, (k, v) -> v <= 1 ? null : v - 1);
        }
        reject(core, ch, open, max, false);
        return false;
    }

    /** Releases what {@link #admit} counted for {@code ch}. Once per admitted connection, at its close. */
    void release(Channel ch) {
        if (max > 0) {
            count.decrementAndGet();
        }
        Object key = perAddress > 0 ? addressKey(ch) : null;
        if (key != null) {
            byAddress.computeIfPresent(key, (k, v) -> v <= 1 ? null : v - 1);
        }
    }

    /** Connections counted for remote addresses now (for tests). */
    int addressesTracked() {
        return byAddress.size();
    }

    /** Reports the refusal and closes {@code ch} with a RST (SO_LINGER 0 where the transport has it). */
    private static void reject(ReaperCore core, Channel ch, int open, int limit, boolean perAddress) {
        core.reaped(ch, ReapEvent.rejected(open, limit, perAddress, false));
        try {
            ch.config().setOption(ChannelOption.SO_LINGER, 0);
        } catch (RuntimeException notSupported) {
            // A transport without SO_LINGER (a LocalChannel): a plain close.
        }
        ch.close();
    }

    /** A dry run's refusal: reported, and the newcomer stays. */
    private static void report(ReaperCore core, Channel ch, int open, int limit, boolean perAddress) {
        core.reaped(ch, ReapEvent.rejected(open, limit, perAddress, true));
    }

    /**
     * The key a connection is counted under for the per-address limit: the peer's IP address (any port), or the
     * remote address itself for other transports; null when there is none.
     */
    static Object addressKey(Channel ch) {
        SocketAddress a = ch.remoteAddress();
        if (a instanceof InetSocketAddress) {
            InetSocketAddress in = (InetSocketAddress) a;
            return in.getAddress() != null ? in.getAddress() : in.getHostString();
        }
        return a;
    }
}
