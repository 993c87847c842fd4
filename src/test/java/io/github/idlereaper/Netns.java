package io.github.idlereaper;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A network namespace joined to the host by a veth pair, for tests whose peer must really vanish. Needs root and
 * {@code ip} (iproute2).
 *
 * <p>Each instance has unique names that carry the test JVM's pid ({@code idlereaper-PID-N}, links
 * {@code irPIDhN} on the host and {@code irPIDnN} in the namespace) and a /30 from 198.18.0.0/15, the range set
 * aside for benchmarking (RFC 2544), so it collides with no real network: the host end gets {@code .1}, the
 * namespace end {@code .2}, and traffic between them stays on the pair. {@link #linkDown()} takes the namespace's
 * end down: the host's packets then vanish silently, as with a cut cable, with no FIN, RST or ICMP.
 * {@link #close()} removes everything; {@link #cleanStale()} removes what test JVMs that died left behind.
 *
 * <p>For the ways a kernel gives up on a peer other than silence, the peer's host can also lose its address while
 * the link stays up ({@link #peerAddressGone()}), the host can be made to find that out fast
 * ({@link #fastNeighbourFailure()}, {@link #forgetNeighbours()}), and the host's route to the peer can be withdrawn
 * ({@link #routeToPeer(String)}, a /32 that {@link #close()} removes too). {@link #keepAliveProbes()} and
 * {@link #holdsEstablished()} read the host kernel's view of the connection with {@code ss}.
 */
final class Netns implements AutoCloseable {

    private static final AtomicInteger SEQ = new AtomicInteger();
    private static final Pattern OWN_NETNS = Pattern.compile("^(idlereaper-(\\d+)-\\d+)\\b");
    private static final Pattern OWN_LINK = Pattern.compile("^\\d+: (ir(\\d+)h\\d+)[@:]");
    /** A /32 route of the kinds {@link #routeToPeer(String)} adds, to a namespace end's address. */
    private static final Pattern OWN_ROUTE = Pattern.compile(
            "^(unreachable|throw|prohibit|blackhole) (198\\.1[89]\\.\\d+\\.\\d+)\\b");
    private static final Pattern KEEPALIVE_TIMER = Pattern.compile("timer:\\(keepalive,[^,]*,(\\d+)\\)");
    private static final Pattern TIMER = Pattern.compile("timer:\\([^)]*\\)");
    private static final long PID = ProcessHandle.current().pid();

    final String name;
    final String hostLink;
    final String nsLink;
    final String hostAddress;
    final String nsAddress;
    private final List<Process> processes = new ArrayList<>();
    /** Whether {@link #routeToPeer(String)} added the host's /32 route to {@link #nsAddress}. */
    private boolean route;

    private Netns(int seq) {
        this.name = "idlereaper-" + PID + "-" + seq;
        this.hostLink = "ir" + PID + "h" + seq;
        this.nsLink = "ir" + PID + "n" + seq;
        long index = ((PID & 0x7FF) << 4 | (seq & 0xF)) & 0x7FFF;
        long base = (198L << 24 | 18L << 16) + index * 4;
        this.hostAddress = dotted(base + 1);
        this.nsAddress = dotted(base + 2);
    }

    private static String dotted(long a) {
        return (a >> 24 & 255) + "." + (a >> 16 & 255) + "." + (a >> 8 & 255) + "." + (a & 255);
    }

    /** Why namespace tests cannot run here, or null when they can. */
    static String unavailable() {
        if (!System.getProperty("os.name", "").startsWith("Linux")) {
            return "network namespaces need Linux, this is " + System.getProperty("os.name");
        }
        if (!isRoot()) {
            return "network namespace tests need root (they create namespaces and veth links)";
        }
        String ip = ipPath();
        if (ip == null) {
            return "network namespace tests need `ip` from iproute2 on the PATH (apt-get install iproute2)";
        }
        if (PeerClasses.DIR == null) { // copies the peer's class now, while the build directory surely has it
            return "no peer class";
        }
        Netns probe = new Netns(SEQ.getAndIncrement());
        Result r = run(ip, "netns", "add", probe.name);
        run(ip, "netns", "del", probe.name);
        if (r.status != 0) {
            return "`ip netns add` fails here (" + r.output.trim() + "); the sandbox may lack CAP_SYS_ADMIN";
        }
        return null;
    }

    private static boolean isRoot() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("Uid:")) {
                    return line.split("\\s+")[2].equals("0");
                }
            }
        } catch (IOException e) {
            return false;
        }
        return false;
    }

    private static String ipPath() {
        return tool("ip");
    }

    /** Why {@link #keepAliveProbes()} and {@link #holdsEstablished()} cannot run here, or null when they can. */
    static String ssUnavailable() {
        return tool("ss") == null ? "`ss` (iproute2) is not on the PATH" : null;
    }

    private static String tool(String name) {
        List<String> dirs = new ArrayList<>(List.of(System.getenv().getOrDefault("PATH", "").split(":")));
        dirs.addAll(List.of("/usr/sbin", "/sbin", "/usr/bin", "/bin"));
        for (String dir : dirs) {
            File f = new File(dir, name);
            if (!dir.isEmpty() && f.canExecute()) {
                return f.getPath();
            }
        }
        return null;
    }

    /** Creates a namespace, its veth pair and addresses, both ends up. */
    static Netns create() {
        Netns ns = new Netns(SEQ.getAndIncrement());
        try {
            ns.ip("netns", "add", ns.name);
            ns.ip("link", "add", ns.hostLink, "type", "veth", "peer", "name", ns.nsLink);
            ns.ip("link", "set", ns.nsLink, "netns", ns.name);
            ns.ip("addr", "add", ns.hostAddress + "/30", "dev", ns.hostLink);
            ns.ip("link", "set", ns.hostLink, "up");
            ns.ip("-n", ns.name, "addr", "add", ns.nsAddress + "/30", "dev", ns.nsLink);
            ns.ip("-n", ns.name, "link", "set", ns.nsLink, "up");
            ns.ip("-n", ns.name, "link", "set", "lo", "up");
            return ns;
        } catch (RuntimeException | AssertionError e) {
            ns.close();
            throw e;
        }
    }

    /** Takes the namespace's end of the pair down: from now on the host's packets to it are lost silently. */
    void linkDown() {
        ip("-n", name, "link", "set", nsLink, "down");
    }

    /** Brings the namespace's end of the pair back up, with its address and route. */
    void linkUp() {
        ip("-n", name, "link", "set", nsLink, "up");
    }

    /**
     * Removes the namespace end's address while its link stays up: the peer's host is gone from the network, so
     * the host's packets reach the namespace and are dropped there, and the namespace no longer answers ARP for
     * {@link #nsAddress}. The host notices only when its neighbour entry must be resolved again.
     */
    void peerAddressGone() {
        ip("-n", name, "addr", "flush", "dev", nsLink);
    }

    /** Removes the host's neighbour (ARP) entries on its end of the pair: the next packet must resolve again. */
    void forgetNeighbours() {
        ip("neigh", "flush", "dev", hostLink);
    }

    /**
     * Makes neighbour resolution on the host's end give up after one ARP request and 100 ms instead of three and
     * 3 s. The setting belongs to the link and goes with it.
     */
    void fastNeighbourFailure() {
        ip("ntable", "change", "name", "arp_cache", "dev", hostLink, "retrans", "100", "mcast_probes", "1",
                "ucast_probes", "1");
    }

    /**
     * Withdraws the host's route to the peer with a /32 of {@code type} ({@code unreachable}, {@code throw},
     * {@code prohibit} or {@code blackhole}) over the pair's connected /30, so that no packet leaves for it (and
     * none takes the host's default route). {@link #close()} removes it.
     */
    void routeToPeer(String type) {
        if (!OWN_ROUTE.matcher(type + " " + nsAddress).find()) {
            throw new IllegalArgumentException("route type " + type);
        }
        route = true;
        ip("route", "add", type, nsAddress + "/32");
    }

    /**
     * The keepalive probes the host's kernel has sent unanswered on its established connection to the peer (from
     * {@code ss}: the count in {@code timer:(keepalive,...,N)}), or -1 when no such connection has a keepalive
     * timer running.
     */
    int keepAliveProbes() {
        Matcher m = KEEPALIVE_TIMER.matcher(kernelTimer());
        return m.find() ? Integer.parseInt(m.group(1)) : -1;
    }

    /**
     * The timer the host's kernel runs on its established connection to the peer, as {@code ss} shows it: for
     * example {@code timer:(on,200ms,0)} while sent data waits for its acknowledgement,
     * {@code timer:(keepalive,842ms,1)}; empty when there is none or no such connection.
     */
    String kernelTimer() {
        Matcher m = TIMER.matcher(ss("-Htno", "state", "established", "dst", nsAddress));
        return m.find() ? m.group() : "";
    }

    /**
     * A time the host's kernel keeps for its established connection to the peer, in milliseconds ago, as
     * {@code ss -i} shows it: {@code lastsnd}, {@code lastrcv} (data received) or {@code lastack} (an
     * acknowledgement received); -1 when there is none or no such connection.
     */
    long kernelMillis(String field) {
        Matcher m = Pattern.compile("\\b" + Pattern.quote(field) + ":(\\d+)")
                .matcher(ss("-Htnoi", "state", "established", "dst", nsAddress));
        return m.find() ? Long.parseLong(m.group(1)) : -1;
    }

    /** Whether the host's kernel still has an established connection to the peer. */
    boolean holdsEstablished() {
        return !ss("-Htn", "state", "established", "dst", nsAddress).isBlank();
    }

    private static String ss(String... args) {
        List<String> cmd = new ArrayList<>(List.of(tool("ss")));
        cmd.addAll(List.of(args));
        Result r = run(cmd.toArray(new String[0]));
        if (r.status != 0) {
            fail("`" + String.join(" ", cmd) + "` failed (" + r.status + "): " + r.output.trim());
        }
        return r.output;
    }

    /** Starts {@code command} inside the namespace; {@link #close()} ends it. */
    Process exec(String... command) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(ipPath(), "netns", "exec", name));
        cmd.addAll(List.of(command));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        processes.add(p);
        return p;
    }

    /**
     * Starts a {@link NetnsPeer} JVM in the namespace and returns its output lines as they come. The JVM has only
     * the test classes on its class path.
     */
    BlockingQueue<String> peer(String mode, String host, int port) throws Exception {
        return peer(mode, host, port, "hold");
    }

    /** As {@link #peer(String, String, int)}; {@code behaviour} {@code echo} makes the peer echo what it gets. */
    BlockingQueue<String> peer(String mode, String host, int port, String behaviour) throws Exception {
        return startPeer(mode, host, port, behaviour).lines;
    }

    /** A {@link NetnsPeer} JVM in the namespace: its output lines as they come, and its stdin. */
    static final class Peer {
        final BlockingQueue<String> lines;
        private final Process process;

        private Peer(BlockingQueue<String> lines, Process process) {
            this.lines = lines;
            this.process = process;
        }

        /** Sends the peer a line, such as {@code reset} (see {@link NetnsPeer}). */
        void tell(String line) throws IOException {
            process.getOutputStream().write((line + "\n").getBytes(StandardCharsets.UTF_8));
            process.getOutputStream().flush();
        }
    }

    /**
     * As {@link #peer(String, String, int, String)}, keeping the peer's stdin to {@link Peer#tell} it things;
     * {@code behaviour} {@code drain} makes it read and discard what it gets.
     */
    Peer startPeer(String mode, String host, int port, String behaviour) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String classes = PeerClasses.DIR.toString();
        Process p = exec(java, "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx32m",
                "-Djava.net.preferIPv4Stack=true", "-cp", classes, NetnsPeer.class.getName(), mode, host,
                String.valueOf(port), behaviour);
        BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(
                    new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    lines.add(line);
                }
            } catch (IOException e) {
                lines.add("read failed: " + e);
            }
        }, "netns-peer-" + name);
        reader.setDaemon(true);
        reader.start();
        return new Peer(lines, p);
    }

    /**
     * A private copy of {@link NetnsPeer}'s class file, taken once: the peer JVM then does not depend on the build
     * directory, which another build may be rewriting meanwhile.
     */
    private static final class PeerClasses {
        static final Path DIR = copy();

        private static Path copy() {
            String file = NetnsPeer.class.getName().replace('.', '/') + ".class";
            try (var in = NetnsPeer.class.getClassLoader().getResourceAsStream(file)) {
                if (in == null) {
                    throw new IllegalStateException("no " + file + " on the test class path");
                }
                Path dir = Files.createTempDirectory("idlereaper-peer");
                Path target = dir.resolve(file);
                Files.createDirectories(target.getParent());
                Files.write(target, in.readAllBytes());
                // Deleted in the reverse order of registration: the file first, the top directory last.
                Path rel = dir.relativize(target);
                dir.toFile().deleteOnExit();
                for (int n = 1; n <= rel.getNameCount(); n++) {
                    dir.resolve(rel.subpath(0, n)).toFile().deleteOnExit();
                }
                return dir;
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    /** Waits (bounded) for the peer to print a line starting with {@code prefix}. */
    static String expect(BlockingQueue<String> lines, String prefix) throws InterruptedException {
        List<String> seen = new ArrayList<>();
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() - end < 0) {
            String line = lines.poll(end - System.nanoTime(), TimeUnit.NANOSECONDS);
            if (line == null) {
                break;
            }
            if (line.startsWith(prefix)) {
                return line;
            }
            seen.add(line);
        }
        return fail("the peer did not print `" + prefix + "` within 30s; it printed " + seen);
    }

    /**
     * Ends the namespace's processes, then removes the host's route to the peer if one was added, the namespace and
     * the host's end of the pair.
     */
    @Override
    public void close() {
        for (Process p : processes) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            try {
                p.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (route) {
            run(ipPath(), "route", "del", nsAddress + "/32");
        }
        run(ipPath(), "netns", "del", name);
        run(ipPath(), "link", "del", hostLink);
    }

    /** Whether this namespace, its host link or the host's route to the peer still exists. */
    boolean exists() {
        return run(ipPath(), "netns", "list").output.lines().anyMatch(l -> l.startsWith(name + " ")
                || l.equals(name)) || run(ipPath(), "link", "show", hostLink).status == 0
                || !run(ipPath(), "route", "show", "exact", nsAddress + "/32").output.isBlank();
    }

    /** Removes the namespaces and links that test JVMs no longer running left behind. */
    static void cleanStale() {
        String ip = ipPath();
        for (String line : run(ip, "netns", "list").output.split("\n")) {
            Matcher m = OWN_NETNS.matcher(line.trim());
            if (m.find() && dead(m.group(2))) {
                run(ip, "netns", "del", m.group(1));
            }
        }
        for (String line : run(ip, "-o", "link", "show").output.split("\n")) {
            Matcher m = OWN_LINK.matcher(line.trim());
            if (m.find() && dead(m.group(2))) {
                run(ip, "link", "del", m.group(1));
            }
        }
        // A route to a namespace end whose pair is gone is stale: a living test JVM adds its route after its link
        // and removes it before the link. The host end's address is the namespace end's minus one.
        String addresses = run(ip, "-o", "-4", "addr", "show").output;
        for (String line : run(ip, "-o", "route", "show").output.split("\n")) {
            Matcher m = OWN_ROUTE.matcher(line.trim());
            if (m.find()) {
                String[] octets = m.group(2).split("\\.");
                String host = octets[0] + "." + octets[1] + "." + octets[2] + "."
                        + (Integer.parseInt(octets[3]) - 1);
                if (!addresses.contains(" inet " + host + "/30 ")) {
                    run(ip, "route", "del", m.group(2) + "/32");
                }
            }
        }
    }

    private static boolean dead(String pid) {
        return ProcessHandle.of(Long.parseLong(pid)).map(h -> !h.isAlive()).orElse(true);
    }

    private void ip(String... args) {
        List<String> cmd = new ArrayList<>(List.of(ipPath()));
        cmd.addAll(List.of(args));
        Result r = run(cmd.toArray(new String[0]));
        if (r.status != 0) {
            fail("`" + String.join(" ", cmd) + "` failed (" + r.status + "): " + r.output.trim());
        }
    }

    private static final class Result {
        final int status;
        final String output;

        Result(int status, String output) {
            this.status = status;
            this.output = output;
        }
    }

    /** Runs a short command to its end, bounded at 20 s. */
    private static Result run(String... cmd) {
        Path out = null;
        try {
            out = Files.createTempFile("idlereaper-ip", ".out");
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .redirectOutput(out.toFile()).start();
            if (!p.waitFor(20, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return new Result(-1, "timed out after 20s: " + String.join(" ", cmd));
            }
            return new Result(p.exitValue(), Files.readString(out));
        } catch (IOException e) {
            return new Result(-1, e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Result(-1, e.toString());
        } finally {
            if (out != null) {
                out.toFile().delete();
            }
        }
    }
}
