package io.github.idlereaper;

import java.util.concurrent.CompletableFuture;

/**
 * A drain of a whole reaper under way ({@link IdleReaper#drain}): when it started, how long connections may take to
 * finish their work after their goodbye, over how long the goodbyes are spread, and the future that completes when
 * the last connection has closed. Immutable apart from the future. Thread-safe.
 */
final class ReaperDrain {
    final long startNanos;
    final long graceNanos;
    final long spreadNanos;
    final CompletableFuture<Void> done = new CompletableFuture<>();

    ReaperDrain(long startNanos, long graceNanos, long spreadNanos) {
        this.startNanos = startNanos;
        this.graceNanos = graceNanos;
        this.spreadNanos = spreadNanos;
    }

    /**
     * When {@code h}'s goodbye is due: spread evenly over the spread window by a hash of the handler's identity
     * (a fixed place per connection, with no field to hold it).
     */
    long goodbyeAt(ReaperHandler h) {
        if (spreadNanos == 0) {
            return startNanos;
        }
        // Fibonacci hashing spreads even consecutive identity hashes over the window.
        long mixed = (System.identityHashCode(h) * 0x9E3779B9L) & 0xFFFFFFFFL;
        return startNanos + (long) ((mixed / 4294967296.0) * spreadNanos);
    }
}
