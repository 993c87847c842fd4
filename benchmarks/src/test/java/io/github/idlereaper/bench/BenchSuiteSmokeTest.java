package io.github.idlereaper.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Runs the whole benchmark suite at tiny sizes, so that it keeps compiling and running. It checks that every figure
 * was computed and the properties that do not depend on timing (never early, everything reaped, the allocation
 * counts the measurements rest on); it never checks a duration against a budget.
 */
class BenchSuiteSmokeTest {

    @Test
    void suite_tinySizes_computesEveryFigure() throws Exception {
        // Figure 1 counts live channels in a heap histogram of the whole JVM, so it runs in a JVM of its own: in
        // this one, a channel another test class left to its loop was once counted against it.
        Path dir = Files.createDirectories(Path.of("target", "bench-smoke")).toAbsolutePath();
        Report report = BenchSuite.runForked(1, true, dir, true);
        report.merge(BenchSuite.run(BenchSuite.Sizes.smoke(), Set.of(2, 3, 4, 5, 6, 7), dir));
        Map<String, Double> m = report.metrics();

        for (String key : List.of(
                "1a.reaper", "1a.netty", "1a.pass", "1a.readTimeout", "1b.reaper", "1b.netty", "1b.pass",
                "1c.reaper", "1c.netty", "1d.reaper", "1d.netty",
                "2a.reaper", "2a.netty", "2b.reaper", "2b.netty", "2c.reaper", "2c.netty",
                "2d.reaperReadBytes", "2d.reaperWriteBytes", "2d.reaperPromiseBytes",
                "2e.reaper", "2e.netty", "2f.reaper", "2f.netty", "2g.reaper", "2g.netty",
                "2h.reaperReadBytes", "2h.reaperWriteBytes", "2h.reaperPromiseBytes",
                "3a.reaper", "3a.reaperRaw", "3a.bare", "3a.netty", "3a.nettyReader", "3b.reaper", "3b.netty",
                "3c.reaper", "3c.reaperRaw", "3c.bare", "3c.netty",
                "4.reaperMinMs", "4.reaperP99Ms", "4.reaperStormP99Ms", "4.reaperWorstEarlyMs", "4.nettyP99Ms",
                "4.nettyEarly",
                "5a.reaper", "5a.netty", "5a.reaperRuns", "5b.reaper", "5b.netty", "5b.reaperRuns",
                "6.reaper", "6.netty", "6.reaperCpu", "6.predicted",
                "1e.reaperAll", "7a.reaperAll", "7a.reaper", "7a.netty", "7b.reaper1000", "7b.scan10000", "7c.most")) {
            assertTrue(m.containsKey(key), "figure not computed: " + key);
            assertTrue(Double.isFinite(m.get(key)), key + " is " + m.get(key));
        }
        assertEquals(25, report.rows().size(), report.table());

        // Figure 1 measures something: three scheduled tasks and a handler retain more than one pass-through
        // handler, and each configuration retains something.
        assertTrue(m.get("1a.netty") > m.get("1a.pass"), report.table());
        assertTrue(m.get("1b.netty") > m.get("1b.pass"), report.table());
        assertTrue(m.get("1a.pass") > 0 && m.get("1a.reaper") > 0 && m.get("1c.reaper") > 0, report.table());

        // Figure 2's writes go through a real outbound buffer: their promises complete after the handlers, so
        // IdleStateHandler's listener is stored, beside the promise it un-voids (a sink that completed the promise
        // inside write() showed only the promise, 48 B). A writeAndFlush(msg) pays for its promise in every
        // configuration. The reaper's hot paths allocate nothing over bare. (Only the real loop's counts: at
        // smoke size JMH runs one unwarmed iteration in this JVM, whose B/op carries the warm-up's allocations.)
        assertTrue(m.get("2d.nettyWriteBytes") > 48, report.table());
        assertTrue(m.get("2d.barePromiseBytes") > 0, report.table());
        for (String op : List.of("Read", "Write", "Promise")) {
            assertEquals(0.0, m.get("2d.reaper" + op + "Bytes"), BenchSuite.ZERO_BYTES, op + " " + report.table());
        }

        // Figure 7: every connection of the upkeep run stays open with every lifecycle feature on, and the whole age
        // burst closes.
        assertEquals(0.0, m.get("7a.closed"), report.details().toString());
        assertEquals(BenchSuite.Sizes.smoke().burstConnections(), m.get("7c.closed"), 0.0);

        // Figure 3 keeps every connection active, on both touch schedules: nothing may be closed.
        assertEquals(0.0, m.get("3.closed"), report.details().toString());

        // Figure 4, timed at the reap's event (not at the close, which could hide an early reap shorter than the
        // close path): never early, and every idle connection reaped.
        assertEquals(0.0, m.get("4.reaperEarly"), report.details().toString());
        assertEquals(0.0, m.get("4.reaperNotReaped"), report.details().toString());
        assertTrue(m.get("4.reaperMinMs") >= 0, report.details().toString());

        // Figure 5, on both transports: the whole burst was reaped, and the echo connection was measured while it
        // happened.
        for (String k : List.of("5a", "5b")) {
            assertEquals(BenchSuite.Sizes.smoke().burstConnections(), m.get(k + ".reaperReaped"), 0.0, k);
            assertTrue(m.get(k + ".reaperPings") > 0, report.details().toString());
            // The reap events and closes were recorded, so the loop's reaping could be cut into runs.
            assertTrue(m.get(k + ".reaperRuns") > 0, report.details().toString());
        }
    }
}
