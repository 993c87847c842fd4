package io.github.idlereaper;

import static org.junit.jupiter.api.Assertions.fail;

import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import io.netty.util.ResourceLeakDetectorFactory;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Fails a test class when Netty's leak detector (PARANOID in this build) reports a leaked buffer while it ran.
 * Registered for every test class through JUnit's extension autodetection.
 */
public final class LeakCheckExtension implements BeforeAllCallback, AfterAllCallback {

    private static final List<String> LEAKS = new CopyOnWriteArrayList<>();

    static {
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
        ResourceLeakDetectorFactory.setResourceLeakDetectorFactory(new RecordingFactory());
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        LEAKS.clear();
    }

    @Override
    public void afterAll(ExtensionContext context) {
        poll();
        if (!LEAKS.isEmpty()) {
            String first = LEAKS.get(0);
            LEAKS.clear();
            fail("Netty reported a leaked buffer in " + context.getDisplayName() + ":\n" + first);
        }
    }

    /**
     * Makes the detector report what has leaked so far: leaks are found when a collected, unreleased buffer's
     * reference is polled, which happens on the next tracked allocation, so this collects, then allocates a few
     * tracked buffers. The soak ({@link SoakMain}) calls it too.
     */
    static void poll() {
        for (int i = 0; i < 3; i++) {
            System.gc();
            System.runFinalization();
            for (int j = 0; j < 16; j++) {
                PooledByteBufAllocator.DEFAULT.buffer(1).release();
                UnpooledByteBufAllocator.DEFAULT.buffer(1).release();
            }
        }
    }

    private static final class RecordingFactory extends ResourceLeakDetectorFactory {
        @Override
        @SuppressWarnings("deprecation")
        public <T> ResourceLeakDetector<T> newResourceLeakDetector(Class<T> resource, int samplingInterval,
                long maxActive) {
            return new ResourceLeakDetector<T>(resource, samplingInterval) {
                @Override
                protected void reportTracedLeak(String resourceType, String records) {
                    LEAKS.add(resourceType + records);
                    if (!deliberate(resourceType)) {
                        super.reportTracedLeak(resourceType, records);
                    }
                }

                @Override
                protected void reportUntracedLeak(String resourceType) {
                    LEAKS.add(resourceType);
                    if (!deliberate(resourceType)) {
                        super.reportUntracedLeak(resourceType);
                    }
                }
            };
        }
    }

    /** The checker's own test leaks a resource of this type on purpose; it is recorded but not logged. */
    private static boolean deliberate(String resourceType) {
        return resourceType.contains("LeakCheckExtensionTest$Probe");
    }

    /** The leaks recorded since the current test class started; for the checker's own test. */
    static List<String> recorded() {
        return LEAKS;
    }
}
