package org.sockmap4j.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import org.sockmap4j.UpdateFlag;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The library's map calls against the same C libbpf loops run inside this JVM
 * ({@code src/test/c/bench_loop.c}, one downcall per loop of {@value #CALLS} calls): lookup,
 * replace and put+remove per map kind, {@code ROUNDS} rounds, Java and C one right after the
 * other (order alternating by round). Both sides run in one process, on one thread, against one
 * map and socket, so the ratio is the cost of the Java layer alone; the standalone C baseline of
 * the main table also differs from any JVM in its process (threads, address space). First, the
 * floor: a raw FFM downcall of {@code getppid(2)} per call against the same in C, what any Java
 * caller of a system call pays on this host (x86-64 system call number). Run by
 * {@code scripts/bench-ops.sh} (root: BPF maps). Arguments: the loops' shared library, ROUNDS.
 */
public final class SameProcess {
    private SameProcess() {}

    private static final int CALLS = 100_000;
    /** getppid's system call number on x86-64. */
    private static final long SYS_GETPPID = 110;

    private interface Loop {
        void run() throws Throwable;
    }

    public static void main(String[] args) throws Throwable {
        int rounds = Integer.parseInt(args[1]);
        try (Arena arena = Arena.ofConfined()) {
            SymbolLookup lib = SymbolLookup.libraryLookup(Path.of(args[0]), arena);
            Linker linker = Linker.nativeLinker();
            MethodHandle lookup = linker.downcallHandle(lib.find("sm4j_lookup_loop").orElseThrow(),
                    FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG));
            MethodHandle replace = linker.downcallHandle(lib.find("sm4j_replace_loop").orElseThrow(),
                    FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG));
            MethodHandle putRemove = linker.downcallHandle(lib.find("sm4j_put_remove_loop").orElseThrow(),
                    FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG));
            // the floor: a raw FFM downcall of syscall(SYS_getppid) per call against the C loop
            MethodHandle getppid = linker.downcallHandle(linker.defaultLookup().find("syscall").orElseThrow(),
                    FunctionDescriptor.of(JAVA_LONG, JAVA_LONG), Linker.Option.firstVariadicArg(1));
            MethodHandle getppidLoop = linker.downcallHandle(lib.find("sm4j_getppid_loop").orElseThrow(),
                    FunctionDescriptor.of(JAVA_INT, JAVA_LONG));
            compare("getppid (raw FFM, floor)", rounds, () -> {
                for (int i = 0; i < CALLS; i++) {
                    if ((long) getppid.invokeExact(SYS_GETPPID) < 0) {
                        throw new IllegalStateException("getppid failed");
                    }
                }
            }, () -> check((int) getppidLoop.invokeExact((long) CALLS)));
            for (String kind : List.of(Fixture.SOCKMAP, Fixture.SOCKHASH_U32, Fixture.SOCKHASH_TUPLE)) {
                try (Fixture f = new Fixture(kind)) {
                    MemorySegment key = f.key(arena);
                    int map = f.mapFd();
                    f.put(UpdateFlag.ANY);
                    compare("lookup/" + kind, rounds, () -> {
                        long sum = 0;
                        for (int i = 0; i < CALLS; i++) {
                            sum += f.cookie();
                        }
                        if (sum == 42) {
                            System.out.print("");
                        }
                    }, () -> check((int) lookup.invokeExact(map, key, (long) CALLS)));
                    compare("replace/" + kind, rounds, () -> {
                        for (int i = 0; i < CALLS; i++) {
                            f.put(UpdateFlag.EXIST);
                        }
                    }, () -> check((int) replace.invokeExact(map, key, f.fd, (long) CALLS)));
                    f.remove();
                    compare("putRemove/" + kind, rounds, () -> {
                        for (int i = 0; i < CALLS; i++) {
                            f.put(UpdateFlag.NOEXIST);
                            f.remove();
                        }
                    }, () -> check((int) putRemove.invokeExact(map, key, f.fd, (long) CALLS)));
                }
            }
        }
    }

    private static void check(int rc) {
        if (rc != 0) {
            throw new IllegalStateException("C loop failed: errno " + -rc);
        }
    }

    /** Warms both up for three rounds, then prints the medians and the median of the paired ratios. */
    private static void compare(String name, int rounds, Loop java, Loop c) throws Throwable {
        for (int i = 0; i < 3; i++) {
            time(java);
            time(c);
        }
        double[] javaNs = new double[rounds];
        double[] cNs = new double[rounds];
        double[] ratio = new double[rounds];
        for (int r = 0; r < rounds; r++) {
            if (r % 2 == 0) {
                cNs[r] = time(c);
                javaNs[r] = time(java);
            } else {
                javaNs[r] = time(java);
                cNs[r] = time(c);
            }
            ratio[r] = javaNs[r] / cNs[r];
        }
        double[] sorted = ratio.clone();
        Arrays.sort(sorted);
        System.out.printf("same process: %-26s Java %8.1f ns   C in this JVM %8.1f ns   ratio %.2f (%.2f-%.2f)%n",
                name, median(javaNs), median(cNs), median(ratio), sorted[0], sorted[rounds - 1]);
    }

    private static double time(Loop loop) throws Throwable {
        long t0 = System.nanoTime();
        loop.run();
        return (System.nanoTime() - t0) / (double) CALLS;
    }

    private static double median(double[] values) {
        double[] v = values.clone();
        Arrays.sort(v);
        int n = v.length;
        return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    }
}
