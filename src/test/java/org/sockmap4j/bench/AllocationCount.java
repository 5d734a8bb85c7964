package org.sockmap4j.bench;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;

import org.sockmap4j.UpdateFlag;

/**
 * Bytes the Java heap gave this thread over many map operations in steady state, counted by the
 * JVM ({@code com.sun.management.ThreadMXBean.getCurrentThreadAllocatedBytes}), per map kind: put,
 * cookie lookup, replace and remove of one socket, {@value #CYCLES} times each, round after round
 * until a round allocates nothing (at most {@value #MAX_ROUNDS}): until C2 has compiled the path,
 * every call allocates about 40 B (all three kinds with {@code -XX:TieredStopAtLevel=1}, C1 only),
 * short-lived objects that C2's escape analysis removes. Exact where JMH's gc
 * profiler only gives a per-op average that includes its own bookkeeping. Run by
 * {@code scripts/bench-ops.sh} (root: BPF maps); prints one line per map kind with every round's
 * bytes.
 */
public final class AllocationCount {
    private AllocationCount() {}

    private static final int CYCLES = 200_000;
    private static final int MAX_ROUNDS = 10;

    public static void main(String[] args) throws Exception {
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        threads.setThreadAllocatedMemoryEnabled(true);
        for (String kind : List.of(Fixture.SOCKMAP, Fixture.SOCKHASH_U32, Fixture.SOCKHASH_TUPLE)) {
            try (Fixture f = new Fixture(kind)) {
                long sink = 0;
                List<Long> rounds = new ArrayList<>();
                long bytes;
                do { // until the JIT has compiled the path (C2's escape analysis): steady state
                    long before = threads.getCurrentThreadAllocatedBytes();
                    sink += cycles(f);
                    bytes = threads.getCurrentThreadAllocatedBytes() - before;
                    rounds.add(bytes);
                } while (bytes != 0 && rounds.size() < MAX_ROUNDS);
                System.out.printf("allocated: %-15s %d B over %,d calls (put, lookup, replace, remove x %,d) in round %d;"
                        + " bytes per round: %s%s%n", kind, bytes, 4L * CYCLES, CYCLES, rounds.size(), rounds,
                        sink == 42 ? " " : "");
            }
        }
    }

    /** CYCLES times put, cookie, replace, remove; returns the cookies' sum (kept alive by the caller). */
    private static long cycles(Fixture f) {
        long sum = 0;
        for (int i = 0; i < CYCLES; i++) {
            f.put(UpdateFlag.NOEXIST);
            sum += f.cookie();
            f.put(UpdateFlag.EXIST);
            f.remove();
        }
        return sum;
    }
}
