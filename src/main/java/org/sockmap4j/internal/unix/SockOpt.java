package org.sockmap4j.internal.unix;

import java.lang.foreign.MemorySegment;

import org.sockmap4j.internal.sys.Scratch;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** {@code getsockopt} for the integer and u64 options sockmap4j reads. Results or {@code -errno}. */
public final class SockOpt {
    private SockOpt() {}

    /** An int option at SOL_SOCKET, or {@code Long.MIN_VALUE + errno} on error. */
    public static long getInt(int fd, int name) {
        return getInt(fd, Libc.SOL_SOCKET, name);
    }

    /** An int option at {@code level}, or {@code Long.MIN_VALUE + errno} on error. */
    public static long getInt(int fd, int level, int name) {
        MemorySegment m = Scratch.get().misc;
        MemorySegment val = m.asSlice(256, 8);
        MemorySegment len = m.asSlice(264, 4);
        len.set(JAVA_INT, 0, 4);
        int r = Libc.getsockopt(fd, level, name, val, len);
        return r < 0 ? Long.MIN_VALUE - r : val.get(JAVA_INT, 0);
    }

    /** Sets an int option at {@code level}: 0, or {@code -errno} (no allocation: the thread's scratch). */
    public static int setInt(int fd, int level, int name, int value) {
        MemorySegment val = Scratch.get().misc.asSlice(256, 4);
        val.set(JAVA_INT, 0, value);
        return Libc.setsockopt(fd, level, name, val, 4);
    }

    /** True when {@link #getInt} returned an error. */
    public static boolean failed(long v) {
        return v < Integer.MIN_VALUE;
    }

    /** The errno of a failed {@link #getInt}. */
    public static int errno(long v) {
        return (int) (v - Long.MIN_VALUE);
    }

    /**
     * SO_COOKIE (Linux 4.12+): the socket's cookie, or {@code -errno}. Cookies are never 0 and are
     * below 2^63 in practice, so a negative result is always an error.
     */
    public static long cookie(int fd) {
        MemorySegment m = Scratch.get().misc;
        MemorySegment val = m.asSlice(256, 8);
        MemorySegment len = m.asSlice(264, 4);
        len.set(JAVA_INT, 0, 8);
        int r = Libc.getsockopt(fd, Libc.SOL_SOCKET, Libc.SO_COOKIE, val, len);
        return r < 0 ? r : val.get(JAVA_LONG, 0);
    }

    /** SO_LINGER as {onoff, seconds}, or null on error. */
    public static int[] linger(int fd) {
        MemorySegment m = Scratch.get().misc;
        MemorySegment val = m.asSlice(256, 8);
        MemorySegment len = m.asSlice(264, 4);
        len.set(JAVA_INT, 0, 8);
        int r = Libc.getsockopt(fd, Libc.SOL_SOCKET, Libc.SO_LINGER, val, len);
        return r < 0 ? null : new int[] {val.get(JAVA_INT, 0), val.get(JAVA_INT, 4)};
    }
}
