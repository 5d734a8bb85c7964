package org.sockmap4j.internal.unix;

import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnknownHostException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * Reads a socket's own and peer address ({@code getsockname}/{@code getpeername}) as the kernel
 * sees them: the family as a number (an IPv6 socket talking to an IPv4 peer is still AF_INET6),
 * the raw 4 or 16 address bytes and the port.
 */
public final class SockAddr {
    /** The family (AF_INET, AF_INET6, AF_UNIX...), raw address bytes (IP) or path (UNIX), port. */
    public record Raw(int family, byte[] ip, int port, String path) {
        /** As a Java socket address; v4-mapped IPv6 addresses become IPv4 ones, as the JDK reports them. */
        public SocketAddress toSocketAddress() {
            try {
                return switch (family) {
                    case Libc.AF_INET, Libc.AF_INET6 -> new InetSocketAddress(InetAddress.getByAddress(ip), port);
                    case Libc.AF_UNIX -> UnixDomainSocketAddress.of(path);
                    default -> null;
                };
            } catch (UnknownHostException e) {
                throw new AssertionError(e);
            }
        }
    }

    private SockAddr() {}

    /** getsockname of {@code fd}, or null with the errno in {@code err[0]} when it fails. */
    public static Raw local(int fd) {
        return read(fd, false);
    }

    /** getpeername of {@code fd}, or null when not connected (or on any other error). */
    public static Raw peer(int fd) {
        return read(fd, true);
    }

    private static Raw read(int fd, boolean peer) {
        MemorySegment m = org.sockmap4j.internal.sys.Scratch.get().misc;
        MemorySegment addr = m.asSlice(0, 128);
        MemorySegment len = m.asSlice(128, 4);
        addr.fill((byte) 0);
        len.set(JAVA_INT, 0, 128);
        int r = peer ? Libc.getpeername(fd, addr, len) : Libc.getsockname(fd, addr, len);
        if (r < 0) {
            return null;
        }
        int n = len.get(JAVA_INT, 0);
        int family = Short.toUnsignedInt(addr.get(JAVA_SHORT, 0));
        return switch (family) {
            case Libc.AF_INET -> new Raw(family, bytes(addr, 4, 4), port(addr), null);
            case Libc.AF_INET6 -> new Raw(family, bytes(addr, 8, 16), port(addr), null);
            case Libc.AF_UNIX -> new Raw(family, null, 0, unixPath(addr, n));
            default -> new Raw(family, null, 0, null);
        };
    }

    private static int port(MemorySegment addr) {
        int hi = Byte.toUnsignedInt(addr.get(JAVA_BYTE, 2));
        int lo = Byte.toUnsignedInt(addr.get(JAVA_BYTE, 3));
        return hi << 8 | lo;
    }

    private static byte[] bytes(MemorySegment addr, long off, int n) {
        byte[] b = new byte[n];
        MemorySegment.copy(addr, JAVA_BYTE, off, b, 0, n);
        return b;
    }

    private static String unixPath(MemorySegment addr, int len) {
        int n = Math.max(0, Math.min(len, 110) - 2);
        byte[] b = bytes(addr, 2, n);
        if (n > 0 && b[0] == 0) {
            return "@" + new String(b, 1, n - 1, StandardCharsets.UTF_8); // abstract namespace
        }
        int end = 0;
        while (end < n && b[end] != 0) {
            end++;
        }
        return new String(b, 0, end, StandardCharsets.UTF_8);
    }

    static boolean littleEndian() {
        return ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;
    }
}
