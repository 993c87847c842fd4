package io.github.idlereaper.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.idlereaper.doctor.DoctorReport;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The gRPC recipe of docs/integrations.md: gRPC's own options take the place of the reaper's on a gRPC server (a
 * connection with no call is told to go at {@code maxConnectionIdle}, with GOAWAY), and the reaper's doctor reads the
 * same numbers.
 */
class GrpcKeepAliveTest {

    private static final int GOAWAY = 0x7;

    private Server server;

    @AfterEach
    void stop() throws InterruptedException {
        if (server != null) {
            server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void aConnectionWithNoCall_isToldToGo_atMaxConnectionIdle() throws Exception {
        server = GrpcKeepAlive.configure(NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)))
                .maxConnectionIdle(1, TimeUnit.SECONDS) // gRPC's smallest
                .build().start();
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", server.getPort()), 5_000);
            s.setSoTimeout(15_000);
            OutputStream out = s.getOutputStream();
            out.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            out.write(new byte[] {0, 0, 0, 4, 0, 0, 0, 0, 0}); // an empty SETTINGS frame
            out.flush();
            long open = System.nanoTime();
            DataInputStream in = new DataInputStream(s.getInputStream());
            int type;
            do {
                int length = in.readUnsignedShort() << 8 | in.readUnsignedByte();
                type = in.readUnsignedByte();
                in.skipNBytes(5 + length); // flags, stream id, payload
            } while (type != GOAWAY);
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - open);
            assertTrue(ms >= 900, () -> "GOAWAY after " + ms + " ms");
        }
    }

    @Test
    void theDoctor_readsGrpcsNumbers() {
        DoctorReport report = DoctorReport.examine(GrpcKeepAlive.detection());
        assertTrue(report.toString().contains("ping after 30s quiet, 10s to answer, 1 missed"), report::toString);
        // keepAliveTime + keepAliveTimeout, plus the doctor's default tick of 1 s
        assertEquals(Duration.ofSeconds(30 + 10 + 1), report.detection().get("heartbeat"), report::toString);
        // the user timeout replaces the probe count: 60 + 10 × max(1, ⌈(30 − 60) / 10⌉) (docs/tcp-keepalive.md)
        assertEquals(Duration.ofSeconds(60 + 10), report.detection().get("tcp keepalive"), report::toString);
        assertEquals(Duration.ofSeconds(30), report.detection().get("tcp retransmission"), report::toString);
    }
}
