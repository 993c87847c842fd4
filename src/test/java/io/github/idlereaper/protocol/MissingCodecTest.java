package io.github.idlereaper.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Loud at build(): a built-in protocol whose optional Netty codec is missing fails there, naming the artifact,
 * instead of closing every accepted connection with a NoClassDefFoundError.
 */
class MissingCodecTest {

    @Test
    void theBuiltInProtocols_findTheirCodecsHere() {
        WebSocketHeartbeat.INSTANCE.checkAvailable();
        Http2Heartbeat.INSTANCE.checkAvailable();
        MqttHeartbeat.INSTANCE.checkAvailable();
    }

    @Test
    void aMissingClass_isNamedWithItsArtifact() {
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Codecs.require(
                WebSocketHeartbeat.INSTANCE, "io.netty:netty-codec-http", "io.netty.handler.codec.http.NoSuchThing"));
        assertEquals("WebSocketHeartbeat needs io.netty:netty-codec-http on the class path "
                + "(io.netty.handler.codec.http.NoSuchThing not found)", e.getMessage());
    }

    /** The real case: the library and Netty's core modules on a class path without netty-codec-http. */
    @Test
    void webSocketHeartbeat_withoutNettyCodecHttp_failsAtBuild() throws Exception {
        try (URLClassLoader loader = withoutNettyCodecHttp()) {
            Class<?> reaper = loader.loadClass("io.github.idlereaper.IdleReaper");
            Class<?> protocolType = loader.loadClass("io.github.idlereaper.HeartbeatProtocol");
            Object ws = loader.loadClass("io.github.idlereaper.protocol.WebSocketHeartbeat").getField("INSTANCE")
                    .get(null);
            Object builder = reaper.getMethod("builder").invoke(null);
            Method heartbeat = builder.getClass().getMethod("heartbeat", Duration.class, Duration.class, int.class,
                    protocolType);
            heartbeat.invoke(builder, Duration.ofSeconds(30), Duration.ofSeconds(5), 2, ws);
            assertEquals("WebSocketHeartbeat needs io.netty:netty-codec-http on the class path "
                    + "(io.netty.handler.codec.http.websocketx.WebSocketFrame not found)", buildFailure(builder));
        }
    }

    /** The HTTP layer, on the same class path. */
    @Test
    void httpLayer_withoutNettyCodecHttp_failsAtBuild() throws Exception {
        try (URLClassLoader loader = withoutNettyCodecHttp()) {
            Object builder = loader.loadClass("io.github.idlereaper.IdleReaper").getMethod("builder").invoke(null);
            builder.getClass().getMethod("http").invoke(builder);
            assertEquals("http() needs io.netty:netty-codec-http on the class path "
                    + "(io.netty.handler.codec.http.HttpServerCodec not found)", buildFailure(builder));
        }
    }

    /** The test class path without netty-codec-http (and its HTTP/2 sibling) and without the test classes. */
    private static URLClassLoader withoutNettyCodecHttp() throws Exception {
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<URL> urls = new ArrayList<>();
        for (String entry : cp.split(File.pathSeparator)) {
            String name = new File(entry).getName();
            if (name.startsWith("netty-codec-http") || name.equals("test-classes")) {
                continue;
            }
            urls.add(new File(entry).toURI().toURL());
        }
        return new URLClassLoader(urls.toArray(new URL[0]), ClassLoader.getPlatformClassLoader());
    }

    /** The message of the IllegalStateException that {@code builder.build()} throws. */
    private static String buildFailure(Object builder) {
        InvocationTargetException e = assertThrows(InvocationTargetException.class,
                () -> builder.getClass().getMethod("build").invoke(builder));
        assertTrue(e.getCause() instanceof IllegalStateException, String.valueOf(e.getCause()));
        return e.getCause().getMessage();
    }
}
