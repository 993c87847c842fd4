package io.github.idlereaper;

/**
 * The settings of one channel whose timeouts or heartbeat were overridden
 * ({@link IdleReaper#overrideTimeouts}, {@link IdleReaper#overrideHeartbeat}). The channel's handler refers to one
 * of these in place of the shared {@link ReaperCore}, so an override costs no field in the handler and nothing at
 * all on channels without one.
 *
 * <p>Only what was overridden is fixed: a channel whose heartbeat was overridden keeps following the reaper's
 * timeouts through {@link IdleReaper#updateTimeouts}, and the reverse. Its settings are derived again, once, when
 * the reaper's change. Immutable apart from that cache; a new override replaces it. Thread-safe.
 */
final class ChannelOverride {
    final ReaperCore core;
    /** The channel's own timeouts, or null to follow the reaper's. */
    final IdleTimeouts timeouts;
    /** The channel's own heartbeat, or null to follow the reaper's. */
    final Heartbeat heartbeat;
    /** The settings derived from the reaper's current ones, or null before the first look. */
    private volatile Settings derived;

    ChannelOverride(ReaperCore core, IdleTimeouts timeouts, Heartbeat heartbeat) {
        this.core = core;
        this.timeouts = timeouts;
        this.heartbeat = heartbeat;
    }

    /** This channel's settings: its overrides over the reaper's current settings. */
    Settings settings() {
        Settings base = core.settings();
        Settings d = derived;
        if (d == null || d.base != base) {
            d = core.settingsFor(timeouts != null ? timeouts : base.timeouts,
                    heartbeat != null ? heartbeat : base.heartbeat, base);
            derived = d;
        }
        return d;
    }
}
