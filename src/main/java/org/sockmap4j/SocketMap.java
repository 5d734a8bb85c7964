package org.sockmap4j;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.NetworkChannel;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;

import org.sockmap4j.internal.sys.ApiCall;
import org.sockmap4j.internal.sys.Bpf;
import org.sockmap4j.internal.sys.Fd;
import org.sockmap4j.internal.sys.ObjInfo;
import org.sockmap4j.internal.sys.Scratch;
import org.sockmap4j.internal.unix.ChannelFds;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A BPF map of socket references, {@link SockMap} ({@code BPF_MAP_TYPE_SOCKMAP}, Linux 4.14+)
 * or {@link SockHash} ({@code BPF_MAP_TYPE_SOCKHASH}, Linux 4.18+). The map holds weak references:
 * a socket leaves the map by itself when it closes. Owns one map fd; {@link #close()} releases it
 * (the kernel frees the map once no fd, pin or program uses it).
 *
 * <p>All operations are thread-safe and, for put, delete and cookie lookups by primitive or
 * pre-built keys, allocation-free. Kernel errors become typed {@link BpfException}s; a closed map
 * throws {@link IllegalStateException} before any system call.
 *
 * <p>Sockets the kernel accepts (Linux 5.15+ for all of them): established or listening TCP,
 * bound UDP (5.7+), connected UNIX stream and UNIX dgram (5.15+), connected VSOCK (6.4+).
 * Attach SK_MSG/SK_SKB programs to the map <em>before</em> inserting sockets: each socket copies
 * the map's programs when it is inserted, so programs attached, updated or detached later affect
 * only sockets inserted later. A socket keeps its programs until it is removed (or closed).
 *
 * <p><b>When connections fail</b> (TCP, as the kernel decides; tested in the project's
 * {@code reliability} tests):
 * <ul>
 * <li>Closing the socket's last fd removes its entry at once, with or without a reset
 *     ({@code SO_LINGER} 0).</li>
 * <li>A socket whose fd stays open keeps its entry (and its programs) after a reset from its
 *     peer, after its peer's FIN, after {@code shutdown} in either direction, and even in
 *     TIME_WAIT, on Linux 6.4+; earlier kernels also removed a socket that reached TCP_CLOSE
 *     (reset, TIME_WAIT). Delete the entry, or close the socket, to remove it.</li>
 * <li>A redirect target whose peer process dies: an SK_MSG sender blocked because the target could
 *     not send gets {@code EPIPE}, and so does every later send while the target is in the map;
 *     once the target is closed (the slot is empty) sends fail with {@code EACCES} (the program's
 *     redirect drops them). An SK_SKB redirect never blocks or tells its sender: what the target
 *     cannot send is dropped. Removing the source socket from the map restores its normal path.</li>
 * </ul>
 *
 * <p>If the handle becomes unreachable without {@link #close()}, a Cleaner closes its fd and logs
 * a WARNING naming the map on the {@code System.Logger} "org.sockmap4j".
 *
 * @param <K> the key type
 */
public abstract sealed class SocketMap<K> implements AutoCloseable permits SockMap, SockHash {
    /** Largest key size this library handles. */
    public static final int MAX_KEY_SIZE = Scratch.BUFFER;

    final Fd fd;
    final String kind;
    final String name;
    final int keySize;
    final int valueSize;
    final int maxEntries;

    SocketMap(Fd fd, String kind, String name, int keySize, int valueSize, int maxEntries) {
        this.fd = fd;
        this.kind = kind;
        this.name = name;
        this.keySize = keySize;
        this.valueSize = valueSize;
        this.maxEntries = maxEntries;
    }

    // ---- key encoding, per subclass ----

    /** Writes {@code key} to the thread's scratch key buffer. */
    abstract void encodeKey(Scratch s, K key);

    /** Reads a key from the thread's scratch next-key buffer. */
    abstract K decodeNextKey(Scratch s);

    // ---- insert ----

    /** Inserts or replaces ({@code BPF_ANY}) the socket {@code socketFd} at {@code key}. */
    public final void put(K key, int socketFd) {
        put(key, socketFd, UpdateFlag.ANY);
    }

    /**
     * Inserts the socket {@code socketFd} at {@code key} ({@code BPF_MAP_UPDATE_ELEM}).
     *
     * @throws UnsupportedSocketException if the kernel does not take this socket (EOPNOTSUPP)
     * @throws KeyExistsException with {@link UpdateFlag#NOEXIST} when the key is taken
     * @throws KeyNotFoundException with {@link UpdateFlag#EXIST} when the key is empty
     * @throws MapFullException when the map is full or a sockmap index is out of range
     * @throws BpfException for any other errno (EBADF: fd not open; EINVAL: fd -1, ...)
     */
    public final void put(K key, int socketFd, UpdateFlag flag) {
        Objects.requireNonNull(key, "key");
        Scratch s = Scratch.get();
        int mapFd = fd.acquire();
        long r;
        try {
            encodeKey(s, key);
            r = update(s, mapFd, socketFd, flag);
        } finally {
            fd.release();
        }
        if (r < 0) {
            throw Errors.of("BPF_MAP_UPDATE_ELEM", describe() + " (key " + key + ", socket fd " + socketFd + ")",
                    (int) -r, Errors.Op.INSERT);
        }
        if (knownEmpty) {
            knownEmpty = false;
        }
    }

    /**
     * Inserts or replaces the socket of a JDK channel: {@code SocketChannel},
     * {@code ServerSocketChannel}, {@code DatagramChannel}, or their UNIX-domain kinds.
     * Finding the channel's fd needs no JVM flag; see {@link Sockets#fd(NetworkChannel)}.
     */
    public final void put(K key, NetworkChannel socket) {
        put(key, socket, UpdateFlag.ANY);
    }

    /** As {@link #put(Object, int, UpdateFlag)} for a JDK channel. */
    public final void put(K key, NetworkChannel socket, UpdateFlag flag) {
        fd.get();
        put(key, socketFd(socket, key), flag);
    }

    /**
     * The fd of a channel to insert at {@code key}.
     *
     * @throws IllegalArgumentException naming this map and the key if the channel is closed or
     *     has no socket fd the library can find
     */
    final int socketFd(NetworkChannel socket, Object key) {
        Objects.requireNonNull(socket, "socket");
        try {
            return ChannelFds.fdOf(socket);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(ApiCall.name() + " on " + describe() + " (key " + key + "): "
                    + e.getMessage() + "; pass an open channel (or its fd from Sockets.fd)", e);
        }
    }

    final long update(Scratch s, int mapFd, int socketFd, UpdateFlag flag) {
        if (valueSize == 8) {
            s.value.set(JAVA_LONG, 0, socketFd); // sign-extended: fd -1 is refused with EINVAL
        } else {
            s.value.set(JAVA_INT, 0, socketFd);
        }
        return Bpf.mapUpdate(s, mapFd, flag.value());
    }

    // ---- delete ----

    /**
     * Removes the entry at {@code key} ({@code BPF_MAP_DELETE_ELEM}).
     *
     * @throws KeyNotFoundException if there is none (SOCKHASH: ENOENT)
     * @throws BpfException with {@link Errno#EINVAL} for an empty SOCKMAP slot or an index out of range
     */
    public final void delete(K key) {
        Objects.requireNonNull(key, "key");
        long r = deleteRaw(key);
        if (r < 0) {
            throw Errors.of("BPF_MAP_DELETE_ELEM", describe() + " (key " + key + ")", (int) -r, Errors.Op.DELETE);
        }
    }

    /** BPF_MAP_DELETE_ELEM of {@code key}: 0 or -errno. */
    private long deleteRaw(K key) {
        Scratch s = Scratch.get();
        int mapFd = fd.acquire();
        try {
            encodeKey(s, key);
            return Bpf.mapDelete(s, mapFd);
        } finally {
            fd.release();
        }
    }

    /** BPF_MAP_LOOKUP_ELEM of {@code key} into the scratch value: 0 or -errno. */
    private long lookupRaw(Scratch s, K key) {
        int mapFd = fd.acquire();
        try {
            encodeKey(s, key);
            return Bpf.mapLookup(s, mapFd);
        } finally {
            fd.release();
        }
    }

    /**
     * Removes the entry at {@code key} if there is one; true if one was removed. An empty key
     * (ENOENT, and EINVAL for an empty SOCKMAP slot) is not an error here.
     */
    public final boolean deleteIfPresent(K key) {
        Objects.requireNonNull(key, "key");
        long r = deleteRaw(key);
        if (r >= 0) {
            return true;
        }
        if (emptyOnDelete((int) -r)) {
            return false;
        }
        throw Errors.of("BPF_MAP_DELETE_ELEM", describe() + " (key " + key + ")", (int) -r, Errors.Op.DELETE);
    }

    /** Whether {@code errno} from a delete means "no entry" for this map type. */
    abstract boolean emptyOnDelete(int errno);

    // ---- lookup ----

    /**
     * The cookie ({@code SO_COOKIE}, Linux 4.12+) of the socket at {@code key}
     * ({@code BPF_MAP_LOOKUP_ELEM}; needs a value size of 8, Linux 5.7+ for lookups from user space).
     *
     * @throws KeyNotFoundException if the key holds no socket
     * @throws BpfException with {@link Errno#ENOSPC} if the map's value size is 4
     */
    public final long cookie(K key) {
        Objects.requireNonNull(key, "key");
        Scratch s = Scratch.get();
        long r = lookupRaw(s, key);
        if (r < 0) {
            throw Errors.of("BPF_MAP_LOOKUP_ELEM", describe() + " (key " + key + ")", (int) -r, Errors.Op.LOOKUP);
        }
        return s.value.get(JAVA_LONG, 0);
    }

    /** Whether {@code key} holds a socket. Needs a value size of 8 (see {@link #cookie}). */
    public final boolean containsKey(K key) {
        Objects.requireNonNull(key, "key");
        long r = lookupRaw(Scratch.get(), key);
        if (r >= 0) {
            return true;
        }
        if (r == -Errno.ENOENT.code()) {
            return false;
        }
        throw Errors.of("BPF_MAP_LOOKUP_ELEM", describe() + " (key " + key + ")", (int) -r, Errors.Op.LOOKUP);
    }

    // ---- iteration ----

    /** A key and the cookie of the socket it holds. */
    public record Entry<K>(K key, long cookie) {}

    /**
     * The keys that hold a socket, at the time of each step ({@code BPF_MAP_GET_NEXT_KEY}): a
     * snapshot that may miss or repeat keys changed concurrently.
     */
    public abstract List<K> keys();

    /** The keys that hold a socket, with their sockets' cookies. Needs a value size of 8. */
    public final List<Entry<K>> entries() {
        List<Entry<K>> out = new ArrayList<>();
        for (K k : keys()) {
            try {
                out.add(new Entry<>(k, cookie(k)));
            } catch (KeyNotFoundException gone) {
                // removed meanwhile (socket closed): not an entry any more
            }
        }
        return out;
    }

    /** Raw GET_NEXT_KEY walk: every key the kernel returns, decoded, bounded by max_entries. */
    final List<K> walkKeys() {
        List<K> out = new ArrayList<>();
        Scratch s = Scratch.get();
        int mapFd = fd.acquire();
        try {
            boolean first = true;
            for (long i = 0; i <= (long) maxEntries; i++) {
                long r = Bpf.mapGetNextKey(s, mapFd, first);
                if (r == -Errno.ENOENT.code()) {
                    return out;
                }
                if (r < 0) {
                    throw Errors.of("BPF_MAP_GET_NEXT_KEY", describe(), (int) -r, Errors.Op.ITERATE);
                }
                out.add(decodeNextKey(s));
                MemorySegment.copy(s.nextKey, 0, s.key, 0, keySize);
                first = false;
            }
            return out;
        } finally {
            fd.release();
        }
    }

    // ---- programs ----

    /**
     * Ids of the programs attached to this map at {@code type} ({@code BPF_PROG_QUERY} on the map
     * fd, Linux 5.19+ for socket maps). Querying SK_SKB_VERDICT while a stream_verdict program is
     * attached (or the reverse) fails with EBUSY: the two share one slot.
     *
     * @throws NotSupportedException on kernels before 5.19, which cannot query socket maps
     */
    public final List<Integer> attachedPrograms(AttachType type) {
        int mapFd = fd.acquire();
        try {
            return Queries.progIds(mapFd, type, describe(), true);
        } finally {
            fd.release();
        }
    }

    /**
     * True while this handle created the map and nothing can have inserted into it: no put through
     * this handle, and the map was not pinned or its fd or id handed out. Lets attach skip the
     * emptiness check (for a SOCKMAP that is one lookup per index).
     */
    private volatile boolean knownEmpty;

    /** Called by the builders: a map just created is empty. */
    final <M extends SocketMap<K>> M createdEmpty(M self) {
        knownEmpty = true;
        return self;
    }

    /** Refuses to attach to a map that already holds sockets (they would not see the program). */
    final void requireEmptyForAttach(String program) {
        if (!knownEmpty && !isEmpty()) {
            throw new IllegalStateException(ApiCall.name() + ": " + program + " -> " + describe() + ": the map "
                    + "already holds sockets; attach before inserting them (or delete them first): the kernel applies "
                    + "programs only to sockets inserted after the program was attached");
        }
    }

    /** Whether no key holds a socket. */
    abstract boolean isEmpty();

    // ---- pinning and info ----

    /**
     * Pins the map at {@code path} on a bpffs mount ({@code BPF_OBJ_PIN}) so it outlives this
     * process; remove the pin by deleting the file. The pin gets mode {@code 0600}
     * ({@code rw-------}): only its owner (or a process with {@code CAP_DAC_OVERRIDE}) can
     * reopen it. If the bpffs is unmounted later, handles already open keep working; reopening
     * the path then fails (ENOENT, or another file system's answer).
     *
     * @throws BpfException with EEXIST if the path exists; {@link PermissionException} (EPERM) if
     *     the directory is not on a bpffs mount
     */
    public final void pin(Path path) {
        pin(path, Pins.OWNER_ONLY);
    }

    /**
     * As {@link #pin(Path)}, with the pin's permissions set to {@code permissions} (e.g.
     * {@code PosixFilePermissions.fromString("rw-rw----")} to let a group reopen it; opening needs
     * read and write access unless read-only).
     */
    public final void pin(Path path, Set<PosixFilePermission> permissions) {
        knownEmpty = false; // another process may open and fill it
        int mapFd = fd.acquire();
        try {
            Pins.pin(mapFd, path, describe(), permissions);
        } finally {
            fd.release();
        }
    }

    /** What the kernel says about this map ({@code BPF_OBJ_GET_INFO_BY_FD}). */
    public final MapInfo info() {
        knownEmpty = false; // the id lets another process open it (BPF_MAP_GET_FD_BY_ID)
        int[] err = new int[1];
        ObjInfo.Map m;
        int mapFd = fd.acquire();
        try {
            m = ObjInfo.map(mapFd, err);
        } finally {
            fd.release();
        }
        if (m == null) {
            throw Errors.of("BPF_OBJ_GET_INFO_BY_FD", describe(), err[0], Errors.Op.INFO);
        }
        return new MapInfo(m.id(), MapType.of(m.type()), m.type(), m.name(), m.keySize(), m.valueSize(),
                m.maxEntries(), m.flags());
    }

    /** The map's kernel id (as {@code bpftool map show id N} uses). */
    public final int id() {
        return info().id();
    }

    /** The map's name as given at creation (may be empty). */
    public final String name() {
        return name;
    }

    /** {@code max_entries}. */
    public final int maxEntries() {
        return maxEntries;
    }

    /** Value size: 8 (lookups return cookies) or 4. */
    public final int valueSize() {
        return valueSize;
    }

    /** Key size in bytes. */
    public final int keySize() {
        return keySize;
    }

    /**
     * The map's fd, for interop (e.g. passing it to other tools). It stays owned by this object:
     * do not close it.
     */
    public final int fd() {
        knownEmpty = false; // whoever holds the fd may insert
        return fd.get();
    }

    /** Whether {@link #close()} was called. */
    public final boolean isClosed() {
        return fd.isClosed();
    }

    /**
     * Releases the map fd. Idempotent and thread-safe: calls made after it throw
     * {@link IllegalStateException}; a call other threads are making at that moment completes,
     * and the fd is closed when the last of them returns (so that it never acts on another
     * object that got the same fd number). The map lives on while a pin, a program, or a socket
     * in it holds it: sockets keep the programs they were inserted with, and those hold the map,
     * so delete the entries first if redirects or policies must stop.
     */
    @Override
    public final void close() {
        fd.close();
    }

    private String description;

    final String describe() {
        String d = description;
        if (d == null) {
            d = name.isEmpty() ? kind : kind + " '" + name + "'";
            description = d;
        }
        return d;
    }

    @Override
    public final String toString() {
        return describe() + (fd.isClosed() ? " (closed)" : "");
    }

    // ---- creation helpers shared by the subclasses ----

    /** Checks a map name before the kernel sees it; {@code operation} names the builder call. */
    static String checkName(String operation, String name) {
        Objects.requireNonNull(name, "name");
        if (name.length() >= Bpf.MAP_NAME_LEN) {
            throw new IllegalArgumentException(operation + ": map name '" + name + "' has " + name.length()
                    + " characters; the kernel keeps at most " + (Bpf.MAP_NAME_LEN - 1) + ": shorten it");
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (!(Character.isLetterOrDigit(c) && c < 128) && c != '_' && c != '.') {
                throw new IllegalArgumentException(operation + ": map name '" + name + "' contains '" + c
                        + "'; use only ASCII letters, digits, '_' and '.'");
            }
        }
        return name;
    }

    /** Checks the sizes of a map to create; {@code operation} and {@code object} name it in messages. */
    static void checkSizes(String operation, String object, int valueSize, int maxEntries) {
        if (valueSize != 4 && valueSize != 8) {
            throw new IllegalArgumentException(operation + ": " + object + ": value size must be 4 or 8 "
                    + "(8 lets lookups return cookies), got " + valueSize);
        }
        if (maxEntries < 1) {
            throw new IllegalArgumentException(operation + ": " + object + ": max entries must be at least 1, got "
                    + maxEntries + "; set maxEntries(n) to the number of sockets it must hold");
        }
    }

    /** How messages name a map of {@code kind} that is being created. */
    static String describe(String kind, String name) {
        return name.isEmpty() ? kind : kind + " '" + name + "'";
    }

    static Fd create(String kind, int type, int keySize, int valueSize, int maxEntries, String name) {
        long r = Bpf.mapCreate(type, keySize, valueSize, maxEntries, 0, name);
        if (r < 0) {
            throw Errors.of("BPF_MAP_CREATE", kind + (name.isEmpty() ? "" : " '" + name + "'"), (int) -r,
                    Errors.Op.CREATE);
        }
        return Fd.own((int) r, kind + (name.isEmpty() ? "" : " '" + name + "'"));
    }

    /**
     * What the kernel says about the map pinned at {@code path}, whatever its type (to decide
     * how to open it).
     */
    public static MapInfo infoOfPinned(Path path) {
        try (Fd fd = Pins.open(path, "map")) {
            int[] err = new int[1];
            ObjInfo.Map m = ObjInfo.map(fd.get(), err);
            if (m == null) {
                throw Errors.of("BPF_OBJ_GET_INFO_BY_FD", path + " (is it a map?)", err[0], Errors.Op.INFO);
            }
            return new MapInfo(m.id(), MapType.of(m.type()), m.type(), m.name(), m.keySize(), m.valueSize(),
                    m.maxEntries(), m.flags());
        }
    }

    /** Opens a pinned map and checks its type; returns the fd and its info. */
    static Fd openPinned(Path path, MapType expected, int[] infoOut, String[] nameOut) {
        Fd fd = Pins.open(path, "map");
        try {
            int[] err = new int[1];
            ObjInfo.Map m = ObjInfo.map(fd.get(), err);
            if (m == null) {
                throw Errors.of("BPF_OBJ_GET_INFO_BY_FD", path.toString(), err[0], Errors.Op.INFO);
            }
            if (m.type() != expected.value()) {
                throw new IllegalArgumentException(ApiCall.name() + ": the map pinned at " + path + " is a "
                        + MapType.of(m.type()).name().toLowerCase() + " (type " + m.type() + "), not a "
                        + expected.name().toLowerCase() + "; open it as what it is (SocketMap.infoOfPinned tells)");
            }
            infoOut[0] = m.keySize();
            infoOut[1] = m.valueSize();
            infoOut[2] = m.maxEntries();
            nameOut[0] = m.name();
            return fd;
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    /** A buffer over the scratch key with exactly {@code size} bytes, positioned at 0. */
    static ByteBuffer keyBuffer(ByteBuffer b, int size) {
        b.clear().limit(size);
        return b;
    }
}
