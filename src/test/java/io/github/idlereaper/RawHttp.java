package io.github.idlereaper;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * A hand-made HTTP/1.1 client on a plain socket, for the tests that need bytes the real clients will not send: a
 * header trickled one byte at a time, a body that stops, requests pipelined in one write. Not thread-safe.
 */
final class RawHttp implements AutoCloseable {

    /** One response as read off the wire. */
    static final class Response {
        final int status;
        final Map<String, String> headers;
        final String body;
        /** {@link System#nanoTime()} when its last byte was read. */
        final long readAt;

        Response(int status, Map<String, String> headers, String body, long readAt) {
            this.status = status;
            this.headers = headers;
            this.body = body;
            this.readAt = readAt;
        }

        String header(String name) {
            return headers.get(name.toLowerCase(Locale.ROOT));
        }

        @Override
        public String toString() {
            return status + " " + headers + " " + body.trim();
        }
    }

    final Socket socket;
    private final InputStream in;
    private final OutputStream out;

    RawHttp(InetSocketAddress to) throws IOException {
        socket = new Socket();
        socket.setTcpNoDelay(true);
        socket.connect(to, 5_000);
        socket.setSoTimeout(15_000);
        in = socket.getInputStream();
        out = socket.getOutputStream();
    }

    static String get(String path) {
        return "GET " + path + " HTTP/1.1\r\nHost: test\r\n\r\n";
    }

    void send(String s) throws IOException {
        out.write(s.getBytes(StandardCharsets.US_ASCII));
        out.flush();
    }

    /** Reads one response with a Content-Length (or none); null if the connection ended before its first byte. */
    Response read() throws IOException {
        String statusLine = line();
        if (statusLine == null) {
            return null;
        }
        int status = Integer.parseInt(statusLine.split(" ")[1]);
        Map<String, String> headers = new TreeMap<>();
        for (String l = line(); l != null && !l.isEmpty(); l = line()) {
            int colon = l.indexOf(':');
            headers.put(l.substring(0, colon).trim().toLowerCase(Locale.ROOT), l.substring(colon + 1).trim());
        }
        int length = Integer.parseInt(headers.getOrDefault("content-length", "0"));
        byte[] body = in.readNBytes(length);
        if (body.length < length) {
            throw new IOException("response cut after " + body.length + " of " + length + " body bytes: "
                    + statusLine + " " + headers);
        }
        if (status == 100) {
            return new Response(status, headers, "", System.nanoTime());
        }
        return new Response(status, headers, new String(body, StandardCharsets.UTF_8), System.nanoTime());
    }

    /**
     * Waits for the server to end the connection, and returns {@link System#nanoTime()} when it did: end of stream
     * or a reset. Fails if any byte comes first.
     */
    long awaitEnd() throws IOException {
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
        return System.nanoTime();
    }

    /** A CRLF-terminated line, or null at the end of the stream before any byte of it. */
    private String line() throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        while (true) {
            int c = in.read();
            if (c == -1) {
                if (b.size() == 0) {
                    return null;
                }
                throw new IOException("connection ended inside a line: " + b);
            }
            if (c == '\n') {
                String s = b.toString(StandardCharsets.US_ASCII);
                return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
            }
            b.write(c);
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
