package io.github.idlereaper;

import io.netty.channel.Channel;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;

/**
 * Progress as the socket sees it, for the write-stall timer: when the kernel last sent new data to the peer. Netty's
 * outbound buffer shows progress only when the socket turns writable, which Linux reports once a third of its
 * queued send buffer has drained: for a slow reader, seconds after the bytes left (minutes with an autotuned
 * SO_SNDBUF). The socket knows better.
 *
 * <h2>What is asked</h2>
 * The transport's {@code tcpInfo(info)} (epoll's {@code EpollSocketChannel}, Netty 4.2's io_uring
 * {@code IoUringSocketChannel}), found by name with no native transport as a compile-time dependency, fills a
 * reusable {@code TCP_INFO} holder with no allocation. Two of its fields answer:
 * <ul>
 *   <li>{@code tcpi_last_data_sent}: how long ago the kernel last sent a segment with data. It sends new data only
 *       where the peer's receive window has room, so a reader whose window opened (it read something) makes the
 *       kernel send; a reader that stopped leaves its window shut, and the kernel sends only zero-window probes,
 *       which carry no data.</li>
 *   <li>{@code tcpi_retransmits}: retransmission timeouts since the peer last acknowledged new data. A vanished
 *       peer makes the kernel resend data, which refreshes the first field; while this one is non-zero, a recent
 *       send is not progress.</li>
 * </ul>
 * A send is thus dated no earlier than the progress it shows; at worst a tail-loss probe (a resend before the first
 * timeout, a fraction of a second after the peer vanished) dates it a little later, which makes a stall reap late,
 * never early.
 *
 * <h2>When</h2>
 * Only at a visit, only while flushed bytes wait in Netty's buffer, and only when the stall deadline that Netty's
 * buffer alone gives has come: one {@code getsockopt} per stall period for a reader that keeps up, none at all for
 * the rest. Transports without {@code tcpInfo} (NIO, Netty 4.1's incubator io_uring, kqueue) are measured at Netty's
 * buffer only; docs/configuration.md gives their sizing rule.
 *
 * <p>The same holder answers one more question, for the dead-peer verdict: how many keepalive probes are out
 * ({@link #probes}).
 *
 * <p>One instance per {@link LoopWheel}, confined to its event loop: it keeps the holder that the socket fills.
 */
final class SocketProgress {

    /** The channel's transport tells nothing, or nothing new. */
    static final long UNKNOWN = -1;
    /**
     * The kernel counts {@code tcpi_last_data_sent} in whole jiffies (down to 10 ms at HZ=100), so its answer may
     * overstate the time since the send by that much; taken off, the send is never dated earlier than it was.
     */
    private static final long JIFFY_MS = 10;

    private static final ClassValue<Probe> PROBES = new ClassValue<Probe>() {
        @Override
        protected Probe computeValue(Class<?> type) {
            return Probe.of(type);
        }
    };

    /** The holder the socket fills, reused; of the last probe's class. */
    private Object info;
    private Probe infoProbe;

    /**
     * How long ago, in nanos, {@code ch}'s socket last sent new data to the peer, or {@link #UNKNOWN} when its
     * transport cannot say, the call fails (a closed socket), or the kernel is resending (no progress).
     */
    long sentAgoNanos(Channel ch) {
        Probe p = fill(ch);
        if (p == null) {
            return UNKNOWN;
        }
        try {
            if ((int) p.retransmits.invokeExact(info) != 0) {
                return UNKNOWN;
            }
            long ms = (long) p.lastDataSent.invokeExact(info);
            return ms < 0 ? UNKNOWN : Math.max(0, ms - JIFFY_MS) * 1_000_000L;
        } catch (Throwable t) {
            return UNKNOWN;
        }
    }

    /**
     * Keepalive or zero-window probes the socket has sent without an answer ({@code tcpi_probes}), or
     * {@link #UNKNOWN} when its transport cannot say or the call fails. For the dead-peer verdict on a RST: one
     * that answers an unanswered keepalive probe comes from a host that forgot the connection.
     */
    int probes(Channel ch) {
        Probe p = fill(ch);
        if (p == null) {
            return (int) UNKNOWN;
        }
        try {
            return (int) p.probes.invokeExact(info);
        } catch (Throwable t) {
            return (int) UNKNOWN;
        }
    }

    /**
     * Has {@code ch}'s socket fill {@link #info} (made anew only when the transport changes), and returns how to
     * read it; null when the transport cannot say, the channel is closed (its descriptor may already be another
     * socket's) or the call fails.
     */
    private Probe fill(Channel ch) {
        Probe p = PROBES.get(ch.getClass());
        if (p == Probe.NONE || !ch.isOpen()) {
            return null;
        }
        if (infoProbe != p) {
            infoProbe = null;
            info = p.newInfo();
            if (info == null) {
                return null;
            }
            infoProbe = p;
        }
        try {
            // tcpInfo(holder) fills the holder it is given and returns it.
            Object filled = p.fill.invokeExact(ch, info);
            return filled == info ? p : null;
        } catch (Throwable t) {
            return null;
        }
    }

    /** Whether the reaper can measure progress at the socket of channels of this class. */
    static boolean measures(Class<? extends Channel> type) {
        return PROBES.get(type) != Probe.NONE;
    }

    /** How to ask one channel class's socket. Immutable. */
    static final class Probe {
        static final Probe NONE = new Probe(null, null, null, null, null);

        /** {@code (Channel, Object) -> Object}: the channel's {@code tcpInfo(holder)}. */
        final MethodHandle fill;
        /** {@code (Object) -> long}: the holder's {@code lastDataSent()}, in milliseconds. */
        final MethodHandle lastDataSent;
        /** {@code (Object) -> int}: the holder's {@code retransmits()}. */
        final MethodHandle retransmits;
        /** {@code (Object) -> int}: the holder's {@code probes()}. */
        final MethodHandle probes;
        private final MethodHandle newInfo;

        private Probe(MethodHandle fill, MethodHandle lastDataSent, MethodHandle retransmits, MethodHandle probes,
                MethodHandle newInfo) {
            this.fill = fill;
            this.lastDataSent = lastDataSent;
            this.retransmits = retransmits;
            this.probes = probes;
            this.newInfo = newInfo;
        }

        Object newInfo() {
            try {
                return newInfo.invoke();
            } catch (Throwable t) {
                return null;
            }
        }

        /** Finds {@code tcpInfo(holder)} on {@code type}, by name; {@link #NONE} when it has none. */
        static Probe of(Class<?> type) {
            if (!Channel.class.isAssignableFrom(type)) {
                return NONE;
            }
            try {
                for (Method m : type.getMethods()) {
                    if (!m.getName().equals("tcpInfo") || m.getParameterCount() != 1
                            || Modifier.isStatic(m.getModifiers())
                            || m.getReturnType() != m.getParameterTypes()[0]) {
                        continue;
                    }
                    Class<?> holder = m.getParameterTypes()[0];
                    MethodHandles.Lookup lookup = MethodHandles.publicLookup();
                    MethodHandle fill = lookup.unreflect(m)
                            .asType(MethodType.methodType(Object.class, Channel.class, Object.class));
                    MethodHandle sent = lookup.findVirtual(holder, "lastDataSent", MethodType.methodType(long.class))
                            .asType(MethodType.methodType(long.class, Object.class));
                    MethodHandle retrans = lookup.findVirtual(holder, "retransmits", MethodType.methodType(int.class))
                            .asType(MethodType.methodType(int.class, Object.class));
                    MethodHandle probes = lookup.findVirtual(holder, "probes", MethodType.methodType(int.class))
                            .asType(MethodType.methodType(int.class, Object.class));
                    MethodHandle ctor = lookup.findConstructor(holder, MethodType.methodType(void.class));
                    return new Probe(fill, sent, retrans, probes, ctor);
                }
            } catch (ReflectiveOperationException | LinkageError | SecurityException e) {
                return NONE;
            }
            return NONE;
        }
    }
}
