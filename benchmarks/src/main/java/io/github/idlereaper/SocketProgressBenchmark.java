package io.github.idlereaper;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.EventLoopGroup;
import java.net.InetAddress;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * Issue #9: what asking the socket costs at a write-stall visit ({@link SocketProgress}, one {@code TCP_INFO}
 * {@code getsockopt} through the transport's {@code tcpInfo(holder)}), beside what every visit of a channel with
 * bytes waiting already does (sampling Netty's outbound buffer), on a real loopback socket of each native
 * transport. The socket is asked only when a stall deadline comes, so this is paid once per stall period per
 * channel whose bytes wait. Run:
 *
 * <pre>
 * mvn -q -B -DskipTests test-compile &amp;&amp; mvn -q -B dependency:build-classpath -Dmdep.includeScope=test \
 *     -Dmdep.outputFile=target/cp.txt
 * java -cp "target/test-classes:target/classes:$(cat target/cp.txt)" io.github.idlereaper.SocketProgressBenchmark
 * </pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class SocketProgressBenchmark {

    @Param({"EPOLL", "IO_URING"})
    public String transport;

    private EventLoopGroup group;
    private Channel server;
    private Channel client;
    private final SocketProgress progress = new SocketProgress();

    @Setup
    public void setUp() {
        TcpTransport k = TcpTransport.valueOf(transport);
        group = k.group(1);
        server = new ServerBootstrap().group(group).channel(k.serverChannel())
                .childHandler(new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        ((ByteBuf) msg).release();
                    }
                }).bind(InetAddress.getLoopbackAddress(), 0).syncUninterruptibly().channel();
        client = new Bootstrap().group(group).channel(k.channel()).handler(new ChannelInboundHandlerAdapter())
                .connect(server.localAddress()).syncUninterruptibly().channel();
        if (progress.sentAgoNanos(client) == SocketProgress.UNKNOWN && progress.probes(client) < 0) {
            throw new IllegalStateException(transport + " does not answer TCP_INFO here");
        }
    }

    @TearDown
    public void tearDown() {
        client.close().syncUninterruptibly();
        server.close().syncUninterruptibly();
        group.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** What a visit to a channel with bytes waiting already does: sample Netty's outbound buffer. */
    @Benchmark
    public long outboundBufferSample() {
        ChannelOutboundBuffer buf = client.unsafe().outboundBuffer();
        return buf.totalPendingWriteBytes() - buf.currentProgress() + (buf.isEmpty() ? 1 : 0);
    }

    /** What a stall deadline adds: ask the socket when it last sent new data. */
    @Benchmark
    public long socketSentAgo() {
        return progress.sentAgoNanos(client);
    }

    public static void main(String[] args) throws Exception {
        new Runner(new OptionsBuilder().include(SocketProgressBenchmark.class.getName() + "\\.").forks(1)
                .warmupIterations(3).warmupTime(TimeValue.seconds(1)).measurementIterations(5)
                .measurementTime(TimeValue.seconds(1)).addProfiler("gc").build()).run();
    }
}
