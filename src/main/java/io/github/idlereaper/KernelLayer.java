package io.github.idlereaper;

import io.netty.channel.Channel;
import java.time.Duration;
import java.util.Map;

/**
 * A reaper's kernel layer: TCP keepalive and TCP_USER_TIMEOUT on every TCP channel it watches, and the kernel's
 * verdict on a dead peer. The entry point the handler, the core and the facade use; the work is in three files with
 * one job each:
 * <ul>
 *   <li>{@link TcpOptionLookup}: finds a transport's options by name, or raw, with no native transport as a
 *       compile-time dependency;</li>
 *   <li>{@link TcpOptionApplier}: sets them, reads them back, counts mismatches and warns once per transport and
 *       option;</li>
 *   <li>{@link DeadPeerCause}: reads the kernel's verdict on the peer from the errno a socket failed with.</li>
 * </ul>
 *
 * <p>Thread-safe. {@link #apply} runs on the channel's event loop, once per channel.
 */
final class KernelLayer {

    private final KernelOptions options;
    private final TcpOptionApplier applier;

    KernelLayer(KernelOptions options) {
        this.options = options;
        this.applier = new TcpOptionApplier(options);
    }

    KernelOptions options() {
        return options;
    }

    /** The kernel bound the reaper configured, for {@link ReapReason#DEAD_PEER} events; zero when none. */
    Duration deadPeerLimit() {
        return options.deadPeerLimit();
    }

    /** The settings last read back, per transport. */
    Map<String, TcpSettings> lastByTransport() {
        return applier.lastByTransport();
    }

    /** Channels on which at least one option the reaper asked for was not in effect. */
    long mismatches() {
        return applier.mismatches();
    }

    /** Sets the options on {@code ch}, reads them back, counts and warns about what is not in effect. */
    void apply(Channel ch) {
        applier.apply(ch);
    }

    /** Reads what is in effect on {@code ch}'s socket now. */
    static TcpSettings read(Channel ch) {
        return TcpOptionApplier.read(ch);
    }
}
