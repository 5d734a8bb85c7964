package org.sockmap4j;

import org.sockmap4j.internal.sys.Fd;

/**
 * A socket file descriptor this process owns, received from another process
 * ({@link Sockets#receive}, SCM_RIGHTS) or taken from one ({@link Sockets#takeFrom},
 * {@code pidfd_getfd}, Linux 5.6+). Insert it into a map with {@code map.put(key, socket.fd())}.
 * {@link #close()} closes the fd; it is idempotent.
 */
public final class SocketFd implements AutoCloseable {
    private final Fd fd;

    SocketFd(Fd fd) {
        this.fd = fd;
    }

    /** The fd number, owned by this object. */
    public int fd() {
        return fd.get();
    }

    /** The socket's cookie ({@code SO_COOKIE}). */
    public long cookie() {
        int n = fd.acquire();
        try {
            return Sockets.cookie(n);
        } finally {
            fd.release();
        }
    }

    /** Whether {@link #close()} was called. */
    public boolean isClosed() {
        return fd.isClosed();
    }

    @Override
    public void close() {
        fd.close();
    }

    @Override
    public String toString() {
        return fd.toString();
    }
}
