package io.github.idlereaper.bench;

import io.github.idlereaper.IdleReaper;
import io.github.idlereaper.examples.HttpServer;
import java.time.Duration;

/**
 * The server side of {@code benchmarks/http.sh}: the example {@link HttpServer} (HTTP/1.1 and h2c, by prior
 * knowledge or upgrade, on 127.0.0.1 and one NIO event loop; {@code /} answers "hello") with the reaper's HTTP layer
 * on or off, the other options the same (read idle 60 s). Args: {@code on|off [PORT]}; PORT 0 (the default) binds a
 * free port. Prints {@code port N} once bound, then serves until killed.
 *
 * <p>With {@code on}, {@code maxRequestsPerConnection} is 0 (no limit): with the default 1000, h2load's HTTP/2
 * connections stop at the GOAWAY after their 1000th stream (it does not reconnect: 16 connections, 16,000 requests,
 * then nothing), and wrk reconnects every 1000 requests; both would measure the rotation, a feature, not the layer's
 * cost.
 */
public final class HttpBenchServer {

    private HttpBenchServer() {
    }

    /** The reaper of one side: read idle 60 s, plus {@code http()} without the request limit when {@code on}. */
    static IdleReaper reaper(boolean on) {
        IdleReaper.Builder b = IdleReaper.builder().readIdleTimeout(Duration.ofSeconds(60));
        if (on) {
            b.http().maxRequestsPerConnection(0);
        }
        return b.build();
    }

    /** Starts the example server with the layer {@code on} or off, on 127.0.0.1:{@code port} (0: a free port). */
    static HttpServer start(boolean on, int port) {
        return new HttpServer(reaper(on), port);
    }

    public static void main(String[] args) throws InterruptedException {
        if (args.length < 1 || args.length > 2 || !(args[0].equals("on") || args[0].equals("off"))) {
            System.err.println("usage: HttpBenchServer on|off [PORT]");
            System.exit(2);
        }
        HttpServer server = start(args[0].equals("on"), args.length > 1 ? Integer.parseInt(args[1]) : 0);
        System.out.println("port " + server.address().getPort());
        System.out.flush();
        Thread.currentThread().join();
    }
}
