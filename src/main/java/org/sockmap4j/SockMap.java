package org.sockmap4j;

import java.nio.channels.NetworkChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.sockmap4j.internal.sys.Bpf;
import org.sockmap4j.internal.sys.Fd;
import org.sockmap4j.internal.sys.Scratch;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A {@code BPF_MAP_TYPE_SOCKMAP} (Linux 4.14+): an array of socket references indexed by a u32
 * from 0 to {@code maxEntries - 1}. Every index always "exists" for iteration; an index holding
 * no socket answers ENOENT to lookups. Use the {@code int} overloads on hot paths: they neither
 * box nor allocate.
 *
 * <pre>{@code
 * try (SockMap map = SockMap.create(2);
 *      SocketChannel a = ..., b = ...) {
 *     map.put(0, a);
 *     map.put(1, b);
 *     long cookie = map.cookie(0);
 * }
 * }</pre>
 */
public final class SockMap extends SocketMap<Integer> {
    private static final int TYPE = MapType.SOCKMAP.value();

    private SockMap(Fd fd, String name, int valueSize, int maxEntries) {
        super(fd, "sockmap", name, 4, valueSize, maxEntries);
    }

    /** A new unnamed SOCKMAP with {@code maxEntries} slots and 8-byte values. */
    public static SockMap create(int maxEntries) {
        return builder().maxEntries(maxEntries).create();
    }

    /** A builder for a new SOCKMAP. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Opens the SOCKMAP pinned at {@code path} on bpffs ({@code BPF_OBJ_GET}).
     *
     * @throws IllegalArgumentException if the object pinned there is not a SOCKMAP
     */
    public static SockMap openPinned(Path path) {
        int[] sizes = new int[3];
        String[] name = new String[1];
        Fd fd = openPinned(path, MapType.SOCKMAP, sizes, name);
        return new SockMap(fd, name[0], sizes[1], sizes[2]);
    }

    /** Wraps an fd of a map loaded from an object (type already checked). */
    static SockMap wrap(Fd fd, String name, int valueSize, int maxEntries) {
        return new SockMap(fd, name, valueSize, maxEntries);
    }

    /** Builds a {@link SockMap}. */
    public static final class Builder {
        private int maxEntries = 1;
        private int valueSize = 8;
        private String name = "";

        private Builder() {}

        /** Number of slots (default 1). */
        public Builder maxEntries(int maxEntries) {
            this.maxEntries = maxEntries;
            return this;
        }

        /** 8 (default: lookups return socket cookies, Linux 5.7+ for lookups) or 4. */
        public Builder valueSize(int valueSize) {
            this.valueSize = valueSize;
            return this;
        }

        /** The map's name as {@code bpftool} shows it: up to 15 ASCII letters, digits, '_' or '.'. */
        public Builder name(String name) {
            this.name = checkName("SockMap.Builder.name", name);
            return this;
        }

        /** Creates the map ({@code BPF_MAP_CREATE}). */
        public SockMap create() {
            checkSizes("SockMap.Builder.create", describe("sockmap", name), valueSize, maxEntries);
            SockMap m = new SockMap(SocketMap.create("sockmap", TYPE, 4, valueSize, maxEntries, name), name, valueSize,
                    maxEntries);
            return m.createdEmpty(m);
        }
    }

    @Override
    void encodeKey(Scratch s, Integer key) {
        s.key.set(JAVA_INT, 0, key);
    }

    @Override
    Integer decodeNextKey(Scratch s) {
        return s.nextKey.get(JAVA_INT, 0);
    }

    @Override
    boolean emptyOnDelete(int errno) {
        return errno == Errno.EINVAL.code() || errno == Errno.ENOENT.code();
    }

    // ---- primitive overloads: no boxing ----

    /** Inserts or replaces the socket {@code socketFd} at {@code index}. */
    public void put(int index, int socketFd) {
        put(index, socketFd, UpdateFlag.ANY);
    }

    /** As {@link SocketMap#put(Object, int, UpdateFlag)}, without boxing. */
    public void put(int index, int socketFd, UpdateFlag flag) {
        Scratch s = Scratch.get();
        int mapFd = fd.acquire();
        long r;
        try {
            s.key.set(JAVA_INT, 0, index);
            r = update(s, mapFd, socketFd, flag);
        } finally {
            fd.release();
        }
        if (r < 0) {
            throw Errors.of("BPF_MAP_UPDATE_ELEM", describe() + " (index " + index + ", socket fd " + socketFd + ")",
                    (int) -r, Errors.Op.INSERT);
        }
    }

    /** Inserts or replaces the socket of a JDK channel at {@code index}. */
    public void put(int index, NetworkChannel socket) {
        put(index, socket, UpdateFlag.ANY);
    }

    /** As {@link SocketMap#put(Object, NetworkChannel, UpdateFlag)}, without boxing. */
    public void put(int index, NetworkChannel socket, UpdateFlag flag) {
        fd.get();
        put(index, socketFd(socket, index), flag);
    }

    /** Removes the socket at {@code index}; see {@link SocketMap#delete}. */
    public void delete(int index) {
        Scratch s = Scratch.get();
        int mapFd = fd.acquire();
        long r;
        try {
            s.key.set(JAVA_INT, 0, index);
            r = Bpf.mapDelete(s, mapFd);
        } finally {
            fd.release();
        }
        if (r < 0) {
            throw Errors.of("BPF_MAP_DELETE_ELEM", describe() + " (index " + index + ")", (int) -r,
                    Errors.Op.DELETE);
        }
    }

    /** The cookie of the socket at {@code index}; see {@link SocketMap#cookie}. */
    public long cookie(int index) {
        Scratch s = Scratch.get();
        int mapFd = fd.acquire();
        long r;
        try {
            s.key.set(JAVA_INT, 0, index);
            r = Bpf.mapLookup(s, mapFd);
        } finally {
            fd.release();
        }
        if (r < 0) {
            throw Errors.of("BPF_MAP_LOOKUP_ELEM", describe() + " (index " + index + ")", (int) -r,
                    Errors.Op.LOOKUP);
        }
        return s.value.get(JAVA_LONG, 0);
    }

    /**
     * One lookup per slot (a SOCKMAP has no cheaper test). With 4-byte values the kernel answers
     * every lookup with ENOSPC, so such a map cannot be checked and counts as empty.
     */
    @Override
    boolean isEmpty() {
        Scratch s = Scratch.get();
        int mapFd = fd.acquire();
        try {
            for (int i = 0; i < maxEntries; i++) {
                s.key.set(JAVA_INT, 0, i);
                long r = Bpf.mapLookup(s, mapFd);
                if (r >= 0) {
                    return false;
                }
                if (r == -Errno.ENOSPC.code()) {
                    return true;
                }
            }
            return true;
        } finally {
            fd.release();
        }
    }

    /**
     * The indexes that hold a socket. The kernel's GET_NEXT_KEY walks every index of a SOCKMAP,
     * empty or not, so each is looked up; this needs a value size of 8.
     */
    @Override
    public List<Integer> keys() {
        List<Integer> out = new ArrayList<>();
        for (Integer i : walkKeys()) {
            if (containsKey(i)) {
                out.add(i);
            }
        }
        return out;
    }
}
