package org.sockmap4j;

import java.nio.channels.NetworkChannel;
import java.nio.channels.SocketChannel;
import java.util.Objects;

import org.sockmap4j.internal.sys.Fd;
import org.sockmap4j.internal.unix.ChannelFds;
import org.sockmap4j.internal.unix.FdPassing;
import org.sockmap4j.internal.unix.Libc;
import org.sockmap4j.internal.unix.SockOpt;

/**
 * Sockets for socket maps: the fd behind a JDK channel, a socket's cookie, and the two ways the
 * SREcon23 talk names to get a socket from another process: fd handover over a UNIX socket with
 * SCM_RIGHTS, and {@code pidfd_getfd} (Linux 5.6+, CAP_SYS_PTRACE).
 *
 * <h2>Finding a channel's fd</h2>
 * The JDK does not expose a channel's fd. By default {@link #fd(NetworkChannel)} finds it
 * without any JVM flag by matching the channel's family, type and addresses against this
 * process's socket fds (a few microseconds per open fd). For a process that inserts many
 * sockets, add {@code --add-exports java.base/sun.nio.ch=org.sockmap4j} (or {@code =ALL-UNNAMED}
 * on the class path) and the fd is read from the JDK directly; {@link #fastFdLookup()} tells
 * which path is in use.
 */
public final class Sockets {
    private Sockets() {}

    /**
     * The fd of a JDK socket channel ({@code SocketChannel}, {@code ServerSocketChannel},
     * {@code DatagramChannel}, INET or UNIX). The fd stays owned by the channel.
     *
     * @throws IllegalArgumentException if the channel is closed or not a JDK socket channel
     */
    public static int fd(NetworkChannel channel) {
        Objects.requireNonNull(channel, "channel");
        return ChannelFds.fdOf(channel);
    }

    /** Whether {@link #fd(NetworkChannel)} reads fds from the JDK directly (see the class comment). */
    public static boolean fastFdLookup() {
        return ChannelFds.fastPathEnabled();
    }

    /**
     * The socket cookie ({@code getsockopt(SO_COOKIE)}, Linux 4.12+) of {@code fd}: a number the
     * kernel gives each socket, unique until reboot; socket map lookups return it.
     */
    public static long cookie(int fd) {
        long r = SockOpt.cookie(fd);
        if (r < 0) {
            throw Errors.of("getsockopt(SO_COOKIE)", "fd " + fd, (int) -r, Errors.Op.SOCKET);
        }
        return r;
    }

    /**
     * Duplicates {@code fd} ({@code fcntl(F_DUPFD_CLOEXEC)}, the lowest free fd from 3 up) and
     * returns the new fd, which is close-on-exec and owned by the caller. Both fds refer to the same
     * open socket: closing one leaves the socket open (no FIN, no reset) as long as the other is
     * open. This is how a socket is taken from a framework that closes its own fd when it lets go of
     * a connection (the Netty adapter in {@code org.sockmap4j.netty} does so); a
     * {@code shutdown(2)} through either fd still affects the socket.
     *
     * @throws BpfException if {@code fd} is not open (errno 9, EBADF) or the process is out of fds
     *     (errno 24, EMFILE)
     */
    public static int dup(int fd) {
        int r = Libc.fcntl(fd, Libc.F_DUPFD_CLOEXEC, 3);
        if (r < 0) {
            throw Errors.of("fcntl(F_DUPFD_CLOEXEC)", "fd " + fd, -r, Errors.Op.GENERIC);
        }
        return r;
    }

    /** The socket cookie of a JDK socket channel. */
    public static long cookie(NetworkChannel channel) {
        return cookie(fd(channel));
    }

    /**
     * Sends the socket {@code fd} to the process at the other end of the connected UNIX stream
     * or dgram channel {@code via} (SCM_RIGHTS, with one byte of payload). The sender keeps its fd.
     */
    public static void send(SocketChannel via, int fd) {
        long r = FdPassing.send(fd(via), fd);
        if (r < 0) {
            throw Errors.of("sendmsg(SCM_RIGHTS)", "fd " + fd + " via " + via, (int) -r, Errors.Op.SOCKET);
        }
    }

    /** Sends the socket of {@code socket} over {@code via}; see {@link #send(SocketChannel, int)}. */
    public static void send(SocketChannel via, NetworkChannel socket) {
        send(via, fd(socket));
    }

    /**
     * Receives one socket sent with SCM_RIGHTS over the connected UNIX channel {@code via}
     * (blocks if the channel is blocking). The new fd is close-on-exec and owned by the result.
     *
     * @throws BpfException with {@link Errno#UNKNOWN} and errno 74 (EBADMSG) if a message came
     *     without an fd, or 104 (ECONNRESET) if the peer closed
     */
    public static SocketFd receive(SocketChannel via) {
        long r = FdPassing.receive(fd(via));
        if (r < 0) {
            throw Errors.of("recvmsg(SCM_RIGHTS)", String.valueOf(via), (int) -r, Errors.Op.SOCKET);
        }
        return new SocketFd(Fd.own((int) r, "socket received over " + via));
    }

    /**
     * Takes a duplicate of fd {@code targetFd} of process {@code pid} ({@code pidfd_open} +
     * {@code pidfd_getfd}, Linux 5.6+; needs CAP_SYS_PTRACE or ptrace rights over that process).
     * The other process keeps its fd; both refer to the same socket.
     */
    public static SocketFd takeFrom(long pid, int targetFd) {
        long pidfd = FdPassing.pidfdOpen(pid);
        if (pidfd < 0) {
            throw Errors.of("pidfd_open", "pid " + pid, (int) -pidfd, Errors.Op.SOCKET);
        }
        try (Fd p = Fd.own((int) pidfd, "pidfd of " + pid)) {
            long r = FdPassing.pidfdGetfd(p.get(), targetFd);
            if (r < 0) {
                throw Errors.of("pidfd_getfd", "fd " + targetFd + " of pid " + pid, (int) -r, Errors.Op.SOCKET);
            }
            return new SocketFd(Fd.own((int) r, "fd " + targetFd + " taken from pid " + pid));
        }
    }
}
