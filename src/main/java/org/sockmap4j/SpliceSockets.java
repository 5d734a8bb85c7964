package org.sockmap4j;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import org.sockmap4j.internal.unix.Libc;
import org.sockmap4j.internal.unix.SockOpt;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * The socket calls of a {@link Splicer}'s switch and teardown: checking that a socket can be
 * spliced, nudging the verdict, resetting.
 */
final class SpliceSockets {
    private SpliceSockets() {}

    static final int TCP_ESTABLISHED = 1;
    static final int TCP_SYN_SENT = 2;
    static final int TCP_CLOSE = 7;
    static final int TCP_CLOSE_WAIT = 8;

    /**
     * Throws unless {@code fd} is a connected TCP socket (IPv4 or IPv6): ESTABLISHED, or
     * CLOSE_WAIT (its peer has sent everything; the pair is then relayed). Checked before the
     * hand-off touches any data, so a refused socket is left as it was.
     */
    static void checkSpliceable(int fd, String role) {
        checkSpliceable(fd, role, false);
    }

    /**
     * As {@link #checkSpliceable(int, String)}; with {@code connecting}, a socket whose connect is
     * in progress (SYN_SENT) passes too. Returns the TCP state.
     */
    static int checkSpliceable(int fd, String role, boolean connecting) {
        // one getsockopt for the common case: TCP_INFO answers only for a TCP socket (IPv4 or IPv6)
        // and tells its state; the family, type and protocol are asked only to explain a refusal
        int state = tcpState(fd);
        if (state == TCP_ESTABLISHED || state == TCP_CLOSE_WAIT || connecting && state == TCP_SYN_SENT) {
            return state;
        }
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
        if (state != TCP_ESTABLISHED && state != TCP_CLOSE_WAIT) {
            throw new UnsupportedSocketException("splice", what, Errno.EOPNOTSUPP.code(),
                    "the socket must be connected (TCP ESTABLISHED, or CLOSE_WAIT); it is in TCP state " + state
                            + (state == 7 ? " (CLOSE: not connected, or already reset)" : "")
                            + (state == 10 ? " (LISTEN)" : "")
                            + (state == TCP_SYN_SENT ? " (SYN_SENT: connecting; only an upstream may be)" : ""));
        }
        return state;
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

    /**
     * Makes the kernel run the verdict over data already queued on {@code fd}: setting
     * SO_RCVLOWAT (to its current value) calls the socket's data-ready hook, which the psock
     * replaced with its verdict reader.
     */
    static void kick(int fd) {
        long low = SockOpt.getInt(fd, Libc.SO_RCVLOWAT);
        SockOpt.setInt(fd, Libc.SOL_SOCKET, Libc.SO_RCVLOWAT, SockOpt.failed(low) ? 1 : (int) low);
    }

    /** TCP_NODELAY on: what the kernel forwards goes out at once, not held back by Nagle's algorithm. */
    static void noDelay(int fd) {
        SockOpt.setInt(fd, Libc.IPPROTO_TCP, Libc.TCP_NODELAY, 1);
    }

    /**
     * Raises the send buffer of {@code fd} to {@code bytes} (the kernel doubles it) unless it is
     * already that large: SO_SNDBUFFORCE (CAP_NET_ADMIN; above net.core.wmem_max), else
     * SO_SNDBUF only if wmem_max lets it grow the buffer (a value set either way turns send-buffer
     * autotuning off for the socket, so a cap below what autotuning reaches would shrink it).
     */
    static void sendBufferAtLeast(int fd, int bytes) {
        long now = SockOpt.getInt(fd, Libc.SO_SNDBUF);
        if (SockOpt.failed(now) || now >= 2L * bytes) {
            return;
        }
        if (SockOpt.setInt(fd, Libc.SOL_SOCKET, Libc.SO_SNDBUFFORCE, bytes) == 0) {
            return;
        }
        long max = WMEM_MAX;
        if (max > 0 && 2 * Math.min(max, bytes) > now) {
            SockOpt.setInt(fd, Libc.SOL_SOCKET, Libc.SO_SNDBUF, bytes);
        }
    }

    /**
     * Fixes the receive buffer of {@code fd} at {@code bytes} (the kernel doubles it), which also
     * turns receive-buffer autotuning off for it: SO_RCVBUFFORCE (CAP_NET_ADMIN; above
     * net.core.rmem_max), else SO_RCVBUF only if rmem_max lets it reach at least the buffer the
     * socket has now (a lower cap would shrink the window a remote peer can fill).
     */
    static void receiveBuffer(int fd, int bytes) {
        if (SockOpt.setInt(fd, Libc.SOL_SOCKET, Libc.SO_RCVBUFFORCE, bytes) == 0) {
            return;
        }
        long now = SockOpt.getInt(fd, Libc.SO_RCVBUF);
        if (RMEM_MAX > 0 && !SockOpt.failed(now) && 2 * Math.min(RMEM_MAX, bytes) >= now) {
            SockOpt.setInt(fd, Libc.SOL_SOCKET, Libc.SO_RCVBUF, bytes);
        }
    }

    /** TCP_WINDOW_CLAMP (the most the socket will advertise), or -1. */
    static int windowClamp(int fd) {
        long v = SockOpt.getInt(fd, Libc.IPPROTO_TCP, TCP_WINDOW_CLAMP);
        return SockOpt.failed(v) ? -1 : (int) v;
    }

    /**
     * Sets TCP_WINDOW_CLAMP: the window the socket advertises grows no further than this (the
     * kernel raises a value below SOCK_MIN_RCVBUF / 2 to that; a window already advertised is
     * not taken back).
     */
    static void setWindowClamp(int fd, int bytes) {
        SockOpt.setInt(fd, Libc.IPPROTO_TCP, TCP_WINDOW_CLAMP, bytes);
    }

    private static final int TCP_WINDOW_CLAMP = 10;

    /** SO_RCVBUF as the kernel reports it (twice what was set), or 0. */
    static long receiveBufferOf(int fd) {
        long v = SockOpt.getInt(fd, Libc.SO_RCVBUF);
        return SockOpt.failed(v) ? 0 : v;
    }

    private static final long WMEM_MAX = readSysctl("/proc/sys/net/core/wmem_max");
    private static final long RMEM_MAX = readSysctl("/proc/sys/net/core/rmem_max");

    private static long readSysctl(String path) {
        try {
            return Long.parseLong(java.nio.file.Files.readString(java.nio.file.Path.of(path)).strip());
        } catch (java.io.IOException | RuntimeException e) {
            return -1;
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
