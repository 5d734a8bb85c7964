package org.sockmap4j.netty;

import java.io.IOException;

import io.netty.channel.unix.Socket;

import org.sockmap4j.BpfException;
import org.sockmap4j.Sockets;

/**
 * A duplicate of a channel's socket fd ({@link Sockets#dup}), owned by a hand-off: it keeps the
 * socket open while Netty closes its own fd, and is closed once the Splicer holds a duplicate of
 * its own. Knows the socket's cookie, so it can tell whether a second duplicate given to the
 * Splicer is still open after the Splicer failed (the Splicer closes the fds it was given if it
 * failed after touching data, and leaves them to the caller if it refused them).
 */
final class SocketDup {
    private final int fd;
    private final long cookie;
    private boolean closed;

    private SocketDup(int fd, long cookie) {
        this.fd = fd;
        this.cookie = cookie;
    }

    /** Duplicates {@code fd}. */
    static SocketDup of(int fd) {
        int d = Sockets.dup(fd);
        try {
            return new SocketDup(d, Sockets.cookie(d));
        } catch (RuntimeException e) {
            close(d);
            throw e;
        }
    }

    /** A further duplicate for the Splicer, which takes ownership of it. */
    int duplicate() {
        return Sockets.dup(fd);
    }

    /**
     * Closes {@code other}, a {@link #duplicate()}, if it is still open: still refers to this
     * socket. Safe because this duplicate keeps the socket alive, so no other socket has its cookie.
     */
    void closeIfOpen(int other) {
        long c;
        try {
            c = Sockets.cookie(other);
        } catch (BpfException e) {
            return; // closed (EBADF), or the number now belongs to something that is not a socket
        }
        if (c == cookie) {
            close(other);
        }
    }

    /** Makes the socket send a reset instead of a FIN when its last fd closes (SO_LINGER 0). */
    synchronized void resetOnClose() {
        if (closed) {
            return;
        }
        try {
            new Socket(fd).setSoLinger(0);
        } catch (IOException e) {
            // the socket is gone already
        }
    }

    /** Closes this duplicate (the socket stays open if another fd refers to it). Idempotent. */
    synchronized void close() {
        if (!closed) {
            closed = true;
            close(fd);
        }
    }

    private static void close(int fd) {
        try {
            new Socket(fd).close();
        } catch (IOException e) {
            // close(2) released the fd anyway
        }
    }

    @Override
    public String toString() {
        return "duplicate fd " + fd + " (cookie " + cookie + ")";
    }
}
