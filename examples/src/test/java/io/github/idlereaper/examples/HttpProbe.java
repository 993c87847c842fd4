package io.github.idlereaper.examples;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * One HTTP/1.1 keep-alive connection on a plain socket, for the examples' tests: a GET, its response (with a
 * Content-Length or chunked), and the wait for the server to end the connection. Not thread-safe.
 */
final class HttpProbe implements AutoCloseable {

    private final Socket socket = new Socket();
    private final InputStream in;
    private final OutputStream out;

    HttpProbe(InetSocketAddress to) throws IOException {
        socket.setTcpNoDelay(true);
        socket.connect(to, 5_000);
        socket.setSoTimeout(30_000);
        in = socket.getInputStream();
        out = socket.getOutputStream();
    }

    /** Sends a GET for {@code path} and returns the response's status line and body, e.g. {@code "200 hello"}. */
    String get(String path) throws IOException {
        out.write(("GET " + path + " HTTP/1.1\r\nHost: test\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.flush();
        String status = line();
        if (status == null) {
            throw new IOException("the connection ended before the response to " + path);
        }
        int length = -1;
        boolean chunked = false;
        for (String l = line(); l != null && !l.isEmpty(); l = line()) {
            String h = l.toLowerCase(Locale.ROOT);
            if (h.startsWith("content-length:")) {
                length = Integer.parseInt(h.substring(15).trim());
            } else if (h.startsWith("transfer-encoding:") && h.contains("chunked")) {
                chunked = true;
            }
        }
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        if (chunked) {
            for (int n = Integer.parseInt(line().trim(), 16); n > 0; n = Integer.parseInt(line().trim(), 16)) {
                body.write(in.readNBytes(n));
                line();
            }
            line();
        } else if (length > 0) {
            body.write(in.readNBytes(length));
        }
        return status.split(" ")[1] + " " + body.toString(StandardCharsets.UTF_8).trim();
    }

    /** Waits for the server to end the connection (end of stream or a reset); fails if any byte comes first. */
    void awaitEnd() throws IOException {
        try {
            int b = in.read();
            if (b != -1) {
                throw new IOException("expected the end of the connection, got byte " + b);
            }
        } catch (SocketTimeoutException e) {
            throw e;
        } catch (IOException reset) {
            // a RST ends it too
        }
    }

    private String line() throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        for (int c = in.read(); c != '\n'; c = in.read()) {
            if (c == -1) {
                return b.size() == 0 ? null : b.toString(StandardCharsets.US_ASCII);
            }
            if (c != '\r') {
                b.write(c);
            }
        }
        return b.toString(StandardCharsets.US_ASCII);
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
