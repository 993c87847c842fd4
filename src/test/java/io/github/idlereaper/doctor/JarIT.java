package io.github.idlereaper.doctor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleFinder;
import java.lang.module.ModuleReference;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.jar.Attributes;
import java.util.jar.JarFile;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import io.github.idlereaper.ChildJvm;
import org.junit.jupiter.api.Test;

/** The packaged jar, after {@code package}: its manifest, its module name, and {@code java -jar ... doctor}. */
class JarIT {

    private static Path jar() {
        String property = System.getProperty("idlereaper.jar");
        assertTrue(property != null, "the build passes the jar's path as idlereaper.jar");
        Path jar = Path.of(property);
        assertTrue(Files.isRegularFile(jar), "no jar at " + jar);
        return jar;
    }

    /** The jar beside the main one with {@code -classifier}. */
    private static Path sibling(String classifier) {
        String main = jar().getFileName().toString();
        Path p = jar().resolveSibling(main.substring(0, main.length() - ".jar".length()) + "-" + classifier + ".jar");
        assertTrue(Files.isRegularFile(p), "no " + classifier + " jar at " + p);
        return p;
    }

    @Test
    void sourcesAndJavadocJars_holdThePublicApi_andNoInternals() throws Exception {
        try (JarFile sources = new JarFile(sibling("sources").toFile())) {
            for (String f : List.of("IdleReaper.java", "ReaperHandler.java", "protocol/WebSocketHeartbeat.java",
                    "doctor/DoctorReport.java")) {
                assertTrue(sources.getEntry("io/github/idlereaper/" + f) != null, "sources jar lacks " + f);
            }
        }
        try (JarFile javadoc = new JarFile(sibling("javadoc").toFile())) {
            // javadoc lays the pages out under the module's name (the jar's Automatic-Module-Name) or not, as the
            // tool decides: look for the package path anywhere.
            Set<String> pages = javadoc.stream().map(e -> e.getName()).filter(n -> n.endsWith(".html"))
                    .map(n -> n.substring(Math.max(0, n.indexOf("io/github/idlereaper/"))))
                    .collect(Collectors.toSet());
            for (String f : List.of("IdleReaper.html", "IdleReaper.Builder.html", "ReaperStats.html",
                    "protocol/WebSocketHeartbeat.html", "doctor/DoctorReport.html")) {
                assertTrue(pages.contains("io/github/idlereaper/" + f), "javadoc jar lacks " + f);
            }
            // Package-private classes are internals: the published documentation is the public API only.
            for (String f : List.of("ReaperHandler.html", "LoopWheel.html", "ReaperCore.html")) {
                assertFalse(pages.contains("io/github/idlereaper/" + f), "javadoc jar documents " + f);
            }
        }
    }

    @Test
    void manifest_namesTheDoctorAndTheModule() throws Exception {
        try (JarFile jar = new JarFile(jar().toFile())) {
            Attributes main = jar.getManifest().getMainAttributes();
            assertEquals("io.github.idlereaper.doctor.Main", main.getValue("Main-Class"));
            assertEquals("io.github.idlereaper", main.getValue("Automatic-Module-Name"));
            assertEquals(null, main.getValue("Class-Path"));
        }
    }

    @Test
    void onTheModulePath_itIsTheModuleIoGithubIdlereaper() {
        Set<ModuleReference> found = ModuleFinder.of(jar()).findAll();
        assertEquals(1, found.size(), found.toString());
        ModuleDescriptor module = found.iterator().next().descriptor();
        assertEquals("io.github.idlereaper", module.name());
        assertTrue(module.isAutomatic());
        assertTrue(module.packages().containsAll(Set.of("io.github.idlereaper", "io.github.idlereaper.doctor",
                "io.github.idlereaper.protocol")), module.packages().toString());
    }

    /**
     * The docs' command lines name the jar the build makes. A glob such as {@code target/idle-reaper-*.jar} also
     * matches the sources and Javadoc jars, and {@code java -jar} then takes the first, the Javadoc jar ("no main
     * manifest attribute").
     */
    @Test
    void theDocsDoctorCommands_nameThisJar() throws Exception {
        Pattern command = Pattern.compile("java -jar target/(\\S+) doctor");
        for (String doc : List.of("README.md", "docs/tcp-keepalive.md")) {
            Matcher m = command.matcher(Files.readString(Path.of(doc), StandardCharsets.UTF_8));
            assertTrue(m.find(), doc + " has no doctor command");
            do {
                assertEquals(jar().getFileName().toString(), m.group(1), doc);
            } while (m.find());
        }
    }

    /** The README's command as it stands: no options, so the host only, and no verdict on a reaper. */
    @Test
    void javaDashJar_doctor_withoutOptions_checksTheHostOnly() throws Exception {
        String output = ChildJvm.run(List.of("-jar", jar().toString(), "doctor"));
        assertTrue(output.contains("\nreaper\n  no reaper options given: this checks the host only\n"), output);
        assertFalse(output.contains("nothing finds a peer"), output);
    }

    @Test
    void javaDashJar_doctor_runsOnTheJdkAlone() throws Exception {
        String output = ChildJvm.run(List.of("-Xlog:class+load=info", "-jar", jar().toString(), "doctor",
                "--read-idle", "5m", "--keepalive", "60s,10s,6", "--limit", "aws-nlb"));
        assertTrue(output.contains("idle-reaper doctor\nhost\n"), output);
        assertTrue(output.contains("60s idle, 10s interval, 6 probes"), output);
        List<String> foreign = output.lines().filter(l -> l.contains("[class,load] io.netty.")
                || l.contains("[class,load] org.slf4j.")).collect(Collectors.toList());
        assertEquals(List.of(), foreign);
    }
}
