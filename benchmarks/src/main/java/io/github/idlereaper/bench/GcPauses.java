package io.github.idlereaper.bench;

import com.sun.management.GarbageCollectionNotificationInfo;
import com.sun.management.GcInfo;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import javax.management.ListenerNotFoundException;
import javax.management.Notification;
import javax.management.NotificationEmitter;
import javax.management.NotificationListener;
import javax.management.openmbean.CompositeData;

/**
 * Records the JVM's garbage-collection pauses while open, on the {@link System#nanoTime()} scale (widened by 2 ms on
 * each side: the JVM reports them in milliseconds since its start), so a latency figure can say how much of a
 * stall was a collection. Thread-safe.
 */
final class GcPauses implements AutoCloseable {

    /** One pause: start and end in nanoTime, and the collector's name and cause. */
    record Pause(long startNanos, long endNanos, String name, String cause) {
        /** The pause's length as the JVM reported it (without the slack). */
        double millis() {
            return (endNanos - startNanos - 2 * SLACK_NANOS) / 1e6;
        }
    }

    private static final long SLACK_NANOS = 2_000_000L;

    private final List<Pause> pauses = new ArrayList<>();
    private final long originNanos;
    private final List<NotificationEmitter> emitters = new ArrayList<>();
    private final NotificationListener listener = this::onNotification;

    GcPauses() {
        long uptimeMs = ManagementFactory.getRuntimeMXBean().getUptime();
        originNanos = System.nanoTime() - uptimeMs * 1_000_000L;
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            if (gc instanceof NotificationEmitter) {
                NotificationEmitter e = (NotificationEmitter) gc;
                e.addNotificationListener(listener, null, null);
                emitters.add(e);
            }
        }
    }

    private void onNotification(Notification n, Object handback) {
        if (!GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION.equals(n.getType())) {
            return;
        }
        GarbageCollectionNotificationInfo info = GarbageCollectionNotificationInfo.from((CompositeData) n.getUserData());
        GcInfo gc = info.getGcInfo();
        if (info.getGcName().contains("Concurrent") || info.getGcName().contains("Cycles")) {
            return; // concurrent phases do not stop the application
        }
        // The JVM reports whole milliseconds since its start, and the origin is known to a millisecond too: widen
        // each pause by 2 ms on both sides, so that a ping it touched is never counted as untouched.
        synchronized (pauses) {
            pauses.add(new Pause(originNanos + gc.getStartTime() * 1_000_000L - SLACK_NANOS,
                    originNanos + gc.getEndTime() * 1_000_000L + SLACK_NANOS, info.getGcName(), info.getGcCause()));
        }
    }

    /** The pauses that overlap {@code [from, to]} (nanoTime). */
    List<Pause> during(long from, long to) {
        List<Pause> out = new ArrayList<>();
        synchronized (pauses) {
            for (Pause p : pauses) {
                if (p.endNanos() >= from && p.startNanos() <= to) {
                    out.add(p);
                }
            }
        }
        return out;
    }

    @Override
    public void close() {
        for (NotificationEmitter e : emitters) {
            try {
                e.removeNotificationListener(listener);
            } catch (ListenerNotFoundException ignored) {
                // already gone
            }
        }
    }
}
