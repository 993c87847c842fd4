package io.github.idlereaper;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/**
 * The peer that vanishes, run by {@link Netns#exec} in a JVM inside a test's network namespace. Plain JDK, no
 * Netty. {@code connect HOST PORT} connects to the test's server; {@code listen HOST PORT} accepts one connection
 * from the test's client; a fourth argument {@code echo} makes it echo what it receives, {@code drain} makes it read
 * and discard what it receives (sending nothing but acknowledgements). Either way it prints {@code ready}, then
 * holds the connection (silent unless echoing) until its stdin closes (the test ends it, or the test JVM dies).
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
        Socket s;
        if (args[0].equals("connect")) {
            s = new Socket();
            s.connect(new InetSocketAddress(host, port), 10_000);
        } else {
            try (ServerSocket server = new ServerSocket(port, 1, host)) {
                System.out.println("listening");
                System.out.flush();
                s = server.accept();
            }
        }
        String behaviour = args.length > 3 ? args[3] : "hold";
        if (behaviour.equals("drain")) {
            Socket drain = s;
            Thread t = new Thread(() -> {
                byte[] buf = new byte[65536];
                try {
                    while (drain.getInputStream().read(buf) >= 0) {
                        // Discard: the kernel acknowledges, the peer says nothing.
                    }
                } catch (IOException ignored) {
                    // The test ends the peer, or the peer resets.
                }
            });
            t.setDaemon(true);
            t.start();
        }
        if (behaviour.equals("echo")) {
            // Answers whatever it receives (a heartbeat's ping) until the connection or the link goes away.
            Socket echo = s;
            Thread t = new Thread(() -> {
                try {
                    echo.getInputStream().transferTo(echo.getOutputStream());
                } catch (IOException ignored) {
                    // The test ends the peer.
                }
            });
            t.setDaemon(true);
            t.start();
        }
        System.out.println("ready " + s.getLocalSocketAddress());
        System.out.flush();
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
                System.out.println("reset");
                System.out.flush();
            }
        }
        s.close();
    }
}
