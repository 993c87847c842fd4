package io.github.idlereaper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs a second JVM of the running JDK for a test, with no stdin, and returns what it printed (stdout and stderr
 * together) once it has exited 0 within a minute; otherwise the test fails with that output. For what one JVM cannot
 * show itself: {@code java -jar} on the packaged jar, a runtime without a module, a low open-file limit.
 */
public final class ChildJvm {

    private static final long LIMIT_SECONDS = 60;

    private ChildJvm() {
    }

    /** The {@code java} command of the running JDK. */
    public static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    /** Runs {@code java} with {@code args}; returns the output after a clean exit. */
    public static String run(List<String> args) throws Exception {
        List<String> command = new ArrayList<>();
        command.add(java());
        command.addAll(args);
        Process p = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .start();
        // Read before waiting, so that a full pipe cannot stall the child.
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        boolean done = p.waitFor(LIMIT_SECONDS, TimeUnit.SECONDS);
        if (!done) {
            p.destroyForcibly();
        }
        assertTrue(done, "the child did not finish within " + LIMIT_SECONDS + " s: " + output);
        assertEquals(0, p.exitValue(), output);
        return output;
    }
}
