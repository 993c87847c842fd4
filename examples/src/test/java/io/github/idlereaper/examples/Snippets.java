package io.github.idlereaper.examples;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.StringWriter;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;

/** Code from the docs, compiled as the docs give it, so that a test can run it. */
final class Snippets {

    private Snippets() {
    }

    /**
     * The part of {@code markdown} under {@code heading} (a whole line, such as {@code "## Quick start"}), up to the
     * next heading of the same level or higher.
     */
    static String section(String markdown, String heading) {
        int start = markdown.indexOf("\n" + heading + "\n");
        assertTrue(start >= 0, "no heading '" + heading + "'");
        String level = heading.substring(0, heading.indexOf(' ') + 1);
        int end = start + heading.length() + 1;
        while (true) {
            end = markdown.indexOf("\n#", end + 1);
            if (end < 0) {
                return markdown.substring(start + 1);
            }
            String next = markdown.substring(end + 1, markdown.indexOf(' ', end + 1) + 1);
            if (next.length() <= level.length() && next.matches("#+ ")) {
                return markdown.substring(start + 1, end + 1);
            }
        }
    }

    /**
     * Compiles {@code source}, a top-level class {@code className} in the default package, with javac against the
     * test class path, and returns a class loader that loads it (and everything else from this test's loader).
     * Fails the test with javac's messages and the source when it does not compile.
     */
    static ClassLoader compile(Path dir, String className, String source) throws IOException {
        Path src = dir.resolve(className + ".java");
        Files.writeString(src, source, StandardCharsets.UTF_8);
        Path out = Files.createDirectories(dir.resolve("classes"));
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        assertTrue(javac != null, "no system Java compiler: run the tests on a JDK");
        StringWriter diagnostics = new StringWriter();
        String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        boolean ok = javac.getTask(diagnostics, null, null, List.of("-proc:none", "-classpath", classPath, "-d",
                out.toString()), null, javac.getStandardFileManager(null, null, StandardCharsets.UTF_8)
                .getJavaFileObjects(src.toFile())).call();
        assertTrue(ok, "does not compile:\n" + diagnostics + "\n" + source);
        return new URLClassLoader(new URL[] {out.toUri().toURL()}, Snippets.class.getClassLoader());
    }
}
