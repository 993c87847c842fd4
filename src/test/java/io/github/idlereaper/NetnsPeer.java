package io.github.idlereaper;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * The peer in a test's network namespace, run by {@link Netns#exec} in its own JVM. Plain JDK, no Netty, and one
 * class file (the test copies only this one: no nested or anonymous classes here; lambdas are fine).
 *
 * <p>{@code connect HOST PORT} connects to the test's server; {@code listen HOST PORT} accepts one connection from
 * the test's client. A fourth argument picks what it does with the connection:
 * <ul>
 *   <li>{@code hold} (the default): nothing, silently;
 *   <li>{@code echo}: echoes what it receives;
 *   <li>{@code drain}: reads and discards what it receives (sending nothing but acknowledgements);
 *   <li>{@code slowread,BYTES,PERIOD_MS[,rcvbuf=N][,stopAfter=MS][,pauseAfter=MS,pauseFor=MS]}: a reader at a set
 *       rate. It reads BYTES every PERIOD_MS (blocking until BYTES came; at most one period of catch-up after a late
 *       read), with SO_RCVBUF N set before connecting when given (the kernel doubles it; it also fixes the window
 *       scale). {@code stopAfter}: at the first read that many ms after it started, it stops reading for good, right
 *       after that read, and prints {@code stopped TOTAL}. {@code pauseAfter}/{@code pauseFor}: likewise it prints
 *       {@code paused TOTAL}, reads nothing for {@code pauseFor} ms, prints {@code resumed TOTAL} and reads on at
 *       once, then at the same rate. (Right after a read, so that the window that read opened is full again within a
 *       round trip of the line.) Every 500 ms it prints {@code got TOTAL} (bytes read so far), and {@code eof TOTAL}
 *       or {@code error TOTAL MESSAGE} when the connection ends. The parameters may also come as separate arguments
 *       ({@code slowread BYTES PERIOD_MS ...}).
 * </ul>
 * Either way it prints {@code ready LOCAL_ADDRESS} once connected (after {@code listening} in listen mode), then
 * holds the connection until its stdin closes (the test ends it, or the test JVM dies). Times in its lines would not
 * be comparable with the test's clock, so it prints none: the test dates each line when it arrives.
 *
 * <p>A line {@code reset} on its stdin (see {@link Netns.Peer#tell}) makes it abort the connection: SO_LINGER 0,
 * then close, so that its kernel sends an RST and forgets the connection at once; {@code reset TEXT} first sends
 * {@code TEXT}. It prints {@code reset} when done and goes on holding nothing until its stdin closes.
 */
final class NetnsPeer {

    private NetnsPeer() {
    }

    public static void main(String[] args) throws IOException {
        InetAddress host = InetAddress.getByName(args[1]);
        int port = Integer.parseInt(args[2]);
        String[] behaviour = args.length > 3
                ? String.join(",", Arrays.copyOfRange(args, 3, args.length)).split(",")
                : new String[] {"hold"};
        int rcvbuf = intOption(behaviour, "rcvbuf", 0);
        Socket s;
        if (args[0].equals("connect")) {
            s = new Socket();
            if (rcvbuf > 0) {
                s.setReceiveBufferSize(rcvbuf); // before the handshake: fixes the window scale too
            }
            s.connect(new InetSocketAddress(host, port), 10_000);
        } else {
            try (ServerSocket server = new ServerSocket()) {
                if (rcvbuf > 0) {
                    server.setReceiveBufferSize(rcvbuf); // accepted sockets inherit it
                }
                server.bind(new InetSocketAddress(host, port), 1);
                System.out.println("listening");
                System.out.flush();
                s = server.accept();
            }
        }
        Socket conn = s;
        switch (behaviour[0]) {
            case "drain":
                daemon(() -> {
                    byte[] buf = new byte[65536];
                    try {
                        while (conn.getInputStream().read(buf) >= 0) {
                            // Discard: the kernel acknowledges, the peer says nothing.
                        }
                    } catch (IOException ignored) {
                        // The test ends the peer, or the peer resets.
                    }
                });
                break;
            case "echo":
                // Answers whatever it receives (a heartbeat's ping) until the connection or the link goes away.
                daemon(() -> {
                    try {
                        conn.getInputStream().transferTo(conn.getOutputStream());
                    } catch (IOException ignored) {
                        // The test ends the peer.
                    }
                });
                break;
            case "slowread":
                int bytes = Integer.parseInt(behaviour[1]);
                long periodNanos = TimeUnit.MILLISECONDS.toNanos(Long.parseLong(behaviour[2]));
                long stopAfter = intOption(behaviour, "stopAfter", -1);
                long pauseAfter = intOption(behaviour, "pauseAfter", -1);
                long pauseFor = intOption(behaviour, "pauseFor", 0);
                AtomicLong total = new AtomicLong();
                daemon(() -> slowRead(conn, bytes, periodNanos, stopAfter, pauseAfter, pauseFor, total));
                daemon(() -> report(total));
                break;
            case "hold":
                break;
            default:
                throw new IllegalArgumentException("unknown behaviour " + String.join(",", behaviour));
        }
        say("ready " + s.getLocalSocketAddress());
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line; (line = in.readLine()) != null; ) {
            if (line.startsWith("reset") && !s.isClosed()) {
                String text = line.substring("reset".length()).trim();
                if (!text.isEmpty()) {
                    s.getOutputStream().write(text.getBytes(StandardCharsets.UTF_8));
                    s.getOutputStream().flush();
                }
                s.setSoLinger(true, 0);
                s.close();
                say("reset");
            }
        }
        s.close();
    }

    private static void slowRead(Socket s, int bytes, long periodNanos, long stopAfterMs, long pauseAfterMs,
            long pauseForMs, AtomicLong total) {
        byte[] buf = new byte[bytes];
        long start = System.nanoTime();
        long next = start;
        boolean paused = false;
        try {
            InputStream in = s.getInputStream();
            while (true) {
                int n = in.readNBytes(buf, 0, bytes);
                total.addAndGet(n);
                if (n < bytes) {
                    say("eof " + total.get());
                    return;
                }
                // Stops and pauses come right after a read: the sender refills the room that read made within a round
                // trip, so the line dates the moment the window shuts for good (or for the pause) closely.
                long now = System.nanoTime();
                if (stopAfterMs >= 0 && now - start >= TimeUnit.MILLISECONDS.toNanos(stopAfterMs)) {
                    say("stopped " + total.get());
                    return; // reads nothing more; the connection stays open until stdin closes
                }
                if (!paused && pauseAfterMs >= 0 && now - start >= TimeUnit.MILLISECONDS.toNanos(pauseAfterMs)) {
                    paused = true;
                    say("paused " + total.get());
                    parkUntil(now + TimeUnit.MILLISECONDS.toNanos(pauseForMs));
                    say("resumed " + total.get());
                    next = System.nanoTime();
                    continue; // reads at once: the window opens as the pause ends
                }
                next += periodNanos;
                if (next - now < -periodNanos) {
                    next = now - periodNanos; // a late read catches up one period at most
                }
                parkUntil(next);
            }
        } catch (IOException e) {
            say("error " + total.get() + " " + e);
        }
    }

    private static void report(AtomicLong total) {
        long next = System.nanoTime();
        while (true) {
            next += TimeUnit.MILLISECONDS.toNanos(500);
            parkUntil(next);
            say("got " + total.get());
        }
    }

    private static void parkUntil(long deadline) {
        for (long left; (left = deadline - System.nanoTime()) > 0; ) {
            LockSupport.parkNanos(left);
        }
    }

    private static int intOption(String[] behaviour, String name, int otherwise) {
        for (String b : behaviour) {
            if (b.startsWith(name + "=")) {
                return Integer.parseInt(b.substring(name.length() + 1));
            }
        }
        return otherwise;
    }

    private static synchronized void say(String line) {
        System.out.println(line);
        System.out.flush();
    }

    private static void daemon(Runnable r) {
        Thread t = new Thread(r);
        t.setDaemon(true);
        t.start();
    }
}
