package io.github.idlereaper.bench;

import io.github.idlereaper.IdleReaper;
import io.github.idlereaper.examples.HttpServer;
import java.time.Duration;

/**
 * The server side of {@code benchmarks/http.sh}: the example {@link HttpServer} (HTTP/1.1 and h2c by prior
 * knowledge on 127.0.0.1, {@code /} answers "hello") with the reaper's HTTP layer on or off. Args: {@code on|off
 * PORT}. Prints "ready" once bound, then serves until killed.
 *
 * <p>With {@code on}, {@code maxRequestsPerConnection} is 0 (no limit): with the default 1000, h2load's HTTP/2
 * connections stop at the GOAWAY after their 1000th stream (it does not reconnect: 16 connections, 16,000 requests,
 * then nothing), and wrk reconnects every 1000 requests; both measure the rotation, not the layer's cost.
 */
public final class HttpBenchServer {

    private HttpBenchServer() {
    }

    public static void main(String[] args) throws InterruptedException {
        if (args.length != 2 || !(args[0].equals("on") || args[0].equals("off"))) {
            System.err.println("usage: HttpBenchServer on|off PORT");
            System.exit(2);
        }
        IdleReaper.Builder b = IdleReaper.builder().readIdleTimeout(Duration.ofSeconds(60));
        if (args[0].equals("on")) {
            b.http().maxRequestsPerConnection(0);
        }
        HttpServer server = new HttpServer(b.build(), Integer.parseInt(args[1]));
        System.out.println("ready " + args[0] + " " + server.address());
        System.out.flush();
        Thread.currentThread().join();
    }
}
