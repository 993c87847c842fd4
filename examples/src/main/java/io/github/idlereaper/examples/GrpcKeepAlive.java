package io.github.idlereaper.examples;

import io.github.idlereaper.DetectionSettings;
import io.github.idlereaper.doctor.DoctorReport;
import io.github.idlereaper.doctor.IdleLimit;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.ChannelOption;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollChannelOption;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * gRPC-java beside idle-reaper (docs/integrations.md, "gRPC-java"). gRPC's {@code NettyServerBuilder} keeps its
 * {@code ServerBootstrap} and its child initializer to itself, and no public hook reaches a connection's pipeline;
 * with {@code grpc-netty-shaded} the pipeline is not even of this Netty's types. So a gRPC server does not take the
 * reaper's handler: it uses gRPC's own connection management, which covers the reaper's heartbeat, peer-ping
 * enforcement, idle and age options for HTTP/2 ({@link #configure}, each option beside the reaper's name for it),
 * sets the reaper's kernel layer as child options, and asks the reaper's doctor about the host's side with the same
 * numbers ({@link #detection}).
 *
 * <p>Run: {@code mvn -q -B test-compile exec:java -Dexec.classpathScope=test
 * -Dexec.mainClass=io.github.idlereaper.examples.GrpcKeepAlive}: a gRPC server (no services) on 127.0.0.1:8085,
 * and the doctor's report for its settings.
 */
public final class GrpcKeepAlive {

    private GrpcKeepAlive() {
    }

    /** gRPC's connection management, with the idle-reaper option each one stands for. */
    public static NettyServerBuilder configure(NettyServerBuilder b) {
        return b
                .keepAliveTime(30, TimeUnit.SECONDS)          // heartbeat(interval ...): ping after 30 s quiet
                .keepAliveTimeout(10, TimeUnit.SECONDS)       // ... timeout, maxMissed 1: no answer in 10 s, close
                .permitKeepAliveTime(20, TimeUnit.SECONDS)    // permitPeerPings: pings sooner are strikes
                .permitKeepAliveWithoutCalls(true)            // (the reaper does not tell calls apart here)
                .maxConnectionIdle(5, TimeUnit.MINUTES)       // http() keepAliveTimeout on HTTP/2: no open stream
                .maxConnectionAge(30, TimeUnit.MINUTES)       // maxConnectionAge (gRPC's jitter is ±10 %, fixed)
                .maxConnectionAgeGrace(30, TimeUnit.SECONDS)  // maxConnectionAgeGrace
                // tcpKeepAlive(60 s, 10 s, 3) and tcpUserTimeout(30 s): the kernel layer, as child options. gRPC
                // runs epoll where it can (Linux); elsewhere Netty ignores the epoll options with a warning.
                .withChildOption(ChannelOption.SO_KEEPALIVE, true)
                .withChildOption(EpollChannelOption.TCP_KEEPIDLE, 60)
                .withChildOption(EpollChannelOption.TCP_KEEPINTVL, 10)
                .withChildOption(EpollChannelOption.TCP_KEEPCNT, 3)
                .withChildOption(EpollChannelOption.TCP_USER_TIMEOUT, 30_000);
    }

    /** The same numbers as the reaper's doctor reads them: what each layer takes to find a peer that vanished. */
    public static DetectionSettings detection() {
        return DetectionSettings.builder()
                .heartbeat(Duration.ofSeconds(30), Duration.ofSeconds(10), 1)
                .tcpKeepAlive(Duration.ofSeconds(60), Duration.ofSeconds(10), 3)
                .tcpUserTimeout(Duration.ofSeconds(30))
                .build();
    }

    public static void main(String[] args) throws IOException, InterruptedException {
        int port = args.length > 0 ? Integer.parseInt(args[0]) : 8085;
        Server server = configure(NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", port)))
                .build().start();
        System.out.println("gRPC (no services) at 127.0.0.1:" + server.getPort());
        System.out.println(DoctorReport.examine(detection(), IdleLimit.AWS_NLB));
        server.awaitTermination();
    }
}
