package org.sockmap4j.reliability;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/** Test-side libc calls the JDK does not offer: {@code umask(2)}, and {@code rmdir(2)} with its errno. */
final class Posix {
    private Posix() {}

    static final int EBUSY = 16;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final MethodHandle UMASK = LINKER.downcallHandle(LINKER.defaultLookup().find("umask").orElseThrow(),
            FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle RMDIR = LINKER.downcallHandle(LINKER.defaultLookup().find("rmdir").orElseThrow(),
            FunctionDescriptor.of(JAVA_INT, ADDRESS), Linker.Option.captureCallState("errno"));

    /** Sets the process's umask (every thread's); returns the previous one. */
    static int umask(int mask) {
        try {
            return (int) UMASK.invokeExact(mask);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code rmdir(path)}: 0 or -errno. */
    static int rmdir(Path path) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = arena.allocate(CAPTURE);
            int r = (int) RMDIR.invokeExact(capture, arena.allocateFrom(path.toString()));
            return r < 0 ? -(int) ERRNO.get(capture, 0L) : r;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }
}
