package io.github.idlereaper;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.util.ResourceLeakDetector;
import io.netty.util.ResourceLeakDetectorFactory;
import io.netty.util.ResourceLeakTracker;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The leak checker itself: a resource dropped without release is reported, so the suite's leak check can fail. */
class LeakCheckExtensionTest {

    /** A resource type of this test's own, so its deliberate leak is told apart from real ones. */
    static final class Probe {
    }

    @Test
    void droppedResource_isRecordedAsALeak() {
        ResourceLeakDetector<Probe> detector =
                ResourceLeakDetectorFactory.instance().newResourceLeakDetector(Probe.class, 1);
        leakOne(detector);
        await().atMost(Duration.ofSeconds(20)).until(() -> {
            System.gc();
            Probe p = new Probe();
            detector.track(p).close(p); // tracking polls the queue of collected, unreleased resources
            return LeakCheckExtension.recorded().stream().anyMatch(l -> l.contains("LeakCheckExtensionTest$Probe"));
        });
        assertTrue(LeakCheckExtension.recorded().removeIf(l -> l.contains("LeakCheckExtensionTest$Probe")));
    }

    private static void leakOne(ResourceLeakDetector<Probe> detector) {
        ResourceLeakTracker<Probe> leak = detector.track(new Probe());
        assertTrue(leak != null, "PARANOID tracks every resource");
    }
}
