package io.github.idlereaper.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The client half of figure 1 over real sockets, run in its own JVM so that each connection costs this process one
 * file descriptor and the measured process one (the limit is 20,000 per process). It only uses the JDK, so its
 * class directory is its whole classpath.
 *
 * <p>Commands on stdin, one per line, each answered on stdout:
 * <ul>
 *   <li>{@code open <port> <n>}: opens n idle loopback connections and keeps them; answers {@code opened <n>}.
 *   <li>{@code close}: resets them all (SO_LINGER 0, so no TIME_WAIT is left to exhaust ports); answers
 *       {@code closed <n>}.
 *   <li>{@code exit}: answers {@code bye} and exits.
 * </ul>
 * Any failure is answered with {@code error <message>}.
 */
public final class FloodClient {

    private FloodClient() {
    }

    public static void main(String[] args) throws IOException {
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        List<SocketChannel> open = new ArrayList<>();
        String line;
        while ((line = in.readLine()) != null) {
            String[] f = line.trim().split(" ");
            try {
                switch (f[0]) {
                    case "open": {
                        InetSocketAddress to = new InetSocketAddress("127.0.0.1", Integer.parseInt(f[1]));
                        int n = Integer.parseInt(f[2]);
                        for (int i = 0; i < n; i++) {
                            SocketChannel ch = SocketChannel.open();
                            ch.setOption(StandardSocketOptions.SO_LINGER, 0);
                            ch.connect(to);
                            open.add(ch);
                        }
                        out.println("opened " + n);
                        break;
                    }
                    case "close": {
                        int n = open.size();
                        for (SocketChannel ch : open) {
                            ch.close();
                        }
                        open.clear();
                        out.println("closed " + n);
                        break;
                    }
                    case "exit":
                        out.println("bye");
                        return;
                    default:
                        out.println("error unknown command: " + line);
                }
            } catch (IOException | RuntimeException e) {
                out.println("error " + e);
            }
        }
    }
}
