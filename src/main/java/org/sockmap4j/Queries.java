package org.sockmap4j;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import org.sockmap4j.internal.sys.Bpf;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/** {@code BPF_PROG_QUERY}: which programs are attached to a map or cgroup. */
final class Queries {
    private Queries() {}

    static List<Integer> progIds(int targetFd, AttachType type, String what) {
        return progIds(targetFd, type, what, false);
    }

    /** As above; {@code socketMap} turns EINVAL on a kernel without PROG_QUERY on maps into NotSupported. */
    static List<Integer> progIds(int targetFd, AttachType type, String what, boolean socketMap) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ids = arena.allocate(JAVA_INT, 64);
            long r = Bpf.progQuery(targetFd, type.value(), 0, ids);
            if (r < 0) {
                if (socketMap && r == -Errno.EINVAL.code()) {
                    NotSupportedException ns = KernelFeatures.lacking(KernelFeatures.Feature.PROG_QUERY_SOCKMAP,
                            "BPF_PROG_QUERY " + what, (int) -r);
                    if (ns != null) {
                        throw ns;
                    }
                }
                throw Errors.of("BPF_PROG_QUERY", what + " (" + type + ")", (int) -r, Errors.Op.ATTACH);
            }
            int n = Math.min(Bpf.queryCount(), 64);
            List<Integer> out = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                out.add(ids.getAtIndex(JAVA_INT, i));
            }
            return out;
        }
    }
}
