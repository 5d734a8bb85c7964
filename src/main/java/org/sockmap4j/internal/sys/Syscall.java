package org.sockmap4j.internal.sys;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The raw {@code syscall(2)} entry point of libc, declared variadic as it is in C, with
 * {@code errno} captured into per-call memory (so it is thread-safe and survives the JVM's own
 * libc calls). Every argument is passed as a 64-bit value: glibc reads each variadic argument as
 * a {@code long}, so narrower values would leave the register's upper half undefined.
 *
 * <p>Calls return the kernel's result or {@code -errno}, never throw: the public layer turns
 * failures into typed exceptions, and the success path allocates nothing.
 */
public final class Syscall {
    /** x86_64 and aarch64 numbers; see {@link #NR_BPF}. */
    public static final long NR_BPF = arch(321, 280);
    public static final long NR_PIDFD_OPEN = 434;   // same on x86_64 and aarch64 (generic table)
    public static final long NR_PIDFD_GETFD = 438;

    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    private static final MethodHandle SYSCALL4;
    private static final MethodHandle SYSCALL4_ADDR;

    static {
        Linker linker = Linker.nativeLinker();
        MemorySegment fn = linker.defaultLookup().find("syscall").orElseThrow();
        Linker.Option errno = Linker.Option.captureCallState("errno");
        SYSCALL4 = linker.downcallHandle(fn,
                FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG),
                Linker.Option.firstVariadicArg(1), errno);
        SYSCALL4_ADDR = linker.downcallHandle(fn,
                FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_LONG),
                Linker.Option.firstVariadicArg(1), errno);
    }

    private Syscall() {}

    private static long arch(long x8664, long aarch64) {
        String a = System.getProperty("os.arch");
        return switch (a) {
            case "amd64", "x86_64" -> x8664;
            case "aarch64", "arm64" -> aarch64;
            default -> -1;
        };
    }

    /** Size of the memory to pass as {@code capture} to the calls below. */
    public static long captureSize() {
        return CAPTURE.byteSize();
    }

    /** Reads the errno captured by the last call that used {@code capture}. */
    public static int errno(MemorySegment capture) {
        return (int) ERRNO.get(capture, 0L);
    }

    /** {@code syscall(nr, a, ptr, b)}: returns the result, or {@code -errno}. */
    public static long call(MemorySegment capture, long nr, long a, MemorySegment ptr, long b) {
        try {
            long r = (long) SYSCALL4_ADDR.invokeExact(capture, nr, a, ptr, b);
            return r < 0 ? -errno(capture) : r;
        } catch (Throwable t) {
            throw new AssertionError("syscall downcall failed", t);
        }
    }

    /** {@code syscall(nr, a, b, c)} with scalar arguments: returns the result, or {@code -errno}. */
    public static long call(MemorySegment capture, long nr, long a, long b, long c) {
        try {
            long r = (long) SYSCALL4.invokeExact(capture, nr, a, b, c);
            return r < 0 ? -errno(capture) : r;
        } catch (Throwable t) {
            throw new AssertionError("syscall downcall failed", t);
        }
    }
}
