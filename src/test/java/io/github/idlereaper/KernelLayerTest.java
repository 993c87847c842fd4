package io.github.idlereaper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.DefaultChannelConfig;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.local.LocalChannel;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Layer 2: the kernel layer without a socket. A channel with no TCP socket gets no option, and its class is warned
 * about once per JVM, naming the options asked for; options are found by name, listed or beside listed ones.
 */
class KernelLayerTest {

    private static final String WARN = "WARN io.github.idlereaper.IdleReaper - ";

    private final ByteArrayOutputStream captured = new ByteArrayOutputStream();
    private PrintStream err;

    @BeforeEach
    void captureLog() {
        TcpOptionApplier.forgetWarnings();
        err = System.err;
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
    }

    @AfterEach
    void restoreLog() {
        System.setErr(err);
    }

    private int count(String message) {
        String log = captured.toString(StandardCharsets.UTF_8);
        return log.split(Pattern.quote(WARN + message), -1).length - 1;
    }

    @Test
    void notTcp_warnsOncePerChannelClass_namingTheOptionsAndTheChannel() {
        KernelLayer layer = new KernelLayer(KernelOptions.NONE
                .withKeepAlive(Duration.ofSeconds(60), Duration.ofSeconds(10), 6)
                .withUserTimeout(Duration.ofSeconds(30)));
        layer.apply(new LocalChannel());
        layer.apply(new LocalChannel());
        String local = "tcpKeepAlive (PT1M, PT10S, 6) and tcpUserTimeout (PT30S) not applied to "
                + "io.netty.channel.local.LocalChannel: it has no TCP socket; its idle timers and heartbeats "
                + "still apply";
        assertEquals(1, count(local), captured.toString(StandardCharsets.UTF_8));
        assertEquals(Map.of("io.netty.channel.local.LocalChannel/no TCP socket", local),
                TcpOptionApplier.warned());
        // Nothing was applied or read back, so nothing is counted as a mismatch of a TCP socket.
        assertEquals(0, layer.mismatches());
        assertEquals(Map.of(), layer.lastByTransport());
    }

    @Test
    void notTcp_throughTheHandler_warnsOnceForEachChannelClass_withOnlyTheOptionSet() {
        IdleReaper reaper = IdleReaper.builder().tcpKeepAlive(Duration.ofSeconds(1), Duration.ofSeconds(1), 2)
                .build();
        EmbeddedChannel first = new EmbeddedChannel(reaper.newHandler());
        EmbeddedChannel second = new EmbeddedChannel(reaper.newHandler());
        String embedded = "tcpKeepAlive (PT1S, PT1S, 2) not applied to io.netty.channel.embedded.EmbeddedChannel: "
                + "it has no TCP socket; its idle timers and heartbeats still apply";
        assertEquals(1, count(embedded), captured.toString(StandardCharsets.UTF_8));
        new KernelLayer(KernelOptions.NONE.withUserTimeout(Duration.ofMillis(1500))).apply(new LocalChannel());
        assertEquals(1, count("tcpUserTimeout (PT1.5S) not applied to io.netty.channel.local.LocalChannel: it has "
                + "no TCP socket; its idle timers and heartbeats still apply"),
                captured.toString(StandardCharsets.UTF_8));
        assertEquals(0, reaper.stats().tcpMismatches());
        first.finishAndReleaseAll();
        second.finishAndReleaseAll();
    }

    /** Option constants as a transport declares them: pooled as {@code FakeTransportOption#NAME}. */
    static final class FakeTransportOption {
        static final ChannelOption<Integer> TCP_KEEPIDLE = ChannelOption.valueOf(FakeTransportOption.class,
                "TCP_KEEPIDLE");
        static final ChannelOption<Integer> TCP_KEEPINTVL = ChannelOption.valueOf(FakeTransportOption.class,
                "TCP_KEEPINTVL");
        static final ChannelOption<Integer> TCP_KEEPCNT = ChannelOption.valueOf(FakeTransportOption.class,
                "TCP_KEEPCNT");
        static final ChannelOption<Integer> TCP_USER_TIMEOUT = ChannelOption.valueOf(FakeTransportOption.class,
                "TCP_USER_TIMEOUT");
    }

    /** A config that, like Netty 4.1's incubator io_uring, lists its keepalive options but not TCP_USER_TIMEOUT. */
    private static final class UnlistedUserTimeoutConfig extends DefaultChannelConfig {
        UnlistedUserTimeoutConfig(Channel ch) {
            super(ch);
        }

        @Override
        public Map<ChannelOption<?>, Object> getOptions() {
            return getOptions(super.getOptions(), FakeTransportOption.TCP_KEEPCNT, FakeTransportOption.TCP_KEEPIDLE,
                    FakeTransportOption.TCP_KEEPINTVL);
        }
    }

    @Test
    void byName_findsAnUnlistedOptionBesideItsListedSiblings() {
        EmbeddedChannel ch = new EmbeddedChannel();
        TcpOptionLookup.Found f = TcpOptionLookup.byName(new UnlistedUserTimeoutConfig(ch));
        assertSame(FakeTransportOption.TCP_KEEPIDLE, f.idle);
        assertSame(FakeTransportOption.TCP_KEEPINTVL, f.interval);
        assertSame(FakeTransportOption.TCP_KEEPCNT, f.count);
        assertSame(FakeTransportOption.TCP_USER_TIMEOUT, f.userTimeout);
        // A config that lists none of them gets none: nothing is guessed without a sibling.
        TcpOptionLookup.Found none = TcpOptionLookup.byName(ch.config());
        assertNull(none.idle);
        assertNull(none.userTimeout);
        ch.finishAndReleaseAll();
    }

    @Test
    void notTcp_noOptions_saysNothing() {
        new KernelLayer(KernelOptions.NONE).apply(new LocalChannel());
        EmbeddedChannel ch = new EmbeddedChannel(IdleReaper.builder().build().newHandler());
        assertEquals(Map.of(), TcpOptionApplier.warned());
        assertEquals(0, count(""), captured.toString(StandardCharsets.UTF_8));
        ch.finishAndReleaseAll();
    }
}
