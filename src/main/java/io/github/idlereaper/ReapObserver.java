package io.github.idlereaper;

/**
 * Hears of every reap (dry runs included) and every close of a reaper's channels, on the channel's event loop, after
 * the counters: what {@link IdleReaperMetrics} records its distributions from. No Micrometer type appears here, so
 * the core never loads Micrometer unless a binder is made. An observer must be quick; one that throws is logged and
 * skipped.
 */
interface ReapObserver {

    /** A reap, or a dry run's decision ({@link ReapEvent#dryRun()}). */
    void reaped(ReapEvent event);

    /**
     * A channel closed (or left the reaper) after {@code lifetimeNanos} open. Only for channels registered while an
     * observer was there: the open time is kept from then on.
     */
    void closed(long lifetimeNanos);
}
