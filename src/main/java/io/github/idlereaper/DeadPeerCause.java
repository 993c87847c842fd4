package io.github.idlereaper;

import java.io.IOException;
import java.net.ConnectException;

/**
 * Tells the kernel giving up on a peer apart from every other failure: ETIMEDOUT on an established connection,
 * after unanswered keepalive probes or unacknowledged data (TCP_USER_TIMEOUT, tcp_retries2). Stateless.
 */
final class DeadPeerCause {

    /** How far down a chain of causes to look: codecs wrap the socket's exception once or twice. */
    private static final int MAX_DEPTH = 8;

    private DeadPeerCause() {
    }

    /**
     * Whether {@code cause} is the kernel giving up on the peer. NIO reports it as an {@link IOException}
     * "Connection timed out", the native transports as "...(..) failed: Connection timed out" (Linux) or
     * "Operation timed out" (BSD, macOS), possibly wrapped. A failed connect is not a dead peer.
     */
    static boolean isDeadPeer(Throwable cause) {
        Throwable t = cause;
        for (int depth = 0; t != null && depth < MAX_DEPTH; depth++, t = t.getCause()) {
            if (t instanceof IOException && !(t instanceof ConnectException)) {
                String m = t.getMessage();
                if (m != null && (m.contains("Connection timed out") || m.contains("Operation timed out"))) {
                    return true;
                }
            }
        }
        return false;
    }
}
