package io.github.idlereaper.bench;

import java.lang.management.ManagementFactory;
import java.util.HashMap;
import java.util.Map;
import javax.management.ObjectName;

/**
 * A class histogram of the live heap, taken in-process through the HotSpot diagnostic command
 * {@code GC.class_histogram} (the same as {@code jcmd <pid> GC.class_histogram}); it runs a full GC first, so it
 * counts only what is retained.
 */
final class Histogram {

    final long totalBytes;
    final long totalInstances;
    /** Bytes per class name. */
    final Map<String, Long> bytes;
    /** Instances per class name. */
    final Map<String, Long> instances;

    private Histogram(long totalBytes, long totalInstances, Map<String, Long> bytes, Map<String, Long> instances) {
        this.totalBytes = totalBytes;
        this.totalInstances = totalInstances;
        this.bytes = bytes;
        this.instances = instances;
    }

    static Histogram take() {
        String text = Measure.call(() -> (String) ManagementFactory.getPlatformMBeanServer().invoke(
                new ObjectName("com.sun.management:type=DiagnosticCommand"), "gcClassHistogram",
                new Object[] {new String[0]}, new String[] {String[].class.getName()}));
        long total = -1;
        long totalInstances = -1;
        Map<String, Long> bytes = new HashMap<>();
        Map<String, Long> instances = new HashMap<>();
        for (String line : text.split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length >= 3 && f[0].equals("Total")) {
                totalInstances = Long.parseLong(f[1]);
                total = Long.parseLong(f[2]);
            } else if (f.length >= 4 && f[0].endsWith(":")) {
                instances.merge(f[3], Long.parseLong(f[1]), Long::sum);
                bytes.merge(f[3], Long.parseLong(f[2]), Long::sum);
            }
        }
        if (total < 0) {
            throw new IllegalStateException("no Total line in the class histogram");
        }
        return new Histogram(total, totalInstances, bytes, instances);
    }
}
