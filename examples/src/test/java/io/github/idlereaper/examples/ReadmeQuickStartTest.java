package io.github.idlereaper.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.idlereaper.HeartbeatProtocol;
import io.github.idlereaper.IdleReaper;
import io.github.idlereaper.protocol.WebSocketHeartbeat;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import java.io.File;
import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Modifier;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's quick start, read from README.md: its imports are all it needs to compile, the configuration it
 * builds is valid and installs, and the README names the codec each built-in protocol needs as the code does.
 */
class ReadmeQuickStartTest {

    private static final Path README = Path.of("README.md");

    /** The first {@code java} block after the "Quick start" heading, line by line. */
    static List<String> quickStart() throws IOException {
        String section = Snippets.section(Files.readString(README, StandardCharsets.UTF_8), "## Quick start");
        int start = section.indexOf("```java\n");
        int end = section.indexOf("\n```\n", start);
        assertTrue(start > 0 && end > start, "no java block in the quick start");
        return List.of(section.substring(start + "```java\n".length(), end).split("\n", -1));
    }

    private static List<String> imports(List<String> block) {
        return block.stream().filter(l -> l.startsWith("import ")).collect(Collectors.toList());
    }

    private static List<String> code(List<String> block) {
        return block.stream().filter(l -> !l.startsWith("import ")).collect(Collectors.toList());
    }

    /** The simple name an import line brings in: {@code import a.b.C;  // ...} gives {@code C}. */
    private static String simpleName(String importLine) {
        String name = importLine.substring("import ".length(), importLine.indexOf(';')).trim();
        return name.substring(name.lastIndexOf('.') + 1);
    }

    @Test
    void quickStart_showsItsImportsFirst() throws IOException {
        List<String> block = quickStart();
        List<String> imports = imports(block);
        assertFalse(imports.isEmpty(), "the quick start shows no imports");
        // The imports come first, then one blank line, then the code.
        assertEquals(imports, block.subList(0, imports.size()));
        assertEquals("", block.get(imports.size()));
        assertTrue(imports.contains("import io.github.idlereaper.IdleReaper;"), imports.toString());
        // Each import is used: the code names its type.
        String code = String.join("\n", code(block));
        for (String line : imports) {
            assertTrue(Pattern.compile("\\b" + simpleName(line) + "\\b").matcher(code).find(),
                    "unused in the quick start: " + line);
        }
    }

    /**
     * Compiles the quick start with its own imports and nothing else: the names the host brings ({@code boss},
     * {@code workers}, {@code MyInitializer}, {@code ctx}) come from a wrapper that spells every type in full, so a
     * type the README forgot to import fails the compilation. Returns the class loader of the compiled wrapper.
     */
    static ClassLoader compileQuickStart(Path dir) throws IOException {
        List<String> block = quickStart();
        List<String> code = code(block);
        String all = String.join("\n", code).trim();
        int build = all.indexOf(".build();");
        assertTrue(all.startsWith("IdleReaper reaper = IdleReaper.builder()") && build > 0, all);
        String source = String.join("\n", imports(block)) + "\n\n"
                + "public class QuickStart {\n"
                + "    public static IdleReaper reaper() {\n"
                + all.substring(0, build + ".build();".length()) + "\n"
                + "        return reaper;\n"
                + "    }\n\n"
                + "    static void quickStart(io.netty.channel.EventLoopGroup boss,\n"
                + "            io.netty.channel.EventLoopGroup workers, io.netty.channel.ChannelHandlerContext ctx)\n"
                + "            throws Exception {\n"
                + all + "\n"
                + "    }\n\n"
                + "    static final class MyInitializer\n"
                + "            extends io.netty.channel.ChannelInitializer<io.netty.channel.Channel> {\n"
                + "        @Override\n"
                + "        protected void initChannel(io.netty.channel.Channel ch) {\n"
                + "        }\n"
                + "    }\n"
                + "}\n";
        return Snippets.compile(dir, "QuickStart", source);
    }

    @Test
    void quickStart_compilesWithItsOwnImports(@TempDir Path dir) throws Exception {
        compileQuickStart(dir);
    }

    static final class MyInitializer extends ChannelInitializer<Channel> {
        @Override
        protected void initChannel(Channel ch) {
            ch.pipeline().addLast(new ChannelInboundHandlerAdapter());
        }
    }

    /** The configuration the README builds, built by the README's own code; then installed as it says. */
    @Test
    void quickStart_buildsAndInstalls(@TempDir Path dir) throws Exception {
        IdleReaper reaper = (IdleReaper) compileQuickStart(dir).loadClass("QuickStart").getMethod("reaper")
                .invoke(null);
        assertEquals(Duration.ofSeconds(90), reaper.timeouts().readIdle());
        assertEquals(Duration.ofSeconds(30), reaper.timeouts().writeStall());
        EventLoopGroup boss = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        EventLoopGroup workers = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        try {
            ServerBootstrap b = new ServerBootstrap().group(boss, workers)
                    .channel(NioServerSocketChannel.class).childHandler(new MyInitializer());
            reaper.install(b);                                                // one call, before bind()
            b.bind("127.0.0.1", 0).syncUninterruptibly().channel().close().syncUninterruptibly();
        } finally {
            boss.shutdownGracefully(0, 0, TimeUnit.SECONDS);
            workers.shutdownGracefully(0, 0, TimeUnit.SECONDS);
        }
    }

    /**
     * The README's table of codecs names, for every built-in protocol in {@code io.github.idlereaper.protocol}, the
     * artifact that its {@code checkAvailable()} asks for on a class path without Netty's optional codecs; and the
     * quick start's import of {@code WebSocketHeartbeat} says so too.
     */
    @Test
    void readme_namesTheCodecOfEveryBuiltInProtocol() throws Exception {
        String readme = Files.readString(README, StandardCharsets.UTF_8);
        Path protocolDir = Path.of(WebSocketHeartbeat.class.getProtectionDomain().getCodeSource().getLocation()
                .toURI()).resolve("io/github/idlereaper/protocol");
        TreeMap<String, String> needs = new TreeMap<>();
        try (URLClassLoader bare = withoutOptionalCodecs();
                Stream<Path> files = Files.list(protocolDir)) {
            for (Path file : files.collect(Collectors.toList())) {
                String name = file.getFileName().toString();
                if (!name.endsWith(".class") || name.contains("$")) {
                    continue;
                }
                Class<?> type = Class.forName("io.github.idlereaper.protocol." + name.replace(".class", ""));
                if (!Modifier.isPublic(type.getModifiers()) || !HeartbeatProtocol.class.isAssignableFrom(type)) {
                    continue;
                }
                needs.put(type.getSimpleName(), neededArtifact(bare, type.getName()));
            }
        }
        assertEquals(List.of("Http2Heartbeat", "LineHeartbeat", "MqttHeartbeat", "WebSocketHeartbeat"),
                List.copyOf(needs.keySet()));
        for (var e : needs.entrySet()) {
            String protocol = e.getKey();
            String row = e.getValue() == null
                    ? "| `" + protocol + ".of(...)`, `" + protocol + ".ofBytes(...)` | nothing more |"
                    : "| `" + protocol + ".INSTANCE` | `" + e.getValue() + "` |";
            assertTrue(readme.contains("\n" + row + "\n"), "README.md should have the row " + row);
        }
        assertEquals("io.netty:netty-codec-http", needs.get("WebSocketHeartbeat"));
        assertTrue(quickStart().contains("import io.github.idlereaper.protocol.WebSocketHeartbeat;         // needs "
                + needs.get("WebSocketHeartbeat")), String.join("\n", quickStart()));
        assertTrue(readme.contains("\n| the HTTP layer, `http()` | `io.netty:netty-codec-http` |\n"), readme);
    }

    /**
     * The artifact named by {@code checkAvailable()} of the protocol {@code className}, loaded without Netty's
     * optional codecs; null when it needs none.
     */
    private static String neededArtifact(ClassLoader bare, String className) throws Exception {
        Class<?> type = bare.loadClass(className);
        Object protocol;
        if (type.getName().endsWith("LineHeartbeat")) {
            protocol = type.getMethod("of", String.class, java.nio.charset.Charset.class).invoke(null, "PING\n",
                    StandardCharsets.US_ASCII);
        } else {
            protocol = type.getField("INSTANCE").get(null);
        }
        try {
            type.getMethod("checkAvailable").invoke(protocol);
            return null;
        } catch (InvocationTargetException e) {
            Matcher m = Pattern.compile(" needs (\\S+) on the class path ").matcher(String.valueOf(
                    e.getCause().getMessage()));
            assertTrue(e.getCause() instanceof IllegalStateException && m.find(), String.valueOf(e.getCause()));
            return m.group(1);
        }
    }

    /** The test class path without Netty's optional codec modules (HTTP, HTTP/2, MQTT) and the test classes. */
    private static URLClassLoader withoutOptionalCodecs() throws Exception {
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<URL> urls = new ArrayList<>();
        for (String entry : cp.split(File.pathSeparator)) {
            String name = new File(entry).getName();
            if (name.startsWith("netty-codec-http") || name.startsWith("netty-codec-mqtt")
                    || name.equals("test-classes")) {
                continue;
            }
            urls.add(new File(entry).toURI().toURL());
        }
        return new URLClassLoader(urls.toArray(new URL[0]), ClassLoader.getPlatformClassLoader());
    }
}
