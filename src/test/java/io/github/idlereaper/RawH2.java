package io.github.idlereaper;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersEncoder;
import io.netty.handler.codec.http2.Http2Exception;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/**
 * A hand-made HTTP/2 client on a socket (plain, or TLS that negotiated h2): the preface, SETTINGS and its ack,
 * HEADERS for GET requests (HPACK by Netty's encoder), PING, and frames read one by one. Enough to see what the
 * server sends and when: GOAWAY, responses, the end. Not thread-safe.
 */
final class RawH2 implements AutoCloseable {

    static final int DATA = 0;
    static final int HEADERS = 1;
    static final int SETTINGS = 4;
    static final int PING = 6;
    static final int GOAWAY = 7;
    static final int END_STREAM = 1;

    /** One frame as read. */
    static final class Frame {
        final int type;
        final int flags;
        final int stream;
        final byte[] payload;
        final long readAt = System.nanoTime();

        Frame(int type, int flags, int stream, byte[] payload) {
            this.type = type;
            this.flags = flags;
            this.stream = stream;
            this.payload = payload;
        }

        boolean endStream() {
            return (type == DATA || type == HEADERS) && (flags & END_STREAM) != 0;
        }

        /** GOAWAY's last stream id. */
        int lastStreamId() {
            return ((payload[0] & 0x7f) << 24) | ((payload[1] & 0xff) << 16) | ((payload[2] & 0xff) << 8)
                    | (payload[3] & 0xff);
        }

        /** GOAWAY's error code. */
        int errorCode() {
            return ((payload[4] & 0xff) << 24) | ((payload[5] & 0xff) << 16) | ((payload[6] & 0xff) << 8)
                    | (payload[7] & 0xff);
        }

        @Override
        public String toString() {
            return "frame(type " + type + ", flags " + flags + ", stream " + stream + ", " + payload.length + " B)";
        }
    }

    final Socket socket;
    private final DataInputStream in;
    private final OutputStream out;
    private final DefaultHttp2HeadersEncoder hpack = new DefaultHttp2HeadersEncoder();

    /** Starts HTTP/2 on {@code socket}: the preface and an empty SETTINGS. */
    RawH2(Socket socket) throws IOException {
        this(socket, true);
    }

    RawH2(Socket socket, boolean preface) throws IOException {
        this.socket = socket;
        socket.setSoTimeout(15_000);
        this.in = new DataInputStream(socket.getInputStream());
        this.out = socket.getOutputStream();
        if (preface) {
            preface();
        }
    }

    void preface() throws IOException {
        out.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        frame(SETTINGS, 0, 0, new byte[0]);
    }

    /** An HTTP/1.1 request asking to upgrade to h2c; returns the status line of the answer and its headers. */
    String upgrade(String path) throws IOException {
        out.write(("GET " + path + " HTTP/1.1\r\nHost: test\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                + "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.flush();
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int matched = 0;
        while (matched < 4) {
            int c = in.read();
            if (c == -1) {
                throw new EOFException("ended in the upgrade's answer: " + head);
            }
            head.write(c);
            matched = (c == (matched % 2 == 0 ? '\r' : '\n')) ? matched + 1 : (c == '\r' ? 1 : 0);
        }
        return head.toString(StandardCharsets.US_ASCII);
    }

    /** A GET for {@code path} on {@code stream}, which it ends. */
    void get(int stream, String path) throws IOException {
        DefaultHttp2Headers h = new DefaultHttp2Headers();
        h.method("GET").scheme("http").path(path).authority("test");
        ByteBuf block = Unpooled.buffer();
        try {
            hpack.encodeHeaders(stream, h, block);
        } catch (Http2Exception e) {
            throw new IOException(e);
        }
        byte[] bytes = new byte[block.readableBytes()];
        block.readBytes(bytes);
        block.release();
        frame(HEADERS, END_STREAM | 4, stream, bytes); // END_STREAM | END_HEADERS
    }

    void ping(long data) throws IOException {
        byte[] p = new byte[8];
        for (int i = 0; i < 8; i++) {
            p[i] = (byte) (data >>> (56 - 8 * i));
        }
        frame(PING, 0, 0, p);
    }

    private void frame(int type, int flags, int stream, byte[] payload) throws IOException {
        byte[] h = {(byte) (payload.length >>> 16), (byte) (payload.length >>> 8), (byte) payload.length,
            (byte) type, (byte) flags, (byte) (stream >>> 24), (byte) (stream >>> 16), (byte) (stream >>> 8),
            (byte) stream};
        out.write(h);
        out.write(payload);
        out.flush();
    }

    /**
     * The next frame other than SETTINGS (acknowledged here), WINDOW_UPDATE and PING acks; null at the end of the
     * connection (or a reset).
     */
    Frame next() throws IOException {
        while (true) {
            byte[] h = new byte[9];
            try {
                in.readFully(h);
            } catch (EOFException end) {
                return null;
            } catch (java.net.SocketTimeoutException t) {
                throw t;
            } catch (IOException reset) {
                return null;
            }
            int length = ((h[0] & 0xff) << 16) | ((h[1] & 0xff) << 8) | (h[2] & 0xff);
            int stream = ((h[5] & 0x7f) << 24) | ((h[6] & 0xff) << 16) | ((h[7] & 0xff) << 8) | (h[8] & 0xff);
            byte[] payload = new byte[length];
            in.readFully(payload);
            Frame f = new Frame(h[3] & 0xff, h[4] & 0xff, stream, payload);
            if (f.type == SETTINGS) {
                if ((f.flags & 1) == 0) {
                    frame(SETTINGS, 1, 0, new byte[0]);
                }
                continue;
            }
            if (f.type == 8 || (f.type == PING && (f.flags & 1) != 0)) {
                continue;
            }
            return f;
        }
    }

    /** Reads until a frame of {@code type}; fails at the end of the connection. */
    Frame until(int type) throws IOException {
        for (Frame f = next(); f != null; f = next()) {
            if (f.type == type) {
                return f;
            }
        }
        throw new EOFException("the connection ended before a frame of type " + type);
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
