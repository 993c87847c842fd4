package io.github.idlereaper;

/**
 * The settings of one channel whose timeouts or heartbeat were overridden
 * ({@link IdleReaper#overrideTimeouts}, {@link IdleReaper#overrideHeartbeat}). The channel's handler refers to one
 * of these in place of the shared {@link ReaperCore}, so an override costs no field in the handler and nothing at
 * all on channels without one. Immutable; a new override replaces it.
 */
final class ChannelOverride {
    final ReaperCore core;
    final Settings settings;

    ChannelOverride(ReaperCore core, Settings settings) {
        this.core = core;
        this.settings = settings;
    }
}
