package io.github.idlereaper;

import java.time.Duration;

/**
 * The HTTP layer's options as the {@link HttpCompanion} reads them: nanos, and the limit on requests. Immutable; one
 * per reaper, or none when the layer is off.
 */
final class HttpSettings {

    final Duration keepAliveTimeout;
    final Duration requestHeaderTimeout;
    final Duration requestBodyTimeout;
    final long keepAlive;
    final long header;
    final long body;
    /** The most requests (HTTP/1.1) or streams (HTTP/2) one connection serves; 0 for no limit. */
    final int maxRequests;

    HttpSettings(Duration keepAlive, Duration header, Duration body, int maxRequests) {
        this.keepAliveTimeout = keepAlive;
        this.requestHeaderTimeout = header;
        this.requestBodyTimeout = body;
        this.keepAlive = keepAlive.toNanos();
        this.header = header.toNanos();
        this.body = body.toNanos();
        this.maxRequests = maxRequests;
    }

    /** The smallest enabled timeout, or zero. */
    Duration smallestEnabled() {
        Duration smallest = Duration.ZERO;
        for (Duration d : new Duration[] {keepAliveTimeout, requestHeaderTimeout, requestBodyTimeout}) {
            if (!d.isZero() && (smallest.isZero() || d.compareTo(smallest) < 0)) {
                smallest = d;
            }
        }
        return smallest;
    }

    void checkAgainstTick(Duration tick) {
        Checks.notShorterThanTick("keepAliveTimeout", keepAliveTimeout, tick);
        Checks.notShorterThanTick("requestHeaderTimeout", requestHeaderTimeout, tick);
        Checks.notShorterThanTick("requestBodyTimeout", requestBodyTimeout, tick);
    }

    @Override
    public String toString() {
        return "http(keepAliveTimeout=" + keepAliveTimeout + ", requestHeaderTimeout=" + requestHeaderTimeout
                + ", requestBodyTimeout=" + requestBodyTimeout + ", maxRequestsPerConnection=" + maxRequests + ")";
    }
}
