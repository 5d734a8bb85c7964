package org.sockmap4j;

import org.sockmap4j.internal.sys.Bpf;
import org.sockmap4j.internal.sys.Fd;
import org.sockmap4j.internal.sys.Scratch;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * A {@code BPF_MAP_TYPE_ARRAY} (Linux 3.19+) of u32 values indexed by u32, as BPF programs use for
 * settings user space changes at run time (e.g. the redirect target of the bundled
 * {@code redirect} object). Owns one map fd; reads and writes allocate nothing.
 */
public final class U32Array implements AutoCloseable {
    private final Fd fd;
    private final String name;

    U32Array(Fd fd, String name) {
        this.fd = fd;
        this.name = name;
    }

    /** Sets element {@code index} ({@code BPF_MAP_UPDATE_ELEM}, BPF_ANY). */
    public void set(int index, int value) {
        Scratch s = Scratch.get();
        s.key.set(JAVA_INT, 0, index);
        s.value.set(JAVA_INT, 0, value);
        int mapFd = fd.acquire();
        long r;
        try {
            r = Bpf.mapUpdate(s, mapFd, 0);
        } finally {
            fd.release();
        }
        if (r < 0) {
            throw Errors.of("BPF_MAP_UPDATE_ELEM", "array '" + name + "' (index " + index + ")", (int) -r,
                    Errors.Op.GENERIC);
        }
    }

    /** Element {@code index} ({@code BPF_MAP_LOOKUP_ELEM}). */
    public int get(int index) {
        Scratch s = Scratch.get();
        s.key.set(JAVA_INT, 0, index);
        int mapFd = fd.acquire();
        long r;
        try {
            r = Bpf.mapLookup(s, mapFd);
        } finally {
            fd.release();
        }
        if (r < 0) {
            throw Errors.of("BPF_MAP_LOOKUP_ELEM", "array '" + name + "' (index " + index + ")", (int) -r,
                    Errors.Op.LOOKUP);
        }
        return s.value.get(JAVA_INT, 0);
    }

    @Override
    public void close() {
        fd.close();
    }

    @Override
    public String toString() {
        return "array '" + name + "'" + (fd.isClosed() ? " (closed)" : "");
    }
}
