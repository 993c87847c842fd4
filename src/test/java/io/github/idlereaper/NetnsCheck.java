package io.github.idlereaper;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * For the tests whose peers live in network namespaces ({@link Netns}): once per class, finds out whether namespaces
 * can be made here and removes what test JVMs that died left behind; before each test, skips where they cannot be
 * made, or with {@code -Didlereaper.requireNetns=true} (as CI runs) fails instead, so that a CI host without the
 * privilege cannot pass by skipping. Register it as a static field with {@code @RegisterExtension}.
 */
final class NetnsCheck implements BeforeAllCallback, BeforeEachCallback {

    private final boolean needsSs;
    private volatile String unavailable;

    /** Namespaces and {@code ip}. */
    NetnsCheck() {
        this(false);
    }

    /** With {@code needsSs}, also {@code ss} (iproute2), for tests that read the kernel's socket state. */
    NetnsCheck(boolean needsSs) {
        this.needsSs = needsSs;
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        String why = Netns.unavailable();
        if (why == null && needsSs) {
            why = Netns.ssUnavailable();
        }
        if (why == null) {
            Netns.cleanStale();
        }
        unavailable = why;
    }

    @Override
    public void beforeEach(ExtensionContext context) {
        String why = unavailable;
        if (Boolean.getBoolean("idlereaper.requireNetns")) {
            assertNull(why, "idlereaper.requireNetns is set, but: " + why);
        }
        Assumptions.assumeTrue(why == null, () -> why);
    }

    /**
     * Closes {@code channels}, then shuts {@code groups} down, and forgets both. Channels first: Netty 4.1's
     * incubator io_uring loop never finishes shutting down while a channel of it still has an operation in flight.
     */
    static void closeAll(List<Channel> channels, List<EventLoopGroup> groups) {
        for (Channel ch : channels) {
            ch.close().awaitUninterruptibly(10, TimeUnit.SECONDS);
        }
        for (EventLoopGroup g : groups) {
            assertTrue(g.shutdownGracefully(0, 0, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS),
                    "event loop group shut down: " + g);
        }
        channels.clear();
        groups.clear();
    }
}
