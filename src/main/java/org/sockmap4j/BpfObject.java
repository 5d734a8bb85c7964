package org.sockmap4j;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Objects;

import org.sockmap4j.internal.libbpf.ElfCheck;
import org.sockmap4j.internal.libbpf.Libbpf;
import org.sockmap4j.internal.sys.ApiCall;
import org.sockmap4j.internal.sys.Fd;
import org.sockmap4j.internal.unix.Libc;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * A BPF ELF object (programs and maps compiled by {@code clang -target bpf}), opened and loaded
 * through the system libbpf (libbpf1 1.0+, loaded only when this class is first used; the system
 * property {@code sockmap4j.libbpf} names another one, by path or file name). Without libbpf,
 * opening an object throws {@link NotSupportedException}; maps work without it. Open it
 * from a file, from bytes, or from the programs bundled in this jar ({@link #openBundled}); set
 * what must be set before load; {@link #load()}; then take programs and maps as their typed
 * kinds, each of which owns its own fd and stays usable after this object is closed.
 *
 * <p>Thread-safe: calls are serialized, so a {@link #close()} waits for a call in progress (libbpf
 * frees the object's memory on close) and later calls throw {@link IllegalStateException}. A file
 * that could crash libbpf while it parses it (damaged section tables or BTF that libbpf 1.1 reads
 * without checks) is refused before libbpf sees it, with the {@link BpfException} libbpf gives to
 * an invalid ELF file ({@code LIBBPF_ERRNO__FORMAT}, 4001).
 *
 * <pre>{@code
 * try (BpfObject obj = BpfObject.openBundled("bypass").load();
 *      SockHash<ConnectionKey> hash = obj.sockHash("sock_hash", ConnectionKey.codec());
 *      SkMsgProgram msg = obj.skMsg("bypass_sk_msg");
 *      SockOpsProgram ops = obj.sockOps("bypass_sockops");
 *      Attachment a = msg.attach(hash);
 *      Cgroup cg = Cgroup.open(dir);
 *      Attachment b = ops.attach(cg)) {
 *     ...
 * }
 * }</pre>
 */
public final class BpfObject implements AutoCloseable {
    /** Names of the objects bundled in this jar (compiled from the repository's bpf/*.bpf.c). */
    public static final List<String> BUNDLED = List.of("bypass", "local_bypass", "egress_policy", "ingress_policy", "redirect", "sockmap_iter", "splice");

    private final String name;
    /** What libbpf calls the object in its log (for an object opened from memory: "ADDRESS-SIZE" in hex). */
    private final String libbpfName;
    /** The copy of the ELF bytes libbpf reads until the object is closed (malloc'ed), or null. */
    private final MemorySegment elfCopy;
    private MemorySegment obj;
    private boolean loaded;
    /** Closes a forgotten object (and the fds libbpf holds in it) when this becomes unreachable. */
    private final Fd.Backstop backstop;

    private BpfObject(String name, String libbpfName, MemorySegment elfCopy, MemorySegment obj) {
        this.name = name;
        this.libbpfName = libbpfName;
        this.elfCopy = elfCopy;
        this.obj = obj;
        // only the parameters: the action must not refer to this object
        this.backstop = Fd.backstop(this, "BPF object '" + name + "'", () -> {
            Libbpf.close(obj);
            if (elfCopy != null) {
                Libc.free(elfCopy);
            }
        });
    }

    private static void requireLibbpf(String op) {
        String why = Libbpf.unavailableReason();
        if (why != null) {
            throw new NotSupportedException(op, "libbpf", Errno.ENOSYS.code(), why);
        }
    }

    /** libbpf's LIBBPF_ERRNO__FORMAT ("invalid ELF format"), also used when {@link ElfCheck} refuses a file. */
    private static final int LIBBPF_ERRNO_FORMAT = Errors.LIBBPF_ERRNO_START + 1;

    /** Where a hint says what {@link ElfCheck} found, in place of what libbpf would have said. */
    static final String CHECKED_BEFORE_LIBBPF = "checked before libbpf: ";

    /**
     * Refuses an object that could crash libbpf while it parses it ({@link ElfCheck}), with the
     * errno libbpf gives to invalid ELF files.
     */
    private static void checkElf(MemorySegment elf, String operation, String name) {
        String problem = ElfCheck.problem(elf);
        if (problem != null) {
            throw new BpfException(operation, name, LIBBPF_ERRNO_FORMAT,
                    Errors.libbpfHint(LIBBPF_ERRNO_FORMAT) + "; " + CHECKED_BEFORE_LIBBPF + problem);
        }
    }

    /**
     * Checks the file at {@code path} as {@link #checkElf} does, reading it through a private
     * mapping; a file that cannot be read is left to libbpf, which reports why. (The check and
     * libbpf's own read are two reads: a file changed in between is not covered.)
     */
    private static void checkElfFile(Path path) {
        try (Arena arena = Arena.ofConfined();
             FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            checkElf(ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena), "bpf_object__open_file",
                    path.toString());
        } catch (IOException e) {
            // missing, unreadable or a directory: bpf_object__open_file gives the errno
        }
    }

    /**
     * Opens the object file at {@code path} (not loaded yet).
     *
     * @throws IllegalArgumentException if the path exists but is no regular file (libbpf would
     *     leak its fd of a directory, and block forever on a FIFO)
     * @throws BpfException if libbpf cannot open it (ENOENT: missing; 4000+: libbpf's own codes)
     */
    public static BpfObject open(Path path) {
        Objects.requireNonNull(path, "path");
        requireLibbpf("bpf_object__open_file");
        if (Files.exists(path) && !Files.isRegularFile(path)) {
            throw new IllegalArgumentException("BpfObject.open: " + path + " is "
                    + (Files.isDirectory(path) ? "a directory" : "not a regular file")
                    + "; pass a BPF object file (as clang -target bpf -c writes it)");
        }
        checkElfFile(path);
        try (Arena arena = Arena.ofConfined()) { // only the path: libbpf reads the file itself
            int[] err = new int[1];
            Libbpf.startCapture();
            MemorySegment o;
            String log;
            try {
                o = Libbpf.openFile(arena.allocateFrom(path.toString()), err);
            } finally {
                log = Libbpf.stopCapture();
            }
            if (o.equals(MemorySegment.NULL)) {
                throw Errors.of("bpf_object__open_file", path.toString(), err[0], Errors.Op.OPEN_FILE,
                        said(log, path.toString(), path.toString()));
            }
            return new BpfObject(path.getFileName().toString(), path.toString(), null, o);
        }
    }

    /** Opens an object from its ELF bytes; {@code name} is used in messages. */
    public static BpfObject open(byte[] elf, String name) {
        Objects.requireNonNull(elf, "elf");
        requireLibbpf("bpf_object__open_mem");
        // libbpf reads the buffer until the object is closed, which may be on another thread:
        // malloc'ed and freed at close (a shared Arena's close is a handshake with every thread)
        MemorySegment buf = Libc.malloc(elf.length);
        try {
            MemorySegment.copy(elf, 0, buf, JAVA_BYTE, 0, elf.length);
            checkElf(buf, "bpf_object__open_mem", name);
            int[] err = new int[1];
            Libbpf.startCapture();
            MemorySegment o;
            String log;
            try {
                o = Libbpf.openMem(buf, err);
            } finally {
                log = Libbpf.stopCapture();
            }
            String libbpfName = Long.toHexString(buf.address()) + "-" + Long.toHexString(elf.length);
            if (o.equals(MemorySegment.NULL)) {
                throw Errors.of("bpf_object__open_mem", name, err[0], Errors.Op.OPEN_FILE,
                        said(log, libbpfName, name));
            }
            return new BpfObject(name, libbpfName, buf, o);
        } catch (RuntimeException e) {
            Libc.free(buf);
            throw e;
        }
    }

    /** Opens one of the objects bundled in this jar; see {@link #BUNDLED}. */
    public static BpfObject openBundled(String name) {
        if (!BUNDLED.contains(name)) {
            throw new IllegalArgumentException("BpfObject.openBundled: no bundled BPF object '" + name
                    + "'; use one of " + BUNDLED + " or open your own with BpfObject.open");
        }
        String res = "/org/sockmap4j/bpf/" + name + ".bpf.o";
        try (InputStream in = BpfObject.class.getResourceAsStream(res)) {
            if (in == null) {
                throw new IllegalStateException("resource " + res + " is missing from the jar (built without clang?)");
            }
            return open(in.readAllBytes(), name);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + res, e);
        }
    }

    /** Reads a file and opens it from memory: the same as {@link #open(Path)}. */
    static BpfObject openBytesOf(Path path) throws IOException {
        return open(Files.readAllBytes(path), path.getFileName().toString());
    }

    /**
     * What libbpf said about a failure: its last log line but the closing "failed to load object",
     * without the "libbpf: " prefix, with the object called {@code name} instead of {@code libbpfName}.
     */
    private static String said(String log, String libbpfName, String name) {
        String[] lines = log.strip().split("\n");
        for (int i = lines.length - 1; i >= 0; i--) {
            String line = lines[i].strip();
            line = line.startsWith("libbpf: ") ? line.substring(8) : line;
            if (!line.isEmpty() && !line.startsWith("failed to load object")) {
                return line.replace(libbpfName, name);
            }
        }
        return "";
    }

    private MemorySegment obj() {
        if (obj == null) {
            throw Fd.closed(this.describe());
        }
        return obj;
    }

    private String describe() {
        return "BPF object '" + name + "'";
    }

    private void requireLoaded(boolean want) {
        obj();
        if (loaded != want) {
            throw new IllegalStateException(ApiCall.name() + ": " + describe() + " is "
                    + (loaded ? "already loaded; set maps and programs up before load()"
                            : "not loaded yet; call load() first"));
        }
    }

    /** Names of the object's programs (C function names). */
    public synchronized List<String> programNames() {
        return Libbpf.programs(obj()).stream().map(Libbpf.Named::name).toList();
    }

    /** Names of the object's maps, including libbpf's internal ones (.data, .rodata, .bss). */
    public synchronized List<String> mapNames() {
        return Libbpf.maps(obj()).stream().map(Libbpf.Named::name).toList();
    }

    /** Before load: sets a program's expected attach type (needed by some kernels for links). */
    public synchronized BpfObject expectedAttachType(String program, AttachType type) {
        requireLoaded(false);
        int r = Libbpf.setExpectedAttachType(program(program), type.value());
        if (r < 0) {
            throw Errors.of("bpf_program__set_expected_attach_type", program, -r, Errors.Op.GENERIC);
        }
        return this;
    }

    /** Before load: changes a map's max_entries. */
    public synchronized BpfObject maxEntries(String map, int maxEntries) {
        requireLoaded(false);
        if (maxEntries < 1) {
            throw new IllegalArgumentException("BpfObject.maxEntries: map '" + map + "' of " + describe()
                    + ": max entries must be at least 1, got " + maxEntries);
        }
        int r = Libbpf.setMapMaxEntries(map(map), maxEntries);
        if (r < 0) {
            throw Errors.of("bpf_map__set_max_entries", map, -r, Errors.Op.GENERIC);
        }
        return this;
    }

    /**
     * Loads every program and creates every map ({@code bpf_object__load}). If loading fails the
     * object is closed (libbpf cannot load it again), so {@code openBundled(..).load()} in a
     * try-with-resources header leaks nothing.
     *
     * @throws VerifierException if the kernel rejects a program; it carries the whole log
     * @throws PermissionException on EPERM/EACCES without a verifier log (privileges, or a policy
     *         such as kernel lockdown refusing the program type)
     * @throws BpfException for other failures without a verifier log (e.g. EINVAL for a map the
     *         kernel will not create); its hint ends with what libbpf said
     * @return this
     */
    public synchronized BpfObject load() {
        requireLoaded(false);
        Libbpf.startCapture();
        int r;
        String log;
        try {
            r = Libbpf.load(obj());
        } finally {
            log = Libbpf.stopCapture();
        }
        if (r < 0) {
            int e = -r;
            close(); // libbpf cannot load an object twice; closing releases what the attempt created (BTF)
            boolean verifierLog = log.contains("BEGIN PROG LOAD LOG");
            if (e == Errno.EPERM.code() || e == Errno.EACCES.code() && !verifierLog) {
                throw Errors.of("bpf_object__load", describe(), e, Errors.Op.GENERIC);
            }
            if (!verifierLog) { // a map the kernel would not create, a relocation, ...: not the verifier
                throw Errors.of("bpf_object__load", describe(), e, Errors.Op.LOAD, said(log, libbpfName, name));
            }
            throw new VerifierException("bpf_object__load", describe(), e, log);
        }
        loaded = true;
        return this;
    }

    private MemorySegment program(String prog) {
        for (Libbpf.Named n : Libbpf.programs(obj())) {
            if (n.name().equals(prog)) {
                return n.ptr();
            }
        }
        throw new IllegalArgumentException(ApiCall.name() + ": " + describe() + " has no program '" + prog
                + "'; it has " + programNames());
    }

    private MemorySegment map(String map) {
        for (Libbpf.Named n : Libbpf.maps(obj())) {
            if (n.name().equals(map)) {
                return n.ptr();
            }
        }
        throw new IllegalArgumentException(ApiCall.name() + ": " + describe() + " has no map '" + map + "'; it has "
                + mapNames());
    }

    private Fd programFd(String prog, ProgramType expected) {
        requireLoaded(true);
        MemorySegment p = program(prog);
        int type = Libbpf.programType(p);
        if (type != expected.value()) {
            throw new IllegalArgumentException(ApiCall.name() + ": program '" + prog + "' of " + describe() + " is "
                    + ProgramType.of(type) + " (section " + Libbpf.programSection(p) + "), not " + expected
                    + "; take it with the accessor of its type");
        }
        return dup(Libbpf.programFd(p), expected.name().toLowerCase() + " program '" + prog + "'");
    }

    private static Fd dup(int fd, String what) {
        if (fd < 0) {
            throw new IllegalStateException(what + " has no fd (not loaded?)");
        }
        int n = Libc.fcntl(fd, Libc.F_DUPFD_CLOEXEC, 3);
        if (n < 0) {
            throw Errors.of("fcntl(F_DUPFD_CLOEXEC)", what, -n, Errors.Op.GENERIC);
        }
        return Fd.own(n, what);
    }

    /** The SK_MSG program {@code name}; fails clearly if it is of another type. */
    public synchronized SkMsgProgram skMsg(String prog) {
        return new SkMsgProgram(programFd(prog, ProgramType.SK_MSG), prog);
    }

    /** The SK_SKB program {@code name}; fails clearly if it is of another type. */
    public synchronized SkSkbProgram skSkb(String prog) {
        return new SkSkbProgram(programFd(prog, ProgramType.SK_SKB), prog);
    }

    /** The SOCK_OPS program {@code name}; fails clearly if it is of another type. */
    public synchronized SockOpsProgram sockOps(String prog) {
        return new SockOpsProgram(programFd(prog, ProgramType.SOCK_OPS), prog);
    }

    /** The sockmap iterator program {@code name} ({@code SEC("iter/sockmap")}). */
    public synchronized SockMapIterProgram sockMapIter(String prog) {
        return new SockMapIterProgram(programFd(prog, ProgramType.TRACING), prog);
    }

    private Fd mapFd(String mapName, MapType expected, int keySize) {
        requireLoaded(true);
        MemorySegment m = map(mapName);
        int type = Libbpf.mapType(m);
        if (type != expected.value()) {
            throw new IllegalArgumentException(ApiCall.name() + ": map '" + mapName + "' of " + describe() + " is "
                    + MapType.of(type) + " (type " + type + "), not " + expected
                    + "; take it with the accessor of its type");
        }
        if (keySize > 0 && Libbpf.mapKeySize(m) != keySize) {
            throw new IllegalArgumentException(ApiCall.name() + ": map '" + mapName + "' of " + describe() + " has "
                    + Libbpf.mapKeySize(m) + "-byte keys, the codec " + keySize + "; use a codec of "
                    + Libbpf.mapKeySize(m) + " bytes");
        }
        return dup(Libbpf.mapFd(m), expected.name().toLowerCase() + " '" + mapName + "'");
    }

    /** The SOCKMAP {@code name}; fails clearly if it is of another type. */
    public synchronized SockMap sockMap(String mapName) {
        MemorySegment m = map(mapName);
        return SockMap.wrap(mapFd(mapName, MapType.SOCKMAP, 4), mapName, Libbpf.mapValueSize(m),
                Libbpf.mapMaxEntries(m));
    }

    /** The SOCKHASH {@code name} with keys of {@code codec}; checks the type and key size. */
    public synchronized <K> SockHash<K> sockHash(String mapName, KeyCodec<K> codec) {
        MemorySegment m = map(mapName);
        return SockHash.wrap(mapFd(mapName, MapType.SOCKHASH, codec.size()), codec, mapName, Libbpf.mapValueSize(m),
                Libbpf.mapMaxEntries(m));
    }

    /** The per-CPU counters array {@code name} (as the bundled programs keep). */
    public synchronized Counters counters(String mapName) {
        MemorySegment m = map(mapName);
        return new Counters(mapFd(mapName, MapType.PERCPU_ARRAY, 4), mapName, Libbpf.mapMaxEntries(m),
                Libbpf.mapValueSize(m));
    }

    /** The u32 ARRAY map {@code name} (4-byte keys and values). */
    public synchronized U32Array u32Array(String mapName) {
        MemorySegment m = map(mapName);
        if (Libbpf.mapValueSize(m) != 4) {
            throw new IllegalArgumentException(ApiCall.name() + ": map '" + mapName + "' of " + describe() + " has "
                    + Libbpf.mapValueSize(m) + "-byte values, not 4; take it with the accessor of its type");
        }
        return new U32Array(mapFd(mapName, MapType.ARRAY, 4), mapName);
    }

    /** A map's fd of the given type, for the library's own typed wrappers. */
    synchronized Fd rawMap(String mapName, MapType type) {
        return mapFd(mapName, type, 0);
    }

    /** The LPM trie {@code name} of IPv4 (8-byte keys) or IPv6 (20-byte keys) prefixes. */
    public synchronized LpmTrie lpmTrie(String mapName) {
        MemorySegment m = map(mapName);
        return new LpmTrie(mapFd(mapName, MapType.LPM_TRIE, 0), mapName, Libbpf.mapKeySize(m), Libbpf.mapValueSize(m));
    }

    /**
     * Unloads what no one else holds: programs and maps taken from here stay usable, and so do
     * attachments made with them (a link or a PROG_ATTACH holds its program in the kernel until it
     * is closed or detached). Idempotent. An object that becomes unreachable unclosed is closed
     * by a Cleaner, which logs a warning.
     */
    @Override
    public synchronized void close() {
        if (obj != null) {
            backstop.disarm();
            Libbpf.close(obj);
            obj = null;
            if (elfCopy != null) {
                Libc.free(elfCopy);
            }
        }
    }

    @Override
    public synchronized String toString() {
        return "BPF object '" + name + "'" + (obj == null ? " (closed)" : loaded ? " (loaded)" : " (opened)");
    }
}
