package org.sockmap4j.internal.unix;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import org.sockmap4j.internal.sys.Scratch;
import org.sockmap4j.internal.sys.Syscall;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The few libc socket and fd calls sockmap4j needs, as {@code static final} downcall handles with
 * errno captured per call. Each returns the result or {@code -errno}; none throws for a kernel
 * error. Memory arguments live in the caller's {@link Scratch}.
 */
public final class Libc {
    private Libc() {}

    public static final int SOL_SOCKET = 1;
    public static final int SO_TYPE = 3;
    public static final int SO_ERROR = 4;
    public static final int SO_REUSEADDR = 2;
    public static final int SO_LINGER = 13;
    public static final int SO_SNDBUF = 7;
    public static final int SO_SNDBUFFORCE = 32;
    public static final int SO_RCVBUF = 8;
    public static final int SO_RCVBUFFORCE = 33;
    public static final int SO_ACCEPTCONN = 30;
    public static final int SO_PROTOCOL = 38;
    public static final int SO_DOMAIN = 39;
    public static final int SO_COOKIE = 57;
    public static final int SCM_RIGHTS = 1;
    public static final int AF_UNIX = 1;
    public static final int AF_INET = 2;
    public static final int AF_INET6 = 10;
    public static final int AF_VSOCK = 40;
    public static final int SOCK_STREAM = 1;
    public static final int SOCK_DGRAM = 2;
    public static final int SOCK_SEQPACKET = 5;
    public static final int SOCK_CLOEXEC = 0x80000;
    public static final int F_DUPFD_CLOEXEC = 1030;
    public static final int MSG_CMSG_CLOEXEC = 0x40000000;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final Linker.Option ERRNO = Linker.Option.captureCallState("errno");

    private static MethodHandle handle(String name, FunctionDescriptor fd, Linker.Option... options) {
        MemorySegment addr = LINKER.defaultLookup().find(name).orElseThrow();
        return LINKER.downcallHandle(addr, fd, options);
    }

    private static final MethodHandle CLOSE = handle("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT), ERRNO);
    private static final MethodHandle FCNTL = handle("fcntl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT), Linker.Option.firstVariadicArg(2), ERRNO);
    private static final MethodHandle GETSOCKOPT = handle("getsockopt",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS), ERRNO);
    private static final MethodHandle SETSOCKOPT = handle("setsockopt",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT), ERRNO);
    private static final MethodHandle GETSOCKNAME = handle("getsockname",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS), ERRNO);
    private static final MethodHandle GETPEERNAME = handle("getpeername",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS), ERRNO);
    private static final MethodHandle OPEN = handle("open",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), Linker.Option.firstVariadicArg(2), ERRNO);
    private static final MethodHandle BIND = handle("bind",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT), ERRNO);
    private static final MethodHandle CONNECT = handle("connect",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT), ERRNO);
    private static final MethodHandle LISTEN = handle("listen",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), ERRNO);
    private static final MethodHandle ACCEPT4 = handle("accept4",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT), ERRNO);
    private static final MethodHandle SOCKET = handle("socket",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT), ERRNO);
    private static final MethodHandle READ = handle("read",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG), ERRNO);
    private static final MethodHandle RECV = handle("recv",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT), ERRNO);
    private static final MethodHandle SEND = handle("send",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT), ERRNO);
    private static final MethodHandle SHUTDOWN = handle("shutdown",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), ERRNO);
    private static final MethodHandle POLL = handle("poll",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT), ERRNO);
    private static final MethodHandle IOCTL = handle("ioctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS), Linker.Option.firstVariadicArg(2), ERRNO);
    private static final MethodHandle SOCKETPAIR = handle("socketpair",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS), ERRNO);
    private static final MethodHandle SENDMSG = handle("sendmsg",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT), ERRNO);
    private static final MethodHandle RECVMSG = handle("recvmsg",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT), ERRNO);

    private static int ret(MemorySegment capture, int r) {
        return r < 0 ? -Syscall.errno(capture) : r;
    }

    private static AssertionError broken(Throwable t) {
        return new AssertionError("libc downcall failed", t);
    }

    private static final MethodHandle MALLOC = handle("malloc", FunctionDescriptor.of(ADDRESS, JAVA_LONG));
    private static final MethodHandle FREE = handle("free", FunctionDescriptor.ofVoid(ADDRESS));

    /**
     * {@code malloc(size)} as a segment of {@code size} bytes, or throws {@link OutOfMemoryError}.
     * For native memory whose owner frees it at a known point from any thread ({@link #free}):
     * closing a shared {@code Arena} instead costs a handshake with every Java thread.
     */
    public static MemorySegment malloc(long size) {
        try {
            MemorySegment m = (MemorySegment) MALLOC.invokeExact(Math.max(1L, size));
            if (m.equals(MemorySegment.NULL)) {
                throw new OutOfMemoryError("malloc(" + size + ") failed");
            }
            return m.reinterpret(size);
        } catch (OutOfMemoryError e) {
            throw e;
        } catch (Throwable t) {
            throw broken(t);
        }
    }

    /** {@code free(m)} of memory from {@link #malloc}; the segment must not be used afterwards. */
    public static void free(MemorySegment m) {
        try {
            FREE.invokeExact(m);
        } catch (Throwable t) {
            throw broken(t);
        }
    }

    public static int close(int fd) {
        MemorySegment c = Scratch.get().capture;
        try {
            return ret(c, (int) CLOSE.invokeExact(c, fd));
        } catch (Throwable t) {
            throw broken(t);
        }
    }

    public static final int O_RDONLY = 0;
    public static final int O_DIRECTORY = 0x10000;
    public static final int O_CLOEXEC = 0x80000;

    /** open(path, flags, 0); {@code path} is NUL-terminated. */
    public static int open(MemorySegment path, int flags) {
        MemorySegment c = Scratch.get().capture;
        try {
            return ret(c, (int) OPEN.invokeExact(c, path, flags, 0));
        } catch (Throwable t) {
            throw broken(t);
        }
    }

    public static int fcntl(int fd, int cmd, int arg) {
        MemorySegment c = Scratch.get().capture;
        try {
            return ret(c, (int) FCNTL.invokeExact(c, fd, cmd, arg));
        } catch (Throwable t) {
            throw broken(t);
        }
    }

    /** getsockopt into {@code val}; {@code len} holds the socklen_t in/out. */
    public static int getsockopt(int fd, int level, int name, MemorySegment val, MemorySegment len) {
        MemorySegment c = Scratch.get().capture;
        try {
            return ret(c, (int) GETSOCKOPT.invokeExact(c, fd, level, name, val, len));
        } catch (Throwable t) {
            throw broken(t);
        }
    }

    public static int setsockopt(int fd, int level, int name, MemorySegment val, int len) {
        MemorySegment c = Scratch.get().capture;
        try {
            return ret(c, (int) SETSOCKOPT.invokeExact(c, fd, level, name, val, len));
        } catch (Throwable t) {
            throw broken(t);
        }
    }

    public static int getsockname(int fd, MemorySegment addr, MemorySegment len) {
        MemorySegment c = Scratch.get().capture;
        try {
            return ret(c, (int) GETSOCKNAME.invokeExact(c, fd, addr, len));
        } catch (Throwable t) {
            throw broken(t);
        }
    }

    public static int getpeername(int fd, MemorySegment addr, MemorySegment len) {
        MemorySegment c = Scratch.get().capture;
        try {
            return ret(c, (int) GETPEERNAME.invokeExact(c, fd, addr, len));
        } catch (Throwable t) {
            throw broken(t);
        }
    }

    /** bind(fd, addr, addr.byteSize()): 0 or -errno. */
    public static int bind(int fd, MemorySegment addr) {
        MemorySegment c = Scratch.get().capture;
        try {
            return ret(c, (int) BIND.invokeExact(c, fd, addr, (int) addr.byteSize()));
        } catch (Throwable t) {
            throw broken(t);
        }
    }

    /** connect(fd, addr, addr.byteSize()): 0 or -errno. */
    public static int connect(int fd, MemorySegment addr) {
        MemorySegment c = Scratch.get().capture;
        try {
            return ret(c, (int) CONNECT.invokeExact(c, fd, addr, (int) addr.byteSize()));
        } catch (Throwable t) {
            throw broken(t);
        }
    }

    /** listen(fd, backlog): 0 or -errno. */
    public static int listen(int fd, int backlog) {
        MemorySegment c = Scratch.get().capture;
        try {
            return ret(c, (int) LISTEN.invokeExact(c, fd, backlog));
        } catch (Throwable t) {
            throw broken(t);
        }
    }

    /** accept4(fd, NULL, NULL, flags): the new fd or -errno. */
    public static int accept4(int fd, int flags) {
        MemorySegment c = Scratch.get().capture;
        try {
            return ret(c, (int) ACCEPT4.invokeExact(c, fd, MemorySegment.NULL, MemorySegment.NULL, flags));
        } catch (Throwable t) {
            throw broken(t);
        }
    }

    public static int socket(int domain, int type, int protocol) {
        MemorySegment c = Scratch.get().capture;
        try {
            return ret(c, (int) SOCKET.invokeExact(c, domain, type, protocol));
        } catch (Throwable t) {
            throw broken(t);
        }
    }

    /** read(fd, buf, buf.byteSize()): bytes read or -errno. */
    public static long read(int fd, MemorySegment buf) {
        MemorySegment c = Scratch.get().capture;
        try {
            long r = (long) READ.invokeExact(c, fd, buf, buf.byteSize());
            return r < 0 ? -Syscall.errno(c) : r;
        } catch (Throwable t) {
            throw broken(t);
        }
    }

    public static final int MSG_DONTWAIT = 0x40;
    public static final int MSG_NOSIGNAL = 0x4000;
    public static final int SHUT_WR = 1;
    public static final int SHUT_RDWR = 2;
    public static final int SO_RCVLOWAT = 18;
    public static final short POLLOUT = 0x004;

    /** recv(fd, buf, buf.byteSize(), flags): bytes or -errno. */
    public static long recv(int fd, MemorySegment buf, int flags) {
        MemorySegment c = Scratch.get().capture;
        try {
            long r = (long) RECV.invokeExact(c, fd, buf, buf.byteSize(), flags);
            return r < 0 ? -Syscall.errno(c) : r;
        } catch (Throwable t) {
            throw broken(t);
        }
    }

    /** send(fd, buf, buf.byteSize(), flags): bytes or -errno. */
    public static long send(int fd, MemorySegment buf, int flags) {
        MemorySegment c = Scratch.get().capture;
        try {
            long r = (long) SEND.invokeExact(c, fd, buf, buf.byteSize(), flags);
            return r < 0 ? -Syscall.errno(c) : r;
        } catch (Throwable t) {
            throw broken(t);
        }
    }

    public static int shutdown(int fd, int how) {
        MemorySegment c = Scratch.get().capture;
        try {
            return ret(c, (int) SHUTDOWN.invokeExact(c, fd, how));
        } catch (Throwable t) {
            throw broken(t);
        }
    }

    /** poll on one pollfd {@code {int fd; short events; short revents}} in {@code pfd}. */
    public static int poll(MemorySegment pfd, int timeoutMs) {
        MemorySegment c = Scratch.get().capture;
        try {
            return ret(c, (int) POLL.invokeExact(c, pfd, 1L, timeoutMs));
        } catch (Throwable t) {
            throw broken(t);
        }
    }

    public static final long SIOCOUTQ = 0x5411;
    public static final long FIONREAD = 0x541B;
    public static final int IPPROTO_TCP = 6;
    public static final int TCP_INFO = 11;
    public static final int TCP_NODELAY = 1;

    /** ioctl(fd, request, arg): for the int-returning socket requests (SIOCOUTQ, FIONREAD). */
    public static int ioctl(int fd, long request, MemorySegment arg) {
        MemorySegment c = Scratch.get().capture;
        try {
            return ret(c, (int) IOCTL.invokeExact(c, fd, request, arg));
        } catch (Throwable t) {
            throw broken(t);
        }
    }

    /** socketpair into {@code fds} (two ints). */
    public static int socketpair(int domain, int type, int protocol, MemorySegment fds) {
        MemorySegment c = Scratch.get().capture;
        try {
            return ret(c, (int) SOCKETPAIR.invokeExact(c, domain, type, protocol, fds));
        } catch (Throwable t) {
            throw broken(t);
        }
    }

    public static long sendmsg(int fd, MemorySegment msghdr, int flags) {
        MemorySegment c = Scratch.get().capture;
        try {
            long r = (long) SENDMSG.invokeExact(c, fd, msghdr, flags);
            return r < 0 ? -Syscall.errno(c) : r;
        } catch (Throwable t) {
            throw broken(t);
        }
    }

    public static long recvmsg(int fd, MemorySegment msghdr, int flags) {
        MemorySegment c = Scratch.get().capture;
        try {
            long r = (long) RECVMSG.invokeExact(c, fd, msghdr, flags);
            return r < 0 ? -Syscall.errno(c) : r;
        } catch (Throwable t) {
            throw broken(t);
        }
    }
}
