package io.github.idlereaper.examples;

import io.github.idlereaper.IdleReaper;
import io.github.idlereaper.protocol.MqttHeartbeat;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.mqtt.MqttConnectReturnCode;
import io.netty.handler.codec.mqtt.MqttDecoder;
import io.netty.handler.codec.mqtt.MqttEncoder;
import io.netty.handler.codec.mqtt.MqttFixedHeader;
import io.netty.handler.codec.mqtt.MqttMessage;
import io.netty.handler.codec.mqtt.MqttMessageBuilders;
import io.netty.handler.codec.mqtt.MqttMessageType;
import io.netty.handler.codec.mqtt.MqttQoS;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * A tiny MQTT broker (it accepts CONNECT, answers PINGREQ, and drops everything else) whose keep-alive enforcement
 * is idle-reaper's: a client that sends no control packet for 1.5 × the keep-alive its CONNECT declared is closed,
 * after DISCONNECT 0x8D for MQTT 5 [MQTT-3.1.2-24]; keep-alive 0, or no CONNECT at all, falls back to 60 s.
 *
 * <p>Run: {@code mvn -q -B test-compile exec:java -Dexec.classpathScope=test
 * -Dexec.mainClass=io.github.idlereaper.examples.MqttBroker}, then
 * {@code mosquitto_sub -h 127.0.0.1 -p 1884 -t x -k 5 -V mqttv5}.
 */
public final class MqttBroker implements AutoCloseable {

    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final Channel channel;

    public MqttBroker(IdleReaper reaper, int port) {
        ServerBootstrap b = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast("mqttDecoder", new MqttDecoder())
                                .addLast("mqttEncoder", MqttEncoder.INSTANCE)
                                .addLast(new SimpleChannelInboundHandler<MqttMessage>() {
                                    @Override
                                    protected void channelRead0(ChannelHandlerContext ctx, MqttMessage m) {
                                        MqttMessageType type = m.fixedHeader().messageType();
                                        if (type == MqttMessageType.CONNECT) {
                                            ctx.writeAndFlush(MqttMessageBuilders.connAck()
                                                    .returnCode(MqttConnectReturnCode.CONNECTION_ACCEPTED).build());
                                        } else if (type == MqttMessageType.PINGREQ) {
                                            ctx.writeAndFlush(new MqttMessage(new MqttFixedHeader(
                                                    MqttMessageType.PINGRESP, false, MqttQoS.AT_MOST_ONCE, false,
                                                    0)));
                                        }
                                    }
                                });
                    }
                });
        reaper.install(b);
        channel = b.bind("127.0.0.1", port).syncUninterruptibly().channel();
    }

    /** Keep-alive enforcement, with {@code fallback} before CONNECT and for keep-alive 0. */
    public static IdleReaper reaper(Duration fallback) {
        return IdleReaper.builder()
                .readIdleTimeout(fallback)
                .heartbeat(Duration.ZERO, Duration.ZERO, 1, MqttHeartbeat.INSTANCE)
                .build();
    }

    public InetSocketAddress address() {
        return (InetSocketAddress) channel.localAddress();
    }

    @Override
    public void close() {
        channel.close().syncUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    public static void main(String[] args) throws InterruptedException {
        int port = args.length > 0 ? Integer.parseInt(args[0]) : 1884;
        MqttBroker s = new MqttBroker(reaper(Duration.ofSeconds(60)), port);
        System.out.println("MQTT broker at " + s.address() + " with keep-alive enforcement by idle-reaper");
        s.channel.closeFuture().sync();
    }
}
