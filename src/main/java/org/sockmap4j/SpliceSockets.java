package org.sockmap4j;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

import org.sockmap4j.internal.unix.Libc;
import org.sockmap4j.internal.unix.SockOpt;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * The socket calls of a {@link Splicer}'s hand-off and teardown: checking that a socket can be
 * spliced, writing bytes fully, draining a receive queue to a segment boundary, nudging the
 * verdict, resetting.
 */
final class SpliceSockets {
    private SpliceSockets() {}

    static final int TCP_ESTABLISHED = 1;
    static final int TCP_CLOSE = 7;
    static final int TCP_CLOSE_WAIT = 8;
    private static final int BUF = 256 * 1024;

    /**
     * Throws unless {@code fd} is a connected TCP socket (IPv4 or IPv6): ESTABLISHED, or
     * CLOSE_WAIT (its peer has sent everything; the pair is then relayed). Checked before the
     * hand-off touches any data, so a refused socket is left as it was.
     */
    static void checkSpliceable(int fd, String role) {
        String what = role + " fd " + fd;
        long domain = SockOpt.getInt(fd, Libc.SO_DOMAIN);
        if (SockOpt.failed(domain)) {
            throw Errors.of("getsockopt(SO_DOMAIN)", what, SockOpt.errno(domain), Errors.Op.SOCKET);
        }
        long type = SockOpt.getInt(fd, Libc.SO_TYPE);
        long proto = SockOpt.getInt(fd, Libc.SO_PROTOCOL);
        if ((domain != Libc.AF_INET && domain != Libc.AF_INET6) || type != Libc.SOCK_STREAM
                || proto != Libc.IPPROTO_TCP) {
            throw new UnsupportedSocketException("splice", what, Errno.EOPNOTSUPP.code(),
                    "a Splicer splices TCP sockets (IPv4 or IPv6) only; this one is domain " + domain + ", type "
                            + type + ", protocol " + proto);
        }
        int state = tcpState(fd);
        if (state != TCP_ESTABLISHED && state != TCP_CLOSE_WAIT) {
            throw new UnsupportedSocketException("splice", what, Errno.EOPNOTSUPP.code(),
                    "the socket must be connected (TCP ESTABLISHED, or CLOSE_WAIT); it is in TCP state " + state
                            + (state == 7 ? " (CLOSE: not connected, or already reset)" : "")
                            + (state == 10 ? " (LISTEN)" : ""));
        }
    }

    /** tcpi_state (the first byte of struct tcp_info), or -1. */
    static int tcpState(int fd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment info = a.allocate(8);
            MemorySegment len = a.allocate(JAVA_INT);
            len.set(JAVA_INT, 0, 8);
            if (Libc.getsockopt(fd, Libc.IPPROTO_TCP, Libc.TCP_INFO, info, len) < 0) {
                return -1;
            }
            return info.get(JAVA_BYTE, 0) & 0xff;
        }
    }

    /** Writes {@code b} fully to {@code fd}, waiting for room until {@code deadline} (nanoTime). */
    static void writeAll(int fd, ByteBuffer b, long deadline, String what) {
        if (b == null || !b.hasRemaining()) {
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(b.remaining());
            MemorySegment.copy(MemorySegment.ofBuffer(b), 0, seg, 0, b.remaining());
            writeAll(fd, seg, deadline, what, arena);
            b.position(b.limit());
        }
    }

    /** Writes {@code seg} fully to {@code fd}, waiting for room until {@code deadline} (nanoTime). */
    static void writeAll(int fd, MemorySegment seg, long deadline, String what) {
        try (Arena arena = Arena.ofConfined()) {
            writeAll(fd, seg, deadline, what, arena);
        }
    }

    private static void writeAll(int fd, MemorySegment seg, long deadline, String what, Arena arena) {
        long off = 0;
        while (off < seg.byteSize()) {
            long n = Libc.send(fd, seg.asSlice(off), Libc.MSG_NOSIGNAL | Libc.MSG_DONTWAIT);
            if (n == -Errno.EAGAIN.code()) {
                if (System.nanoTime() > deadline) {
                    throw new BpfException("send", what, Errno.ETIMEDOUT.code(),
                            "the receiving side took no data for too long during the hand-off");
                }
                waitWritable(fd, arena);
            } else if (n == -Errno.EINTR.code()) {
                continue;
            } else if (n < 0) {
                throw Errors.of("send", what, (int) -n, Errors.Op.SOCKET);
            } else {
                off += n;
            }
        }
    }

    /**
     * Waits a little for room on {@code fd}. A virtual thread parks instead of blocking in
     * {@code poll(2)}: a native call pins its carrier, and with every carrier pinned no other
     * virtual thread (a proxy's acceptor, the peer that should read) can run.
     */
    private static void waitWritable(int fd, Arena arena) {
        MemorySegment pfd = arena.allocate(8, 4);
        pfd.set(JAVA_INT, 0, fd);
        pfd.set(JAVA_SHORT, 4, Libc.POLLOUT);
        if (Thread.currentThread().isVirtual()) {
            if (Libc.poll(pfd, 0) == 0) {
                java.util.concurrent.locks.LockSupport.parkNanos(200_000);
            }
        } else {
            Libc.poll(pfd, 100);
        }
    }

    /**
     * Makes the kernel run the verdict over data already queued on {@code fd}: setting
     * SO_RCVLOWAT (to its current value) calls the socket's data-ready hook, which the psock
     * replaced with its verdict reader.
     */
    static void kick(int fd) {
        long low = SockOpt.getInt(fd, Libc.SO_RCVLOWAT);
        int v = SockOpt.failed(low) ? 1 : (int) low;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment val = a.allocate(JAVA_INT);
            val.set(JAVA_INT, 0, v);
            Libc.setsockopt(fd, Libc.SOL_SOCKET, Libc.SO_RCVLOWAT, val, 4);
        }
    }

    /** TCP_NODELAY on: what the kernel forwards goes out at once, not held back by Nagle's algorithm. */
    static void noDelay(int fd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment one = a.allocate(JAVA_INT);
            one.set(JAVA_INT, 0, 1);
            Libc.setsockopt(fd, Libc.IPPROTO_TCP, Libc.TCP_NODELAY, one, 4);
        }
    }

    /** Makes close() send RST: SO_LINGER {on, 0 s}. */
    static void reset(int fd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment l = a.allocate(8, 4);
            l.set(JAVA_INT, 0, 1);
            l.set(JAVA_INT, 4, 0);
            Libc.setsockopt(fd, Libc.SOL_SOCKET, Libc.SO_LINGER, l, 8);
        }
    }

    /** SO_ERROR (reading clears it), 0 if none. */
    static int pendingError(int fd) {
        long e = SockOpt.getInt(fd, Libc.SO_ERROR);
        return SockOpt.failed(e) ? SockOpt.errno(e) : (int) e;
    }
}
