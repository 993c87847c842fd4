package io.github.idlereaper;

import java.io.IOException;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.net.ConnectException;
import java.util.Locale;

/**
 * The kernel's verdict on a peer, read from the exception a socket failed with: by errno where the transport keeps
 * it (Netty's native transports: {@code Errors.NativeIoException#expectedErr()}), else by the C library's text for
 * it, which is all the JDK keeps (NIO). Stateless.
 *
 * <ul>
 *   <li><b>{@code ETIMEDOUT}</b>: keepalive probes went unanswered, or data stayed unacknowledged (TCP_USER_TIMEOUT,
 *       {@code tcp_retries2}), or a receive window stayed shut past TCP_USER_TIMEOUT.</li>
 *   <li><b>{@code EHOSTUNREACH}, {@code ENETUNREACH}</b>: the same timeouts, when the kernel last learned that the
 *       peer's host or network cannot be reached (a neighbour that no longer answers ARP, an ICMP unreachable, a
 *       route that went away): Linux then reports that error instead of ETIMEDOUT.</li>
 *   <li><b>{@code ECONNRESET}</b>: a RST. It is the peer's own close (an abortive close, a crashed process whose
 *       host is still up) unless it answers the reaper's keepalive probes: a host that rebooted has forgotten the
 *       connection and resets it. The handler tells these apart ({@link #RESET}).</li>
 * </ul>
 * A failed connect is never a dead peer.
 */
final class DeadPeerCause {

    /** The verdicts; {@link #NONE} for every other failure. */
    static final int NONE = 0;
    static final int TIMED_OUT = 1;
    static final int HOST_UNREACHABLE = 2;
    static final int NET_UNREACHABLE = 3;
    /** A RST: a dead peer only after keepalive probes (the handler decides). */
    static final int RESET = 4;

    private static final String[] NAMES = {"none", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ECONNRESET"};

    /** How far down a chain of causes to look: codecs wrap the socket's exception once or twice. */
    private static final int MAX_DEPTH = 8;

    /** errno values for ETIMEDOUT, EHOSTUNREACH, ENETUNREACH, ECONNRESET on this platform (Linux, or the BSDs). */
    private static final int[] ERRNO = errnos(System.getProperty("os.name", ""));

    private static final ClassValue<MethodHandle> EXPECTED_ERR = new ClassValue<MethodHandle>() {
        @Override
        protected MethodHandle computeValue(Class<?> type) {
            try {
                return MethodHandles.publicLookup().findVirtual(type, "expectedErr",
                        MethodType.methodType(int.class)).asType(MethodType.methodType(int.class, Throwable.class));
            } catch (ReflectiveOperationException | RuntimeException e) {
                return null;
            }
        }
    };

    private DeadPeerCause() {
    }

    static int[] errnos(String osName) {
        String os = osName.toLowerCase(Locale.ROOT);
        if (os.startsWith("mac") || os.startsWith("darwin") || os.contains("bsd")) {
            return new int[] {60, 65, 51, 54};
        }
        return new int[] {110, 113, 101, 104};
    }

    /** The verdict's errno name, for messages: {@code "EHOSTUNREACH"}. */
    static String name(int verdict) {
        return NAMES[verdict];
    }

    /**
     * The kernel's verdict in {@code cause} or the causes it wraps: one of the constants above. Allocation-free;
     * called once per failure, not per message.
     */
    static int of(Throwable cause) {
        Throwable t = cause;
        for (int depth = 0; t != null && depth < MAX_DEPTH; depth++, t = t.getCause()) {
            if (t instanceof IOException && !(t instanceof ConnectException)) {
                int v = byErrno(t);
                if (v == NONE) {
                    v = byText(t.getMessage());
                }
                if (v != NONE) {
                    return v;
                }
            }
        }
        return NONE;
    }

    /** By the errno a native transport kept, or {@link #NONE}. */
    private static int byErrno(Throwable t) {
        MethodHandle err = EXPECTED_ERR.get(t.getClass());
        if (err == null) {
            return NONE;
        }
        int errno;
        try {
            errno = Math.abs((int) err.invokeExact(t));
        } catch (Throwable e) {
            return NONE;
        }
        for (int i = 0; i < ERRNO.length; i++) {
            if (ERRNO[i] == errno) {
                return i + 1;
            }
        }
        return NONE;
    }

    /**
     * By the C library's text for the errno (glibc and the BSDs), which the JDK and Netty put in their messages:
     * "Connection timed out" (macOS: "Operation timed out"), "No route to host", "Network is unreachable",
     * "Connection reset by peer" (the JDK's sockets: "Connection reset").
     */
    static int byText(String m) {
        if (m == null) {
            return NONE;
        }
        if (m.contains("Connection timed out") || m.contains("Operation timed out")) {
            return TIMED_OUT;
        }
        if (m.contains("No route to host")) {
            return HOST_UNREACHABLE;
        }
        if (m.contains("Network is unreachable")) {
            return NET_UNREACHABLE;
        }
        if (m.contains("Connection reset")) {
            return RESET;
        }
        return NONE;
    }
}
