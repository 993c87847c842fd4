package io.github.idlereaper;

import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.lang.management.MemoryUsage;
import java.lang.management.OperatingSystemMXBean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link PressureSource#system()}: one daemon thread per process samples the process's file descriptors, its heap
 * after the last GC and its direct memory once a second, and publishes the largest share. Reading it costs one
 * volatile load.
 */
final class SystemPressure implements PressureSource {

    static final SystemPressure INSTANCE = new SystemPressure();
    private static final Logger log = LoggerFactory.getLogger(IdleReaper.class);
    static final long PERIOD_MILLIS = 1_000;

    private volatile double pressure;
    /** The three shares of the last sample, for the log line on entering pressure. */
    private volatile String detail = "not sampled yet";
    private volatile boolean started;

    private SystemPressure() {
    }

    @Override
    public double pressure() {
        if (!started) {
            start();
        }
        return pressure;
    }

    /** What the last sample saw, for a log line. */
    String detail() {
        return detail;
    }

    /** Starts the sampling thread (once per process) and takes the first sample on the caller's thread. */
    synchronized void start() {
        if (started) {
            return;
        }
        sample(); // the first value at once, on the caller (once per process)
        Thread t = new Thread(() -> {
            while (true) {
                try {
                    Thread.sleep(PERIOD_MILLIS);
                    sample();
                } catch (InterruptedException e) {
                    return;
                } catch (Throwable e) {
                    log.warn("IdleReaper could not sample the process's resources; reading no pressure", e);
                    pressure = 0;
                }
            }
        }, "idle-reaper-pressure");
        t.setDaemon(true);
        t.start();
        started = true;
    }

    private void sample() {
        double fds = fdShare();
        double heap = heapShare();
        double direct = directShare();
        pressure = Math.max(fds, Math.max(heap, direct));
        detail = String.format("file descriptors %.0f %%, heap after GC %.0f %%, direct memory %.0f %%", fds * 100,
                heap * 100, direct * 100);
    }

    /** Open file descriptors of the limit, or 0 where the JVM does not say. */
    static double fdShare() {
        OperatingSystemMXBean os = ManagementFactory.getOperatingSystemMXBean();
        if (os instanceof com.sun.management.UnixOperatingSystemMXBean) {
            com.sun.management.UnixOperatingSystemMXBean unix = (com.sun.management.UnixOperatingSystemMXBean) os;
            long max = unix.getMaxFileDescriptorCount();
            long open = unix.getOpenFileDescriptorCount();
            return max > 0 && open >= 0 ? (double) open / max : 0;
        }
        return 0;
    }

    /** Heap in use after the last collection, of the maximum heap (the old generation's pools dominate). */
    static double heapShare() {
        long used = 0;
        long max = Runtime.getRuntime().maxMemory();
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() != MemoryType.HEAP) {
                continue;
            }
            MemoryUsage after = pool.getCollectionUsage();
            if (after != null) {
                used += after.getUsed();
            }
        }
        return max > 0 && max != Long.MAX_VALUE ? (double) used / max : 0;
    }

    /**
     * Direct memory in use of Netty's limit for it: what Netty allocated without a cleaner (counted by Netty, where
     * it counts) plus NIO's direct buffer pool (buffers with a cleaner, Netty's included when it uses them).
     */
    static double directShare() {
        long max = io.netty.util.internal.PlatformDependent.maxDirectMemory();
        long used = Math.max(0, io.netty.util.internal.PlatformDependent.usedDirectMemory());
        for (BufferPoolMXBean b : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class)) {
            if ("direct".equals(b.getName())) {
                used += Math.max(0, b.getMemoryUsed());
            }
        }
        return max > 0 ? (double) used / max : 0;
    }
}
