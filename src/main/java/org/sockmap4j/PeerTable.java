package org.sockmap4j;

import org.sockmap4j.internal.sys.Bpf;
import org.sockmap4j.internal.sys.Fd;
import org.sockmap4j.internal.sys.Scratch;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The splice program's {@code peers} hash map: socket cookie -> {partner's cookie, bytes
 * received on this side and sent out of the other}.
 */
final class PeerTable implements AutoCloseable {
    private final Fd fd;

    PeerTable(Fd fd) {
        this.fd = fd;
    }

    void put(long cookie, long peer) {
        Scratch s = Scratch.get();
        s.key.set(JAVA_LONG, 0, cookie);
        s.value.set(JAVA_LONG, 0, peer);
        s.value.set(JAVA_LONG, 8, 0L);
        int mapFd = fd.acquire();
        long r;
        try {
            r = Bpf.mapUpdate(s, mapFd, 0);
        } finally {
            fd.release();
        }
        if (r < 0) {
            throw Errors.of("BPF_MAP_UPDATE_ELEM", "splice peers (cookie " + cookie + ")", (int) -r, Errors.Op.GENERIC);
        }
    }

    /** Bytes counted for {@code cookie}, or -1 if it has no entry. */
    long bytes(long cookie) {
        Scratch s = Scratch.get();
        s.key.set(JAVA_LONG, 0, cookie);
        int mapFd = fd.acquire();
        long r;
        try {
            r = Bpf.mapLookup(s, mapFd);
        } finally {
            fd.release();
        }
        return r < 0 ? -1 : s.value.get(JAVA_LONG, 8);
    }

    void delete(long cookie) {
        Scratch s = Scratch.get();
        s.key.set(JAVA_LONG, 0, cookie);
        int mapFd = fd.acquire();
        try {
            Bpf.mapDelete(s, mapFd);
        } finally {
            fd.release();
        }
    }

    @Override
    public void close() {
        fd.close();
    }
}
