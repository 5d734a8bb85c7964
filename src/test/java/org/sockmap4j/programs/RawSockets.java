package org.sockmap4j.programs;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.Arrays;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * Test-side libc socket calls the JDK cannot make: {@code socketpair}, {@code connect(AF_UNSPEC)},
 * {@code send}/{@code recv} with flags (MSG_PEEK, MSG_DONTWAIT), {@code ioctl(FIONREAD)},
 * {@code shutdown}, {@code poll} and {@code close} on raw fds. Every call returns its result or
 * {@code -errno} (captured with {@code captureCallState("errno")}); none throws for a kernel error.
 */
final class RawSockets {
    private RawSockets() {}

    static final int AF_UNSPEC = 0;
    static final int AF_UNIX = 1;
    static final int SOCK_STREAM = 1;
    static final int SOCK_DGRAM = 2;
    static final int SOCK_CLOEXEC = 0x80000;
    static final int MSG_PEEK = 0x2;
    static final int MSG_DONTWAIT = 0x40;
    static final int MSG_NOSIGNAL = 0x4000;
    static final int SHUT_RD = 0;
    static final int SHUT_WR = 1;
    static final long FIONREAD = 0x541B;
    static final short POLLIN = 0x1;
    static final short POLLHUP = 0x10;

    static final int EAGAIN = 11;
    static final int EACCES = 13;
    static final int EPIPE = 32;
    static final int ECONNRESET = 104;
    static final int ENOTCONN = 107;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

    @SuppressWarnings("restricted") // tests run with --enable-native-access
    private static MethodHandle handle(String name, FunctionDescriptor fd, Linker.Option... options) {
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), fd, options);
    }

    private static final MethodHandle SOCKETPAIR = handle("socketpair",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS), CAPTURE_ERRNO);
    private static final MethodHandle CONNECT = handle("connect",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT), CAPTURE_ERRNO);
    private static final MethodHandle SEND = handle("send",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT), CAPTURE_ERRNO);
    private static final MethodHandle RECV = handle("recv",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT), CAPTURE_ERRNO);
    private static final MethodHandle IOCTL = handle("ioctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS), Linker.Option.firstVariadicArg(2),
            CAPTURE_ERRNO);
    private static final MethodHandle SHUTDOWN = handle("shutdown",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), CAPTURE_ERRNO);
    private static final MethodHandle POLL = handle("poll",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT), CAPTURE_ERRNO);
    private static final MethodHandle CLOSE = handle("close",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT), CAPTURE_ERRNO);

    private static long ret(MemorySegment capture, long r) {
        return r < 0 ? -(int) ERRNO.get(capture, 0L) : r;
    }

    private static AssertionError broken(Throwable t) {
        return new AssertionError("libc downcall failed", t);
    }

    /** {@code socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0)}: the two fds; throws on failure. */
    static int[] socketpair(int type) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment c = a.allocate(CAPTURE);
            MemorySegment sv = a.allocate(JAVA_INT, 2);
            long r = ret(c, (int) SOCKETPAIR.invokeExact(c, AF_UNIX, type | SOCK_CLOEXEC, 0, sv));
            if (r < 0) {
                throw new AssertionError("socketpair failed: errno " + -r);
            }
            return new int[] {sv.getAtIndex(JAVA_INT, 0), sv.getAtIndex(JAVA_INT, 1)};
        } catch (AssertionError e) {
            throw e;
        } catch (Throwable t) {
            throw broken(t);
        }
    }

    /** {@code connect(fd, {AF_UNSPEC}, sizeof(struct sockaddr))}: dissolves the association. 0 or -errno. */
    static int disconnect(int fd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment c = a.allocate(CAPTURE);
            MemorySegment sa = a.allocate(16, 8); // struct sockaddr, zeroed: sa_family = AF_UNSPEC
            return (int) ret(c, (int) CONNECT.invokeExact(c, fd, sa, 16));
        } catch (Throwable t) {
            throw broken(t);
        }
    }

    /** {@code send(fd, data, flags | MSG_NOSIGNAL)}: bytes sent or -errno. */
    static long send(int fd, byte[] data, int flags) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment c = a.allocate(CAPTURE);
            MemorySegment buf = a.allocate(Math.max(1, data.length));
            MemorySegment.copy(data, 0, buf, JAVA_BYTE, 0, data.length);
            return ret(c, (long) SEND.invokeExact(c, fd, buf, (long) data.length, flags | MSG_NOSIGNAL));
        } catch (Throwable t) {
            throw broken(t);
        }
    }

    /** What one {@code recv} returned: the bytes (n >= 0) or the errno (n < 0 is -errno). */
    record Received(long n, byte[] data) {
        int errno() {
            return n < 0 ? (int) -n : 0;
        }

        boolean eof() {
            return n == 0;
        }
    }

    /** One {@code recv(fd, buf[max], flags)}. */
    static Received recv(int fd, int max, int flags) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment c = a.allocate(CAPTURE);
            MemorySegment buf = a.allocate(Math.max(1, max));
            long r = ret(c, (long) RECV.invokeExact(c, fd, buf, (long) max, flags));
            byte[] out = r > 0 ? Arrays.copyOf(buf.toArray(JAVA_BYTE), (int) r) : new byte[0];
            return new Received(r, out);
        } catch (Throwable t) {
            throw broken(t);
        }
    }

    /** {@code ioctl(fd, FIONREAD)}: the count, or -errno. */
    static int fionread(int fd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment c = a.allocate(CAPTURE);
            MemorySegment n = a.allocate(JAVA_INT);
            int r = (int) ret(c, (int) IOCTL.invokeExact(c, fd, FIONREAD, n));
            return r < 0 ? r : n.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw broken(t);
        }
    }

    /** {@code shutdown(fd, how)}: 0 or -errno. */
    static int shutdown(int fd, int how) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment c = a.allocate(CAPTURE);
            return (int) ret(c, (int) SHUTDOWN.invokeExact(c, fd, how));
        } catch (Throwable t) {
            throw broken(t);
        }
    }

    /** {@code poll} on one fd: the revents (0 on timeout), or -errno. */
    static int poll(int fd, short events, int timeoutMillis) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment c = a.allocate(CAPTURE);
            MemorySegment p = a.allocate(8, 4); // struct pollfd { int fd; short events; short revents; }
            p.set(JAVA_INT, 0, fd);
            p.set(JAVA_SHORT, 4, events);
            int r = (int) ret(c, (int) POLL.invokeExact(c, p, 1L, timeoutMillis));
            return r < 0 ? r : r == 0 ? 0 : p.get(JAVA_SHORT, 6) & 0xffff;
        } catch (Throwable t) {
            throw broken(t);
        }
    }

    /** {@code close(fd)} if fd >= 0: 0 or -errno. */
    static int close(int fd) {
        if (fd < 0) {
            return 0;
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment c = a.allocate(CAPTURE);
            return (int) ret(c, (int) CLOSE.invokeExact(c, fd));
        } catch (Throwable t) {
            throw broken(t);
        }
    }

    // ---- bounded waits built on the calls above ----

    /** Waits up to {@code millis} for fd to be readable (POLLIN); true if it is. */
    static boolean readable(int fd, int millis) {
        int r = poll(fd, POLLIN, millis);
        return r > 0 && (r & POLLIN) != 0;
    }

    /**
     * Whether bytes (not just EOF or an error, which also make a socket readable) can be read
     * from fd within {@code millis}: poll, then a non-consuming MSG_PEEK.
     */
    static boolean hasData(int fd, int millis) {
        if (!readable(fd, millis)) {
            return false;
        }
        return recv(fd, 1, MSG_PEEK | MSG_DONTWAIT).n() > 0;
    }

    /**
     * Reads exactly {@code n} bytes (stream) with non-blocking recvs, waiting at most
     * {@code millis} in total; returns what arrived (shorter on timeout or EOF).
     */
    static byte[] readExactly(int fd, int n, int millis) {
        byte[] out = new byte[n];
        int got = 0;
        long deadline = System.nanoTime() + millis * 1_000_000L;
        while (got < n) {
            long left = (deadline - System.nanoTime()) / 1_000_000L;
            if (left <= 0) {
                break;
            }
            // poll briefly, then try anyway: a missed wake-up must not look like a stall
            readable(fd, (int) Math.min(left, 100));
            Received r = recv(fd, n - got, MSG_DONTWAIT);
            if (r.n() == 0) {
                break;
            }
            if (r.n() < 0) {
                if (r.errno() == EAGAIN) {
                    continue;
                }
                break;
            }
            System.arraycopy(r.data(), 0, out, got, (int) r.n());
            got += (int) r.n();
        }
        return Arrays.copyOf(out, got);
    }

    /** Everything readable now after waiting up to {@code millis} for the first byte (bounded). */
    static byte[] drain(int fd, int millis) {
        if (!readable(fd, millis)) {
            return new byte[0];
        }
        byte[] out = new byte[0];
        for (int i = 0; i < 1024; i++) {
            Received r = recv(fd, 65536, MSG_DONTWAIT);
            if (r.n() <= 0) {
                break;
            }
            int old = out.length;
            out = Arrays.copyOf(out, old + (int) r.n());
            System.arraycopy(r.data(), 0, out, old, (int) r.n());
        }
        return out;
    }
}
