package io.github.idlereaper;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The soak and fault suite (issue #13): one server JVM (this one) with the reaper on four ports, and one client JVM
 * per {@link SoakGroup} in a network namespace of its own, all at once, for a bounded time. It injects faults while
 * it runs (links taken down under two groups in waves, an event loop held for 2 s, a listener and a host handler
 * that throw, RSTs as goodbyes arrive), then judges every connection ({@link SoakReport}), and checks the server for
 * leaked buffers (PARANOID), sockets left open and heap kept. Run it with {@code bash benchmarks/soak.sh}.
 *
 * <p>Options: {@code --connections=N} (default 18500, split over the groups by weight, so that more than 15,000
 * are open at once while doomed ones churn; the server holds them within its 20,000 open files), {@code --duration=SECONDS}
 * (default 60), {@code --slack=MS} (default 1000: the loop's own delay allowed past each bound's tick),
 * {@code --seed=N}, {@code --out=FILE} (the Markdown report). Exit status 0 only when there was no false reap, no
 * missed reap, no wrong reason, no leak, no unexpected exception and no socket left open.
 */
final class SoakMain {

    private static final long HOLD_MILLIS = 2_000;

    private final int connections;
    private final long durationMillis;
    private final long slackMillis;
    private final long seed;
    private final Path out;
    private final Map<SoakGroup, Netns> namespaces = new EnumMap<>(SoakGroup.class);
    private final Map<SoakGroup, Process> clients = new EnumMap<>(SoakGroup.class);
    private final Map<SoakGroup, List<SoakReport.ClientRec>> records = new EnumMap<>(SoakGroup.class);
    private final Map<SoakGroup, CountDownLatch> readyLatches = new EnumMap<>(SoakGroup.class);
    private final Map<SoakGroup, CountDownLatch> doneLatches = new EnumMap<>(SoakGroup.class);
    private final List<SoakReport.Hold> holds = new CopyOnWriteArrayList<>();
    /** The clients' own stalls; a hold's loop is its group's ordinal here. */
    private final List<SoakReport.Hold> stalls = Collections.synchronizedList(new ArrayList<>());
    private final Map<SoakGroup, Duration> clientCpu = new EnumMap<>(SoakGroup.class);
    private int waves;
    private SoakServer server;

    private SoakMain(Map<String, String> options) {
        this.connections = Integer.parseInt(options.getOrDefault("connections", "18500"));
        this.durationMillis = TimeUnit.SECONDS.toMillis(Long.parseLong(options.getOrDefault("duration", "60")));
        this.slackMillis = Long.parseLong(options.getOrDefault("slack", "1000"));
        this.seed = Long.parseLong(options.getOrDefault("seed", String.valueOf(System.currentTimeMillis())));
        this.out = Path.of(options.getOrDefault("out", "target/soak/report.md"));
    }

    public static void main(String[] args) throws Exception {
        LeakCheckExtension.recorded(); // PARANOID, and the recording detector, before the first buffer
        Map<String, String> options = new LinkedHashMap<>();
        for (String a : args) {
            String[] kv = a.replaceFirst("^--", "").split("=", 2);
            options.put(kv[0], kv.length > 1 ? kv[1] : "true");
        }
        String why = Netns.unavailable();
        if (why != null) {
            System.err.println("the soak cannot run here: " + why);
            System.exit(2);
        }
        SoakMain soak = new SoakMain(options);
        Thread cleanup = new Thread(soak::cleanUp, "soak-cleanup");
        Runtime.getRuntime().addShutdownHook(cleanup);
        int status;
        try {
            status = soak.run();
        } catch (Throwable t) {
            t.printStackTrace();
            status = 1;
        } finally {
            soak.cleanUp();
        }
        System.exit(status);
    }

    private int run() throws Exception {
        say("seed " + seed + ", " + connections + " connections for " + durationMillis / 1000 + " s, slack "
                + slackMillis + " ms; " + Runtime.version() + ", Netty "
                + io.netty.util.Version.identify().values().iterator().next().artifactVersion());
        Netns.cleanStale();
        Map<String, SoakGroup> byAddress = new LinkedHashMap<>();
        for (SoakGroup g : SoakGroup.values()) {
            Netns ns = Netns.create();
            namespaces.put(g, ns);
            byAddress.put(ns.nsAddress, g);
        }
        server = new SoakServer("0.0.0.0", byAddress);
        say("server: " + server.transport() + ", ports " + portsLine());
        long heapBefore = heapAfterGc();
        FdCount fdBefore = FdCount.now();
        long cpuBefore = processCpuNanos();
        long wallBefore = System.nanoTime();

        // One client JVM at a time, kept groups first: fifteen JVMs starting at once on two cores would starve the
        // server's loops, and doomed groups churn from the moment they connect.
        List<SoakGroup> order = new ArrayList<>(List.of(SoakGroup.values()));
        order.sort(java.util.Comparator.comparing(g -> !g.kept()));
        for (SoakGroup g : order) {
            startClient(g);
            if (!readyLatches.get(g).await(180, TimeUnit.SECONDS)) {
                throw new IllegalStateException(g + "'s client did not connect its " + g.share(connections)
                        + " connections in 180 s");
            }
        }
        long start = System.nanoTime();
        say("all clients connected in " + (start - wallBefore) / 1_000_000 + " ms; " + server.open.size() + " open");
        long end = start + TimeUnit.MILLISECONDS.toNanos(durationMillis);

        ScheduledExecutorService timeline = Executors.newScheduledThreadPool(2);
        try {
            scheduleHolds(timeline, start, end);
            timeline.scheduleWithFixedDelay(() -> say(progress()), 10, 10, TimeUnit.SECONDS);
            vanishInWaves(start, end);
            pauseUntil(end);
        } finally {
            timeline.shutdownNow();
            timeline.awaitTermination(30, TimeUnit.SECONDS);
        }
        long endNanos = System.nanoTime();
        for (SoakGroup g : SoakGroup.values()) {
            clients.get(g).toHandle().info().totalCpuDuration().ifPresent(d -> clientCpu.put(g, d));
            tell(g, "END");
        }
        for (SoakGroup g : SoakGroup.values()) {
            if (!doneLatches.get(g).await(60, TimeUnit.SECONDS)) {
                // Its records so far are judged; a connection it did not report is counted as unmatched.
                unexpected = g + "'s client did not end within 60 s of being told to; ended by force";
                clients.get(g).destroyForcibly();
            }
            clients.get(g).waitFor(30, TimeUnit.SECONDS);
        }
        long cpuNanos = processCpuNanos() - cpuBefore;
        long wallNanos = System.nanoTime() - wallBefore;
        // The clients are gone: every socket they held is closed, so every connection ends on the server too.
        long settle = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!server.open.isEmpty() && System.nanoTime() - settle < 0) {
            pause(100);
        }
        int stillOpen = server.open.size();

        SoakReport report = new SoakReport(SoakServer.TICK.toMillis(), slackMillis, 1_000);
        List<SoakServer.Conn> all = new ArrayList<>(server.closed);
        all.addAll(server.open);
        long reapsSeen = all.stream().filter(c -> c.reapNanos != 0).count();
        report.clientStalls(stalls);
        report.judge(all, records, server.lags(), endNanos);
        Files.createDirectories(out.toAbsolutePath().getParent());
        Files.writeString(out.resolveSibling("connections.csv"), report.csv);
        Files.writeString(out.resolveSibling("loop-delays.csv"), report.delaysCsv(server.lags()));
        report.csv.setLength(0);
        report.csv.trimToSize();
        long reapsCounted = 0;
        for (IdleReaper r : server.reapers()) {
            reapsCounted += r.stats().reapedTotal();
        }
        int accepted = all.size();
        String maxLag = server.maxLoopLagMillis() + " ms";
        int lagsSampled = server.lags().size();
        int peakOpen = server.peakOpen();
        // The verdict is rendered now and dropped with the run's records, so that the heap measured after is the
        // server's own.
        String table = report.table();
        String examples = report.examples();
        long maxAcceptMillis = report.maxAcceptMillis();
        int failures = report.failures();
        report = null;
        server.closed.clear();
        server.lags().clear();
        records.clear();
        stalls.clear();
        all = null;

        long heapAfter = heapAfterGc();
        FdCount fdAfter = FdCount.now();
        String errors = errorsLine();
        long unknownPeers = server.unknownPeers.get();
        long listenerThrows = server.listenerThrows.get();
        long hostThrows = server.hostThrows.get();
        long ioErrors = server.ioErrors.get();
        server.close();
        server = null;
        LeakCheckExtension.poll();
        List<String> leaks = new ArrayList<>(LeakCheckExtension.recorded());

        StringBuilder sb = new StringBuilder();
        sb.append("## Soak run of ").append(Instant.now()).append("\n\n");
        sb.append("`bash benchmarks/soak.sh --connections=").append(connections).append(" --duration=")
                .append(durationMillis / 1000).append("` (seed ").append(seed).append("), ")
                .append(Runtime.version()).append(", ").append(Runtime.getRuntime().availableProcessors())
                .append(" cores\n\n");
        sb.append(table).append('\n');
        sb.append("- accepted ").append(accepted).append(" connections (").append(connections)
                .append(" in the population, the rest reconnections; at most ").append(peakOpen)
                .append(" open at once); reaps seen by the recorder ").append(reapsSeen)
                .append(", counted by the reapers ").append(reapsCounted).append("; ").append(waves)
                .append(" vanishing waves; longest wait from a client's connect to the server's accept ")
                .append(maxAcceptMillis).append(" ms; loop holds ").append(holdsLine())
                .append("; loop delays over 20 ms sampled: ").append(lagsSampled).append("; max loop lag recorded ")
                .append(maxLag).append('\n');
        sb.append("- bounds: each reason's upper bound + one tick (").append(SoakServer.TICK.toMillis())
                .append(" ms) is shown; a reap past it, plus the delays of its event loop while its clock ran (sampled "
                        + "every 50 ms: the loop's own delay), by more than the slack (").append(slackMillis)
                .append(" ms) is missed\n");
        sb.append("- the listener threw on every 50th reap (").append(listenerThrows)
                .append(" times); a host handler threw on its ReapEvent on one connection in ten (")
                .append(hostThrows).append(" times); I/O errors that reached a pipeline's end (the peers' resets): ").append(ioErrors)
                .append("; unexpected exceptions: ").append(errors).append('\n');
        sb.append("- server heap after a full GC: ").append(mib(heapBefore)).append(" before, ")
                .append(mib(heapAfter)).append(" after\n");
        sb.append("- server file descriptors: ").append(fdBefore).append(" before, ").append(fdAfter)
                .append(" after; connections still open after the clients ended: ").append(stillOpen).append('\n');
        sb.append("- leaks at PARANOID: ").append(leaks.size()).append('\n');
        sb.append("- CPU: server ").append(String.format(Locale.ROOT, "%.1f s (%.0f %% of one core)",
                cpuNanos / 1e9, 100.0 * cpuNanos / wallNanos)).append(", clients ").append(clientCpuLine())
                .append('\n');
        List<String> why = new ArrayList<>();
        if (failures > 0) {
            why.add(failures + " false or missed reaps, wrong reasons or dropped connections");
        }
        if (!leaks.isEmpty()) {
            why.add(leaks.size() + " leaks");
        }
        if (fdAfter.sockets > fdBefore.sockets || stillOpen > 0) {
            why.add("sockets grew from " + fdBefore.sockets + " to " + fdAfter.sockets);
        }
        if (!errors.equals("none")) {
            why.add("unexpected exceptions or harness errors");
        }
        if (unknownPeers > 0) {
            why.add(unknownPeers + " connections from addresses of no group");
        }
        if (reapsCounted != reapsSeen) {
            why.add("the reapers counted " + reapsCounted + " reaps, the recorder saw " + reapsSeen);
        }
        sb.append("\n**").append(why.isEmpty() ? "PASSED" : "FAILED: " + String.join("; ", why)).append("**\n");
        if (!examples.isEmpty()) {
            sb.append("\n```\n").append(examples).append("```\n");
        }
        if (!leaks.isEmpty()) {
            sb.append("\nFirst leak:\n```\n").append(leaks.get(0)).append("\n```\n");
        }
        System.out.println();
        System.out.println(sb);
        Files.createDirectories(out.toAbsolutePath().getParent());
        Files.writeString(out, sb.toString());
        say("report written to " + out);
        return why.isEmpty() ? 0 : 1;
    }

    private String errorsLine() {
        List<String> all = new ArrayList<>(server.errors);
        if (unexpected != null) {
            all.add(unexpected);
        }
        return all.isEmpty() ? "none" : String.join("; ", all);
    }

    private String unexpected;

    private String portsLine() {
        StringBuilder sb = new StringBuilder();
        for (SoakServer.Port p : SoakServer.Port.values()) {
            sb.append(sb.length() == 0 ? "" : ", ").append(p).append(' ').append(server.port(p));
        }
        return sb.toString();
    }

    private void startClient(SoakGroup g) throws IOException {
        Netns ns = namespaces.get(g);
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        // nice: the clients are the load, the server is what is measured; on two cores, the server's loops must not
        // wait behind fifteen client JVMs for the CPU (but the clients must keep their own times too). A client
        // starts at 15, so that its JVM's start does not hold up the clients already running, and runs at 5 once
        // connected.
        Process p = ns.exec("nice", "-n", "15", java, "-Xmx256m", "-XX:+UseSerialGC",
                "-Djava.net.preferIPv4Stack=true", "-Dio.netty.leakDetection.level=disabled",
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                "-cp", System.getProperty("java.class.path"), SoakClient.class.getName(), g.name(), ns.hostAddress,
                String.valueOf(server.port(g.port)), String.valueOf(g.share(connections)),
                String.valueOf(durationMillis), String.valueOf(seed + g.ordinal()));
        clients.put(g, p);
        // A long soak's group has hundreds of thousands: a copy-on-write list would copy them all at every add.
        List<SoakReport.ClientRec> recs = Collections.synchronizedList(new ArrayList<>());
        records.put(g, recs);
        CountDownLatch ready = new CountDownLatch(1);
        CountDownLatch done = new CountDownLatch(1);
        readyLatches.put(g, ready);
        doneLatches.put(g, done);
        Path log = out.toAbsolutePath().getParent().resolve("client-" + g.name().toLowerCase(Locale.ROOT) + ".log");
        Files.createDirectories(log.getParent());
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(),
                    StandardCharsets.UTF_8)); PrintWriter w = new PrintWriter(Files.newBufferedWriter(log))) {
                for (String line; (line = r.readLine()) != null; ) {
                    if (line.startsWith("R ")) {
                        recs.add(SoakReport.ClientRec.parse(line));
                    } else if (line.startsWith("S ")) {
                        String[] f = line.split(" ");
                        stalls.add(new SoakReport.Hold(g.ordinal(), Long.parseLong(f[1]), Long.parseLong(f[2])));
                    } else {
                        w.println(line);
                        if (line.startsWith("READY")) {
                            renice(p.pid(), 5);
                            ready.countDown();
                        } else if (line.startsWith("DONE")) {
                            done.countDown();
                        }
                    }
                }
            } catch (IOException e) {
                unexpected = g + "'s client output: " + e;
            } finally {
                ready.countDown();
                done.countDown();
            }
        }, "soak-client-" + g);
        reader.setDaemon(true);
        reader.start();
    }

    /** Sets every thread of process {@code pid} to {@code nice} (Linux keeps a nice value per thread). */
    private void renice(long pid, int nice) {
        try (var tasks = Files.list(Path.of("/proc", String.valueOf(pid), "task"))) {
            List<String> cmd = new ArrayList<>(List.of("renice", "-n", String.valueOf(nice), "-p"));
            tasks.forEach(t -> cmd.add(t.getFileName().toString()));
            new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .start().waitFor(10, TimeUnit.SECONDS);
        } catch (IOException e) {
            unexpected = "renice " + pid + ": " + e;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void tell(SoakGroup g, String line) {
        try {
            Process p = clients.get(g);
            p.getOutputStream().write((line + "\n").getBytes(StandardCharsets.UTF_8));
            p.getOutputStream().flush();
        } catch (IOException e) {
            unexpected = "telling " + g + " " + line + ": " + e;
        }
    }

    /** Holds event loop 0 for 2 s at 40 % of the run, and every 5 minutes after. */
    private void scheduleHolds(ScheduledExecutorService timeline, long start, long end) {
        long first = (long) ((end - start) * 0.4);
        long every = TimeUnit.MINUTES.toNanos(5);
        for (long at = first; start + at + TimeUnit.SECONDS.toNanos(20) - end < 0; at += every) {
            timeline.schedule(() -> {
                try {
                    long[] window = server.blockLoop(0, HOLD_MILLIS);
                    holds.add(new SoakReport.Hold(0, window[0], window[1]));
                    say("held event loop 0 for " + (window[1] - window[0]) / 1_000_000 + " ms");
                } catch (Exception e) {
                    unexpected = "loop hold: " + e;
                }
            }, at, TimeUnit.NANOSECONDS);
        }
    }

    /**
     * Takes the vanishing groups' links down in waves: quiet, 500 ms later link down, then up again once every
     * reap is due, then new connections; a wave starts only when it can end before the run does.
     */
    private void vanishInWaves(long start, long end) {
        long reapDue = TimeUnit.MILLISECONDS.toNanos(SoakGroup.VANISHED_IDLE.upperMillis() + SoakServer.TICK.toMillis()
                + slackMillis + 1_500);
        long next = start + TimeUnit.SECONDS.toNanos(10);
        while (next + reapDue + TimeUnit.SECONDS.toNanos(8) - end < 0) {
            pauseUntil(next);
            List<SoakGroup> vanishing = List.of(SoakGroup.VANISHED_IDLE, SoakGroup.VANISHED_STREAMING);
            vanishing.forEach(g -> tell(g, "QUIET"));
            long quiet = System.nanoTime();
            pause(500);
            vanishing.forEach(g -> namespaces.get(g).linkDown());
            pauseUntil(quiet + reapDue);
            vanishing.forEach(g -> namespaces.get(g).linkUp());
            vanishing.forEach(g -> tell(g, "RECONNECT"));
            waves++;
            say("vanishing wave " + waves + " done");
            next = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        }
    }

    private String progress() {
        SoakServer s = server;
        if (s == null) {
            return "";
        }
        long reaps = 0;
        for (IdleReaper r : s.reapers()) {
            reaps += r.stats().reapedTotal();
        }
        return "open " + s.open.size() + ", closed " + s.closed.size() + ", reaps " + reaps + ", max loop lag "
                + s.maxLoopLagMillis() + " ms";
    }

    private String holdsLine() {
        StringBuilder sb = new StringBuilder();
        for (SoakReport.Hold h : holds) {
            sb.append(sb.length() == 0 ? "" : ", ").append((h.end - h.start) / 1_000_000).append(" ms");
        }
        return sb.length() == 0 ? "none" : sb.toString();
    }

    private String clientCpuLine() {
        long total = 0;
        StringBuilder each = new StringBuilder();
        for (Map.Entry<SoakGroup, Duration> e : clientCpu.entrySet()) {
            total += e.getValue().toMillis();
            each.append(each.length() == 0 ? "" : ", ").append(e.getKey().name().toLowerCase(Locale.ROOT))
                    .append(String.format(Locale.ROOT, " %.1f", e.getValue().toMillis() / 1e3));
        }
        return String.format(Locale.ROOT, "%.1f s in %d JVMs (%s)", total / 1e3, clientCpu.size(), each);
    }

    private void cleanUp() {
        synchronized (this) {
            for (Process p : clients.values()) {
                p.destroyForcibly();
            }
            for (Netns ns : namespaces.values()) {
                try {
                    ns.close();
                } catch (RuntimeException | AssertionError e) {
                    System.err.println("cleaning up " + ns.name + ": " + e);
                }
            }
            namespaces.clear();
        }
    }

    private static long heapAfterGc() {
        MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
        for (int i = 0; i < 3; i++) {
            System.gc();
        }
        return memory.getHeapMemoryUsage().getUsed();
    }

    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }

    private static String mib(long bytes) {
        return String.format(Locale.ROOT, "%.1f MiB", bytes / 1048576.0);
    }

    private static void pause(long millis) {
        pauseUntil(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis));
    }

    private static void pauseUntil(long nanos) {
        for (long now = System.nanoTime(); now - nanos < 0; now = System.nanoTime()) {
            LockSupport.parkNanos(nanos - now);
        }
    }

    private static void say(String s) {
        if (!s.isEmpty()) {
            System.out.println("[soak " + Instant.now() + "] " + s);
        }
    }

    /** The process's open file descriptors, and how many of them are sockets. */
    private static final class FdCount {
        final int total;
        final int sockets;

        private FdCount(int total, int sockets) {
            this.total = total;
            this.sockets = sockets;
        }

        static FdCount now() throws IOException {
            int total = 0;
            int sockets = 0;
            try (var fds = Files.newDirectoryStream(Path.of("/proc/self/fd"))) {
                for (Path fd : fds) {
                    total++;
                    try {
                        if (Files.readSymbolicLink(fd).toString().startsWith("socket:")) {
                            sockets++;
                        }
                    } catch (IOException e) {
                        // closed while we looked: the directory stream's own, say
                    }
                }
            }
            return new FdCount(total, sockets);
        }

        @Override
        public String toString() {
            return total + " (" + sockets + " sockets)";
        }
    }
}
