package io.github.idlereaper;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;

/**
 * The peer that vanishes, run by {@link Netns#exec} in a JVM inside a test's network namespace. Plain JDK, no
 * Netty. {@code connect HOST PORT} connects to the test's server; {@code listen HOST PORT} accepts one connection
 * from the test's client; a fourth argument {@code echo} makes it echo what it receives. Either way it prints
 * {@code ready}, then holds the connection (silent unless echoing) until
 * its stdin closes (the test ends it, or the test JVM dies).
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
        if (args.length > 3 && args[3].equals("echo")) {
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
        while (System.in.read() >= 0) {
            // Hold on, silently.
        }
        s.close();
    }
}
