package org.sockmap4j;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;

import org.sockmap4j.internal.sys.Bpf;
import org.sockmap4j.internal.sys.Fd;
import org.sockmap4j.internal.sys.Scratch;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The per-CPU counters ({@code BPF_MAP_TYPE_PERCPU_ARRAY} of u64, Linux 4.6+) that the bundled
 * programs keep: messages and bytes passed, dropped and redirected. Reading sums every CPU's
 * slot. Owns one map fd.
 */
public final class Counters implements AutoCloseable {
    /** Slot numbers, as in {@code bpf/sockmap4j.h}. */
    static final int PASS_MSGS = 0;
    static final int PASS_BYTES = 1;
    static final int DROP_MSGS = 2;
    static final int DROP_BYTES = 3;
    static final int REDIRECT_MSGS = 4;
    static final int REDIRECT_BYTES = 5;

    private static final int CPUS = possibleCpus();

    /** One reading of all counters, summed over CPUs. */
    public record Snapshot(long passedMessages, long passedBytes, long droppedMessages, long droppedBytes,
            long redirectedMessages, long redirectedBytes) {}

    private final Fd fd;
    private final String name;
    private final int slots;

    Counters(Fd fd, String name, int slots, int valueSize) {
        if (valueSize != 8) {
            fd.close();
            throw new IllegalArgumentException("counters map '" + name + "' must have 8-byte values, has " + valueSize);
        }
        this.fd = fd;
        this.name = name;
        this.slots = slots;
    }

    private static int possibleCpus() {
        try { // e.g. "0-1" or "0,2-5"
            String s = Files.readString(Path.of("/sys/devices/system/cpu/possible")).strip();
            int max = 0;
            for (String part : s.split(",")) {
                String[] r = part.split("-");
                max = Math.max(max, Integer.parseInt(r[r.length - 1]));
            }
            return max + 1;
        } catch (IOException | RuntimeException e) {
            return Runtime.getRuntime().availableProcessors();
        }
    }

    /** The sum over CPUs of slot {@code slot}. */
    public long get(int slot) {
        if (slot < 0 || slot >= slots) {
            throw new IndexOutOfBoundsException("slot " + slot + " of " + slots);
        }
        Scratch s = Scratch.get();
        int mapFd = fd.acquire();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment values = arena.allocate(8L * CPUS, 8);
            s.key.set(JAVA_INT, 0, slot);
            MemorySegment a = s.attr();
            org.sockmap4j.internal.gen.bpf.bpf_attr.map_fd(a, mapFd);
            org.sockmap4j.internal.gen.bpf.bpf_attr.key(a, s.key.address());
            org.sockmap4j.internal.gen.bpf.bpf_attr.value(a, values.address());
            long r = Bpf.lookupRaw(s);
            if (r < 0) {
                throw Errors.of("BPF_MAP_LOOKUP_ELEM", "counters '" + name + "' (slot " + slot + ")", (int) -r,
                        Errors.Op.LOOKUP);
            }
            long sum = 0;
            for (int cpu = 0; cpu < CPUS; cpu++) {
                sum += values.getAtIndex(JAVA_LONG, cpu);
            }
            return sum;
        } finally {
            fd.release();
        }
    }

    /** All six counters at once. */
    public Snapshot snapshot() {
        return new Snapshot(get(PASS_MSGS), get(PASS_BYTES), get(DROP_MSGS), get(DROP_BYTES), get(REDIRECT_MSGS),
                get(REDIRECT_BYTES));
    }

    @Override
    public void close() {
        fd.close();
    }

    @Override
    public String toString() {
        return "counters '" + name + "'" + (fd.isClosed() ? " (closed)" : "");
    }
}
