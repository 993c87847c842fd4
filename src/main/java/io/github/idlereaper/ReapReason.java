package io.github.idlereaper;

/**
 * Why the reaper closed a connection. Every close that idle-reaper performs carries exactly one reason, in the
 * {@link ReapEvent}, in the {@link ReapListener} callback and in {@link ReaperStats}.
 */
public enum ReapReason {
    /** No inbound bytes for the read idle timeout. */
    READ_IDLE("read idle"),
    /** No outbound progress (no write by the application and no bytes leaving the socket) for the write idle timeout. */
    WRITE_IDLE("write idle"),
    /** Neither inbound bytes nor outbound progress for the all idle timeout. */
    ALL_IDLE("all idle"),
    /**
     * Flushed bytes waited in the outbound buffer with no flush progress for the write-stall timeout: the peer
     * stopped reading.
     */
    WRITE_STALL("write stall");

    private final String label;

    ReapReason(String label) {
        this.label = label;
    }

    /** A short lower-case label for log lines, for example {@code "read idle"}. */
    public String label() {
        return label;
    }
}
