package org.sockmap4j.internal.libbpf;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.ArrayList;
import java.util.List;

import org.sockmap4j.internal.gen.libbpf.LibBpf;
import org.sockmap4j.internal.gen.libbpf.libbpf_print_fn_t;
import org.sockmap4j.internal.sys.Scratch;
import org.sockmap4j.internal.sys.Syscall;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The libbpf calls sockmap4j makes, through the generated bindings in
 * {@code internal.gen.libbpf}. libbpf itself is loaded the first time this class is used, so
 * users who only create maps never need it. libbpf's log lines are captured per thread while an
 * object is opened or loaded (the verifier log arrives that way) and otherwise go to the
 * {@code org.sockmap4j} System.Logger at DEBUG.
 */
public final class Libbpf {
    private Libbpf() {}

    /**
     * The system property that names the libbpf to load instead of {@code libbpf.so.1}: a path, or a
     * file name the dynamic linker searches for. Read once, when this class is first used.
     */
    public static final String LIBRARY_PROPERTY = "sockmap4j.libbpf";

    private static final System.Logger LOG = System.getLogger("org.sockmap4j");
    private static final ThreadLocal<StringBuilder> CAPTURE = new ThreadLocal<>();
    private static final String LOAD_ERROR;
    private static final MethodHandle VSNPRINTF;
    private static final MethodHandle OPEN_FILE;
    private static final MethodHandle OPEN_MEM;

    static {
        String err = null;
        MethodHandle openFile = null;
        MethodHandle openMem = null;
        Linker linker = Linker.nativeLinker();
        VSNPRINTF = linker.downcallHandle(linker.defaultLookup().find("vsnprintf").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS));
        try {
            Linker.Option errno = Linker.Option.captureCallState("errno");
            openFile = linker.downcallHandle(LibBpf.bpf_object__open_file$address(),
                    LibBpf.bpf_object__open_file$descriptor(), errno);
            openMem = linker.downcallHandle(LibBpf.bpf_object__open_mem$address(),
                    LibBpf.bpf_object__open_mem$descriptor(), errno);
            installPrint();
        } catch (Throwable t) { // library missing: IllegalArgumentException / ExceptionInInitializerError
            Throwable cause = t;
            while (cause.getCause() != null) {
                cause = cause.getCause();
            }
            String lib = System.getProperty(LIBRARY_PROPERTY);
            err = (lib == null ? "libbpf.so.1" : lib + " (-D" + LIBRARY_PROPERTY + ")") + " cannot be loaded ("
                    + cause.getMessage() + "); install libbpf 1.0+ (apt-get install libbpf1, dnf install libbpf)"
                    + (lib == null ? "" : " or point " + LIBRARY_PROPERTY + " at it");
        }
        LOAD_ERROR = err;
        OPEN_FILE = openFile;
        OPEN_MEM = openMem;
    }

    /** Null when libbpf is usable, else why not. */
    public static String unavailableReason() {
        return LOAD_ERROR;
    }

    /** libbpf's version, e.g. "1.1". */
    public static String version() {
        return LibBpf.libbpf_major_version() + "." + LibBpf.libbpf_minor_version();
    }

    private static void installPrint() throws ReflectiveOperationException {
        MethodHandle cb = MethodHandles.lookup().findStatic(Libbpf.class, "print",
                MethodType.methodType(int.class, int.class, MemorySegment.class, MemorySegment.class));
        MemorySegment stub = Linker.nativeLinker().upcallStub(cb, libbpf_print_fn_t.descriptor(), Arena.global());
        LibBpf.libbpf_set_print(stub);
    }

    /** libbpf's print callback: formats with vsnprintf and captures or logs the line. */
    private static int print(int level, MemorySegment fmt, MemorySegment args) {
        if (level > LibBpf.LIBBPF_INFO()) {
            return 0; // DEBUG lines are neither captured nor logged: don't format them
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(4096);
            int n = (int) VSNPRINTF.invokeExact(buf, 4096L, fmt.reinterpret(Long.MAX_VALUE), args);
            String line = n < 0 ? "" : buf.getString(0);
            StringBuilder sb = CAPTURE.get();
            if (sb != null) {
                sb.append(line);
            } else if (level <= LibBpf.LIBBPF_INFO()) {
                LOG.log(System.Logger.Level.DEBUG, "libbpf: {0}", line.strip());
            }
            return n;
        } catch (Throwable t) {
            return 0; // never let an exception cross into native code
        }
    }

    /** Starts capturing this thread's libbpf output. */
    public static void startCapture() {
        CAPTURE.set(new StringBuilder());
    }

    /** Stops capturing and returns what was captured. */
    public static String stopCapture() {
        StringBuilder sb = CAPTURE.get();
        CAPTURE.remove();
        return sb == null ? "" : sb.toString();
    }

    private static AssertionError broken(Throwable t) {
        return new AssertionError("libbpf downcall failed", t);
    }

    /** bpf_object__open_file(path, NULL): the object, or NULL with errno in {@code errno[0]}. */
    public static MemorySegment openFile(MemorySegment path, int[] errno) {
        MemorySegment c = Scratch.get().capture;
        try {
            MemorySegment obj = (MemorySegment) OPEN_FILE.invokeExact(c, path, MemorySegment.NULL);
            if (obj.equals(MemorySegment.NULL)) {
                errno[0] = Syscall.errno(c);
            }
            return obj;
        } catch (Throwable t) {
            throw broken(t);
        }
    }

    /** bpf_object__open_mem(buf, size, NULL); {@code buf} must outlive the object. */
    public static MemorySegment openMem(MemorySegment buf, int[] errno) {
        MemorySegment c = Scratch.get().capture;
        try {
            MemorySegment obj = (MemorySegment) OPEN_MEM.invokeExact(c, buf, buf.byteSize(), MemorySegment.NULL);
            if (obj.equals(MemorySegment.NULL)) {
                errno[0] = Syscall.errno(c);
            }
            return obj;
        } catch (Throwable t) {
            throw broken(t);
        }
    }

    /** bpf_object__load: 0 or a negative errno. */
    public static int load(MemorySegment obj) {
        return LibBpf.bpf_object__load(obj);
    }

    public static void close(MemorySegment obj) {
        LibBpf.bpf_object__close(obj);
    }

    /** A program or map of an object: its handle and name. */
    public record Named(MemorySegment ptr, String name) {}

    public static List<Named> programs(MemorySegment obj) {
        List<Named> out = new ArrayList<>();
        MemorySegment p = MemorySegment.NULL;
        while (!(p = LibBpf.bpf_object__next_program(obj, p)).equals(MemorySegment.NULL)) {
            out.add(new Named(p, string(LibBpf.bpf_program__name(p))));
        }
        return out;
    }

    public static List<Named> maps(MemorySegment obj) {
        List<Named> out = new ArrayList<>();
        MemorySegment m = MemorySegment.NULL;
        while (!(m = LibBpf.bpf_object__next_map(obj, m)).equals(MemorySegment.NULL)) {
            out.add(new Named(m, string(LibBpf.bpf_map__name(m))));
        }
        return out;
    }

    public static int programFd(MemorySegment prog) {
        return LibBpf.bpf_program__fd(prog);
    }

    public static int programType(MemorySegment prog) {
        return LibBpf.bpf_program__type(prog);
    }

    public static String programSection(MemorySegment prog) {
        return string(LibBpf.bpf_program__section_name(prog));
    }

    public static int setExpectedAttachType(MemorySegment prog, int type) {
        return LibBpf.bpf_program__set_expected_attach_type(prog, type);
    }

    public static int expectedAttachType(MemorySegment prog) {
        return LibBpf.bpf_program__expected_attach_type(prog);
    }

    public static int mapFd(MemorySegment map) {
        return LibBpf.bpf_map__fd(map);
    }

    public static int mapType(MemorySegment map) {
        return LibBpf.bpf_map__type(map);
    }

    public static int mapKeySize(MemorySegment map) {
        return LibBpf.bpf_map__key_size(map);
    }

    public static int mapValueSize(MemorySegment map) {
        return LibBpf.bpf_map__value_size(map);
    }

    public static int mapMaxEntries(MemorySegment map) {
        return LibBpf.bpf_map__max_entries(map);
    }

    public static int setMapMaxEntries(MemorySegment map, int n) {
        return LibBpf.bpf_map__set_max_entries(map, n);
    }

    public static boolean mapIsInternal(MemorySegment map) {
        return LibBpf.bpf_map__is_internal(map);
    }

    /** The initial value (global data) of an internal map such as .data or .rodata, before load. */
    public static MemorySegment initialValue(MemorySegment map) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment size = arena.allocate(JAVA_LONG);
            MemorySegment v = LibBpf.bpf_map__initial_value(map, size);
            return v.equals(MemorySegment.NULL) ? v : v.reinterpret(size.get(JAVA_LONG, 0));
        }
    }

    static String string(MemorySegment cstr) {
        return cstr.equals(MemorySegment.NULL) ? "" : cstr.reinterpret(4096).getString(0);
    }
}
