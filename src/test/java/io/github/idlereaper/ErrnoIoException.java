package io.github.idlereaper;

import java.io.IOException;

/**
 * An IOException that keeps its errno the way Netty's native transports do ({@code Errors.NativeIoException}:
 * a public {@code expectedErr()}, negative), with a message that names no error, so that a test proves the errno is
 * read, not the text.
 */
public final class ErrnoIoException extends IOException {

    private static final long serialVersionUID = 1L;

    private final int expectedErr;

    public ErrnoIoException(int errno) {
        super("syscall(..) failed: (message text withheld)");
        this.expectedErr = -errno;
    }

    public int expectedErr() {
        return expectedErr;
    }
}
