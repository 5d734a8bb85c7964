package org.sockmap4j;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * Test-only raw socket calls, made with downcall handles of its own rather than the library's
 * {@code Libc}/{@code SockOpt}, so that tests can check what the library says about an fd
 * independently: {@code getsockopt}, {@code recv(MSG_PEEK)} and the socket tables in
 * {@code /proc/net}.
 */
@SuppressWarnings("restricted")
public final class SocketProbe {
    private SocketProbe() {}

    public static final int SOL_SOCKET = 1;
    public static final int SO_REUSEADDR = 2;
    public static final int SO_TYPE = 3;
    public static final int SO_RCVBUF = 8;
    public static final int SO_ACCEPTCONN = 30;
    public static final int SO_DOMAIN = 39;
    private static final int MSG_PEEK = 0x2;
    private static final int MSG_DONTWAIT = 0x40;
    private static final int EAGAIN = 11;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");
    private static final MethodHandle GETSOCKOPT = LINKER.downcallHandle(
            LINKER.defaultLookup().find("getsockopt").orElseThrow(),
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS), CAPTURE_ERRNO);
    private static final MethodHandle RECV = LINKER.downcallHandle(
            LINKER.defaultLookup().find("recv").orElseThrow(),
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT), CAPTURE_ERRNO);

    private static final MethodHandle SENDMSG = LINKER.downcallHandle(
            LINKER.defaultLookup().find("sendmsg").orElseThrow(),
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT), CAPTURE_ERRNO);

    /**
     * Sends one byte with all of {@code fds} in a single SCM_RIGHTS message over the connected
     * UNIX socket {@code via} (x86_64/aarch64 layouts of msghdr and cmsghdr).
     */
    public static void sendFds(int via, int... fds) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = arena.allocate(CAPTURE);
            MemorySegment data = arena.allocate(1);
            data.set(java.lang.foreign.ValueLayout.JAVA_BYTE, 0, (byte) 'M');
            MemorySegment iov = arena.allocate(16, 8);
            iov.set(ADDRESS, 0, data);
            iov.set(JAVA_LONG, 8, 1L);
            long cmsgLen = 16 + 4L * fds.length;
            long space = (cmsgLen + 7) & ~7L;
            MemorySegment control = arena.allocate(space, 8);
            control.set(JAVA_LONG, 0, cmsgLen);
            control.set(JAVA_INT, 8, SOL_SOCKET);
            control.set(JAVA_INT, 12, 1); // SCM_RIGHTS
            for (int i = 0; i < fds.length; i++) {
                control.set(JAVA_INT, 16 + 4L * i, fds[i]);
            }
            MemorySegment msg = arena.allocate(56, 8);
            msg.set(ADDRESS, 16, iov);
            msg.set(JAVA_LONG, 24, 1L);
            msg.set(ADDRESS, 32, control);
            msg.set(JAVA_LONG, 40, space);
            long n = (long) SENDMSG.invokeExact(capture, via, msg, 0);
            if (n != 1) {
                throw new AssertionError("sendmsg(" + via + "): " + n + ", errno " + (int) ERRNO.get(capture, 0L));
            }
        } catch (Error | RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** An int socket option at SOL_SOCKET; throws AssertionError with the errno on failure. */
    public static int intOption(int fd, int name) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = arena.allocate(CAPTURE);
            MemorySegment val = arena.allocate(JAVA_INT);
            MemorySegment len = arena.allocate(JAVA_INT);
            len.set(JAVA_INT, 0, 4);
            int r = (int) GETSOCKOPT.invokeExact(capture, fd, SOL_SOCKET, name, val, len);
            if (r < 0) {
                throw new AssertionError("getsockopt(" + fd + ", " + name + "): errno " + (int) ERRNO.get(capture, 0L));
            }
            return val.get(JAVA_INT, 0);
        } catch (Error | RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * Up to {@code max} bytes waiting on {@code fd}, read with {@code MSG_PEEK|MSG_DONTWAIT} so
     * they stay queued; an empty array if none are there (EAGAIN).
     */
    public static byte[] peek(int fd, int max) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = arena.allocate(CAPTURE);
            MemorySegment buf = arena.allocate(max);
            long n = (long) RECV.invokeExact(capture, fd, buf, (long) max, MSG_PEEK | MSG_DONTWAIT);
            if (n < 0) {
                int errno = (int) ERRNO.get(capture, 0L);
                if (errno == EAGAIN) {
                    return new byte[0];
                }
                throw new AssertionError("recv(" + fd + ", MSG_PEEK): errno " + errno);
            }
            return buf.asSlice(0, n).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
        } catch (Error | RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Peeks until at least {@code expected} bytes are queued on {@code fd} (5 s at most). */
    public static byte[] peekAtLeast(int fd, int expected) throws InterruptedException {
        long deadline = System.nanoTime() + 5_000_000_000L;
        byte[] got;
        while ((got = peek(fd, 256)).length < expected && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        return got;
    }

    /** The inode of the socket {@code fd} refers to, from {@code /proc/self/fd}; -1 if not a socket. */
    public static long inode(int fd) {
        try {
            String target = Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString();
            return target.startsWith("socket:[") ? Long.parseLong(target.substring(8, target.length() - 1)) : -1;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A row of {@code /proc/net/{tcp,tcp6,udp,udp6}}: local port, remote port, state (hex as in the file). */
    public record InetRow(String table, int localPort, int remotePort, String state) {}

    /** The row of the socket with this inode in the IPv4/IPv6 TCP and UDP tables. */
    public static Optional<InetRow> inetRow(long inode) {
        for (String table : List.of("tcp", "tcp6", "udp", "udp6")) {
            for (String line : lines("/proc/net/" + table)) {
                String[] f = line.trim().split("\\s+");
                if (f.length > 9 && f[9].equals(Long.toString(inode))) {
                    return Optional.of(new InetRow(table, port(f[1]), port(f[2]), f[3]));
                }
            }
        }
        return Optional.empty();
    }

    /** A row of {@code /proc/net/unix}: flags (hex), type, state, path ("" if none). */
    public record UnixRow(int flags, int type, int state, String path) {}

    /** The row of the UNIX socket with this inode. */
    public static Optional<UnixRow> unixRow(long inode) {
        for (String line : lines("/proc/net/unix")) {
            String[] f = line.trim().split("\\s+");
            if (f.length > 6 && f[6].equals(Long.toString(inode))) {
                return Optional.of(new UnixRow(Integer.parseInt(f[3], 16), Integer.parseInt(f[4], 16),
                        Integer.parseInt(f[5], 16), f.length > 7 ? f[7] : ""));
            }
        }
        return Optional.empty();
    }

    private static int port(String hexAddr) {
        return Integer.parseInt(hexAddr.substring(hexAddr.indexOf(':') + 1), 16);
    }

    private static List<String> lines(String file) {
        try {
            List<String> all = Files.readAllLines(Path.of(file));
            return all.subList(1, all.size());
        } catch (IOException e) {
            return List.of();
        }
    }
}
