package io.github.idlereaper.bench;

import io.github.idlereaper.bench.Stack.Config;
import io.github.idlereaper.bench.Stack.Timeouts;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.local.LocalAddress;
import io.netty.channel.local.LocalChannel;
import io.netty.channel.local.LocalIoHandler;
import io.netty.channel.local.LocalServerChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.EventExecutor;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Figure 1: heap retained per connection. For each configuration: a class histogram (after a full GC), n idle
 * connections opened with that configuration on the server side, a second histogram; the difference over n is what
 * one connection retains, and the configuration's figure is that minus the bare pipeline's. Shared, per-loop state
 * (the reaper's wheel) is included, amortized over n.
 */
final class HeapFigure {

    /**
     * The order of measurement; bare runs first and last, to show the noise. The Netty composition with the pinger
     * runs first of those with scheduled tasks: they all grow the loop's scheduled-task queue, which never shrinks,
     * so the first of them is charged for the growth, and it should be the one in the table.
     */
    static final List<Config> ORDER = List.of(Config.BARE, Config.PASS, Config.NETTY_HB, Config.NETTY,
            Config.READ_TIMEOUT, Config.REAPER_HB, Config.REAPER, Config.REAPER_ALL, Config.BARE);

    /** One configuration's figure: bytes per connection in total and per class. */
    record PerConn(double total, Map<String, Double> perClass) {
    }

    /** A way to open n server-side connections with a stack, and to close them again. */
    interface Harness extends AutoCloseable {
        void open(Stack stack, int n) throws Exception;

        void closeAll() throws Exception;

        /** Runs a task on every loop of the harness, so pending deregistrations and selector clean-ups happen. */
        void settle() throws Exception;

        /** The channel class to count, and how many of it one connection makes. */
        String channelClass();

        int channelsPerConnection();

        @Override
        void close() throws IOException;
    }

    private HeapFigure() {
    }

    /**
     * Measures every configuration of {@link #ORDER} after a small warm-up round. The second bare run only goes
     * into the report, as a measure of the noise.
     */
    static Map<Config, PerConn> run(Harness h, int n, Timeouts t, Report report, String label) throws Exception {
        // Warm-up: load and link every class the measured rounds use, then grow the tables every connection
        // shares (the selector's key map, the channel registries) to n once, so that no measured round pays
        // for that growth: tables never shrink.
        for (Config c : ORDER) {
            round(h, Stack.of(c, t), Math.min(n, 500));
        }
        round(h, Stack.of(Config.BARE, t), n);
        Map<Config, PerConn> out = new EnumMap<>(Config.class);
        PerConn bareAgain = null;
        for (int i = 0; i < ORDER.size(); i++) {
            Config c = ORDER.get(i);
            PerConn p = round(h, Stack.of(c, t), n);
            if (c == Config.BARE && out.containsKey(Config.BARE)) {
                bareAgain = p;
            } else {
                out.put(c, p);
            }
        }
        double bare = out.get(Config.BARE).total();
        report.detail("%s, n=%,d: bare %.1f B/conn; bare again at the end %.1f B/conn (the noise: %s)", label, n,
                bare, bareAgain.total(), topClasses(bareAgain, out.get(Config.BARE)));
        for (Config c : ORDER) {
            if (c == Config.BARE) {
                continue;
            }
            PerConn p = out.get(c);
            report.detail("%s: %-32s %+7.1f B/conn over bare   [%s]", label, c.label, p.total() - bare,
                    topClasses(p, out.get(Config.BARE)));
        }
        report.metric(label + ".bareNoise", Math.abs(bareAgain.total() - bare));
        return out;
    }

    private static PerConn round(Harness h, Stack stack, int n) throws Exception {
        Histogram before = settled(h, 0);
        h.open(stack, n);
        Histogram after = settled(h, (long) n * h.channelsPerConnection());
        h.closeAll();
        Map<String, Double> perClass = new HashMap<>();
        for (Map.Entry<String, Long> e : after.bytes.entrySet()) {
            long d = e.getValue() - before.bytes.getOrDefault(e.getKey(), 0L);
            if (d != 0) {
                perClass.put(e.getKey(), (double) d / n);
            }
        }
        for (Map.Entry<String, Long> e : before.bytes.entrySet()) {
            if (!after.bytes.containsKey(e.getKey())) {
                perClass.put(e.getKey(), (double) -e.getValue() / n);
            }
        }
        return new PerConn((double) (after.totalBytes - before.totalBytes) / n, perClass);
    }

    /**
     * A histogram taken once exactly {@code expected} channels are alive: closed channels linger until their loop
     * has deregistered them, and one left over would be counted against the next round.
     */
    private static Histogram settled(Harness h, long expected) throws Exception {
        long seen = -1;
        for (int attempt = 0; attempt < 100; attempt++) {
            h.settle();
            Histogram hist = Histogram.take();
            seen = hist.instances.getOrDefault(h.channelClass(), 0L);
            if (seen == expected) {
                return hist;
            }
            Thread.sleep(50);
        }
        throw new IllegalStateException("expected " + expected + " live " + h.channelClass() + ", saw " + seen);
    }

    /** The classes that account for a configuration's bytes over bare, largest first. */
    private static String topClasses(PerConn p, PerConn bare) {
        Map<String, Double> d = new HashMap<>(p.perClass());
        bare.perClass().forEach((k, v) -> d.merge(k, -v, Double::sum));
        StringBuilder sb = new StringBuilder();
        d.entrySet().stream()
                .filter(e -> Math.abs(e.getValue()) >= 0.5)
                .sorted((a, b) -> Double.compare(Math.abs(b.getValue()), Math.abs(a.getValue())))
                .limit(8)
                .forEach(e -> sb.append(sb.length() == 0 ? "" : ", ")
                        .append(simpleName(e.getKey())).append(Report.fmt(" %+.1f", e.getValue())));
        return sb.length() == 0 ? "no class differs by 0.5 B or more" : sb.toString();
    }

    private static String simpleName(String className) {
        int dot = className.lastIndexOf('.');
        return dot < 0 ? className : className.substring(dot + 1);
    }

    // ------------------------------------------------------------------------------------------------- harnesses

    /** In-VM LocalChannel pairs: both ends in this JVM, the configuration on the server end. */
    static final class Local implements Harness {
        private final EventLoopGroup serverGroup = new MultiThreadIoEventLoopGroup(1, LocalIoHandler.newFactory());
        private final EventLoopGroup clientGroup = new MultiThreadIoEventLoopGroup(1, LocalIoHandler.newFactory());
        private final Handlers.Counter counter = new Handlers.Counter();
        private final List<Channel> clients = new ArrayList<>();
        private Channel server;
        private int seq;

        @Override
        public void open(Stack stack, int n) throws Exception {
            LocalAddress addr = new LocalAddress("heap-" + (seq++));
            server = new ServerBootstrap().group(serverGroup).channel(LocalServerChannel.class)
                    .childHandler(initializer(stack, counter)).bind(addr).sync().channel();
            Bootstrap cb = new Bootstrap().group(clientGroup).channel(LocalChannel.class)
                    .handler(Handlers.InSink.INSTANCE);
            List<ChannelFuture> batch = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                batch.add(cb.connect(addr, Locals.next()));
                if (batch.size() == 2000 || i == n - 1) {
                    for (ChannelFuture f : batch) {
                        clients.add(f.sync().channel());
                    }
                    batch.clear();
                }
            }
            Measure.await(n + " local connections", 60_000, () -> counter.active.get() == n);
        }

        @Override
        public void closeAll() throws Exception {
            for (Channel c : clients) {
                c.close();
            }
            for (Channel c : clients) {
                c.closeFuture().sync();
            }
            clients.clear();
            server.close().sync();
            Measure.await("local connections to close", 60_000, () -> counter.active.get() == 0);
        }

        @Override
        public void settle() throws Exception {
            HeapFigure.settle(serverGroup);
            HeapFigure.settle(clientGroup);
        }

        @Override
        public String channelClass() {
            return LocalChannel.class.getName();
        }

        @Override
        public int channelsPerConnection() {
            return 2;
        }

        @Override
        public void close() {
            serverGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
            clientGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    /** Real loopback TCP: the server (measured) in this JVM on NIO, the client in another JVM. */
    static final class Nio implements Harness {
        private final EventLoopGroup boss = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        private final EventLoopGroup workers = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        private final Handlers.Counter counter = new Handlers.Counter();
        private final Process client;
        private final PrintStream toClient;
        private final BufferedReader fromClient;
        private Channel server;

        Nio() throws IOException {
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            String cp = Measure.call(() ->
                    new File(FloodClient.class.getProtectionDomain().getCodeSource().getLocation().toURI()).getPath());
            client = new ProcessBuilder(java, "-Xmx256m", "-XX:+UseSerialGC", "-cp", cp, FloodClient.class.getName())
                    .redirectError(ProcessBuilder.Redirect.INHERIT).start();
            toClient = new PrintStream(client.getOutputStream(), true, StandardCharsets.UTF_8);
            fromClient = new BufferedReader(new InputStreamReader(client.getInputStream(), StandardCharsets.UTF_8));
        }

        private String ask(String command) throws IOException {
            toClient.println(command);
            String reply = fromClient.readLine();
            if (reply == null || reply.startsWith("error")) {
                throw new IOException("flood client: " + command + " -> " + reply);
            }
            return reply;
        }

        @Override
        public void open(Stack stack, int n) throws Exception {
            server = new ServerBootstrap().group(boss, workers).channel(NioServerSocketChannel.class)
                    .option(ChannelOption.SO_BACKLOG, 4096)
                    .childHandler(initializer(stack, counter)).bind("127.0.0.1", 0).sync().channel();
            int port = ((InetSocketAddress) server.localAddress()).getPort();
            ask("open " + port + " " + n);
            Measure.await(n + " loopback connections", 60_000, () -> counter.active.get() == n);
        }

        @Override
        public void closeAll() throws Exception {
            ask("close");
            Measure.await("loopback connections to close", 60_000, () -> counter.active.get() == 0);
            server.close().sync();
        }

        @Override
        public void settle() throws Exception {
            HeapFigure.settle(boss);
            HeapFigure.settle(workers);
        }

        @Override
        public String channelClass() {
            return NioSocketChannel.class.getName();
        }

        @Override
        public int channelsPerConnection() {
            return 1;
        }

        @Override
        public void close() throws IOException {
            try {
                ask("exit");
            } finally {
                try {
                    client.waitFor(5, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                client.destroy();
                boss.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
                workers.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
            }
        }
    }

    private static void settle(EventLoopGroup group) throws Exception {
        for (EventExecutor e : group) {
            e.submit(() -> { }).sync();
        }
    }

    private static ChannelInitializer<Channel> initializer(Stack stack, Handlers.Counter counter) {
        return new ChannelInitializer<>() {
            @Override
            protected void initChannel(Channel ch) {
                ch.pipeline().addLast(counter);
                stack.addFirst(ch.pipeline());
            }
        };
    }
}
