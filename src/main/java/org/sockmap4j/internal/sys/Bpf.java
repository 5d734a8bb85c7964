package org.sockmap4j.internal.sys;

import java.lang.foreign.MemorySegment;

import org.sockmap4j.internal.gen.bpf.LinuxBpf;
import org.sockmap4j.internal.gen.bpf.bpf_attr;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The {@code bpf(2)} commands sockmap4j uses, one method each. Arguments are laid out in the
 * calling thread's {@link Scratch#attr} with offsets taken from the generated {@code bpf_attr}
 * layout. Each method returns the kernel's result (an fd, or 0) or {@code -errno}; none throws
 * for a kernel error and none allocates.
 */
public final class Bpf {
    private Bpf() {}

    // Offsets of the named union members (anonymous members are read from bpf_attr directly).
    private static final long Q = bpf_attr.query$offset();
    private static final long I = bpf_attr.info$offset();
    private static final long LC = bpf_attr.link_create$offset();
    private static final long LD = bpf_attr.link_detach$offset();
    private static final long ATTR_SIZE = bpf_attr.sizeof();

    public static final int MAP_NAME_LEN = (int) bpf_attr.map_name$layout().byteSize();

    /**
     * The element commands' attr ends with {@code flags}; like libbpf, pass only that much, so
     * the kernel copies (and this code zeroes) 32 bytes instead of the whole union.
     */
    private static final long ELEM_SIZE = bpf_attr.flags$offset() + 8;

    private static long bpf(Scratch s, int cmd) {
        return Syscall.call(s.capture, Syscall.NR_BPF, cmd, s.attr, ATTR_SIZE);
    }

    private static long bpfElem(Scratch s, int cmd) {
        return Syscall.call(s.capture, Syscall.NR_BPF, cmd, s.attr, ELEM_SIZE);
    }

    private static MemorySegment elemAttr(Scratch s) {
        MemorySegment a = s.attr;
        a.set(JAVA_LONG, 0, 0L);
        a.set(JAVA_LONG, 8, 0L);
        a.set(JAVA_LONG, 16, 0L);
        a.set(JAVA_LONG, 24, 0L);
        return a;
    }

    /** BPF_MAP_CREATE. {@code name} is ASCII, already truncated/validated; may be empty. */
    public static long mapCreate(int type, int keySize, int valueSize, int maxEntries, int flags, String name) {
        Scratch s = Scratch.get();
        MemorySegment a = s.attr();
        bpf_attr.map_type(a, type);
        bpf_attr.key_size(a, keySize);
        bpf_attr.value_size(a, valueSize);
        bpf_attr.max_entries(a, maxEntries);
        bpf_attr.map_flags(a, flags);
        long off = bpf_attr.map_name$offset();
        for (int i = 0; i < name.length() && i < MAP_NAME_LEN - 1; i++) {
            a.set(JAVA_BYTE, off + i, (byte) name.charAt(i));
        }
        return bpf(s, LinuxBpf.BPF_MAP_CREATE());
    }

    /** BPF_MAP_UPDATE_ELEM with key and value already in {@code s.key} / {@code s.value}. */
    public static long mapUpdate(Scratch s, int mapFd, long flags) {
        MemorySegment a = elemAttr(s);
        bpf_attr.map_fd(a, mapFd);
        bpf_attr.key(a, s.key.address());
        bpf_attr.value(a, s.value.address());
        bpf_attr.flags(a, flags);
        return bpfElem(s, LinuxBpf.BPF_MAP_UPDATE_ELEM());
    }

    /** BPF_MAP_LOOKUP_ELEM: key in {@code s.key}, value written to {@code s.value}. */
    public static long mapLookup(Scratch s, int mapFd) {
        MemorySegment a = elemAttr(s);
        bpf_attr.map_fd(a, mapFd);
        bpf_attr.key(a, s.key.address());
        bpf_attr.value(a, s.value.address());
        return bpfElem(s, LinuxBpf.BPF_MAP_LOOKUP_ELEM());
    }

    /** BPF_MAP_LOOKUP_ELEM with map_fd, key and value already set in {@code s.attr}. */
    public static long lookupRaw(Scratch s) {
        return bpf(s, LinuxBpf.BPF_MAP_LOOKUP_ELEM());
    }

    /** BPF_MAP_DELETE_ELEM: key in {@code s.key}. */
    public static long mapDelete(Scratch s, int mapFd) {
        MemorySegment a = elemAttr(s);
        bpf_attr.map_fd(a, mapFd);
        bpf_attr.key(a, s.key.address());
        return bpfElem(s, LinuxBpf.BPF_MAP_DELETE_ELEM());
    }

    /**
     * BPF_MAP_GET_NEXT_KEY: the key after {@code s.key} (or the first key when {@code first}) is
     * written to {@code s.nextKey}.
     */
    public static long mapGetNextKey(Scratch s, int mapFd, boolean first) {
        MemorySegment a = elemAttr(s);
        bpf_attr.map_fd(a, mapFd);
        bpf_attr.key(a, first ? 0L : s.key.address());
        bpf_attr.next_key(a, s.nextKey.address());
        return bpfElem(s, LinuxBpf.BPF_MAP_GET_NEXT_KEY());
    }

    /**
     * BPF_PROG_LOAD of raw instructions (used by feature probes): returns a program fd or -errno.
     * {@code insns} and {@code license} live in native memory for the call.
     */
    public static long progLoad(int type, int expectedAttachType, MemorySegment insns, MemorySegment license) {
        Scratch s = Scratch.get();
        MemorySegment a = s.attr();
        bpf_attr.prog_type(a, type);
        bpf_attr.insn_cnt(a, (int) (insns.byteSize() / 8));
        bpf_attr.insns(a, insns.address());
        bpf_attr.license(a, license.address());
        bpf_attr.expected_attach_type(a, expectedAttachType);
        return bpf(s, LinuxBpf.BPF_PROG_LOAD());
    }

    /** BPF_OBJ_PIN: {@code path} is a NUL-terminated string in native memory. */
    public static long objPin(int fd, MemorySegment path) {
        Scratch s = Scratch.get();
        MemorySegment a = s.attr();
        bpf_attr.pathname(a, path.address());
        bpf_attr.bpf_fd(a, fd);
        return bpf(s, LinuxBpf.BPF_OBJ_PIN());
    }

    /** BPF_OBJ_GET: opens a pinned object; {@code fileFlags} is 0, BPF_F_RDONLY or BPF_F_WRONLY. */
    public static long objGet(MemorySegment path, int fileFlags) {
        Scratch s = Scratch.get();
        MemorySegment a = s.attr();
        bpf_attr.pathname(a, path.address());
        bpf_attr.file_flags(a, fileFlags);
        return bpf(s, LinuxBpf.BPF_OBJ_GET());
    }

    /** BPF_OBJ_GET_INFO_BY_FD into {@code info} (its byte size is passed as info_len). */
    public static long objGetInfoByFd(int fd, MemorySegment info) {
        Scratch s = Scratch.get();
        MemorySegment a = s.attr();
        a.set(JAVA_INT, I + bpf_attr.info.bpf_fd$offset(), fd);
        a.set(JAVA_INT, I + bpf_attr.info.info_len$offset(), (int) info.byteSize());
        a.set(JAVA_LONG, I + bpf_attr.info.info$offset(), info.address());
        return bpf(s, LinuxBpf.BPF_OBJ_GET_INFO_BY_FD());
    }

    /** BPF_PROG_ATTACH; {@code replaceFd} is used only with BPF_F_REPLACE. */
    public static long progAttach(int targetFd, int progFd, int attachType, int flags, int replaceFd) {
        Scratch s = Scratch.get();
        MemorySegment a = s.attr();
        bpf_attr.target_fd(a, targetFd);
        bpf_attr.attach_bpf_fd(a, progFd);
        bpf_attr.attach_type(a, attachType);
        bpf_attr.attach_flags(a, flags);
        bpf_attr.replace_bpf_fd(a, replaceFd);
        return bpf(s, LinuxBpf.BPF_PROG_ATTACH());
    }

    /** BPF_PROG_DETACH of {@code progFd} (may be 0 for the single-program hooks). */
    public static long progDetach(int targetFd, int progFd, int attachType) {
        Scratch s = Scratch.get();
        MemorySegment a = s.attr();
        bpf_attr.target_fd(a, targetFd);
        bpf_attr.attach_bpf_fd(a, progFd);
        bpf_attr.attach_type(a, attachType);
        return bpf(s, LinuxBpf.BPF_PROG_DETACH());
    }

    /**
     * BPF_PROG_QUERY: ids of programs attached to {@code targetFd} at {@code attachType} are
     * written to {@code ids} (u32 each, at most ids.byteSize()/4). Returns 0 or -errno; the
     * count is then {@link #queryCount()} on the same thread.
     */
    public static long progQuery(int targetFd, int attachType, int queryFlags, MemorySegment ids) {
        Scratch s = Scratch.get();
        MemorySegment a = s.attr();
        a.set(JAVA_INT, Q + bpf_attr.query.target_fd$offset(), targetFd);
        a.set(JAVA_INT, Q + bpf_attr.query.attach_type$offset(), attachType);
        a.set(JAVA_INT, Q + bpf_attr.query.query_flags$offset(), queryFlags);
        a.set(JAVA_LONG, Q + bpf_attr.query.prog_ids$offset(), ids.address());
        a.set(JAVA_INT, Q + bpf_attr.query.prog_cnt$offset(), (int) (ids.byteSize() / 4));
        return bpf(s, LinuxBpf.BPF_PROG_QUERY());
    }

    /** The prog_cnt the kernel wrote back by the last {@link #progQuery} on this thread. */
    public static int queryCount() {
        return Scratch.get().attr.get(JAVA_INT, Q + bpf_attr.query.prog_cnt$offset());
    }

    /** The attach_flags the kernel wrote back by the last {@link #progQuery} on this thread. */
    public static int queryAttachFlags() {
        return Scratch.get().attr.get(JAVA_INT, Q + bpf_attr.query.attach_flags$offset());
    }

    /** BPF_LINK_CREATE: returns a link fd or -errno. */
    public static long linkCreate(int progFd, int targetFd, int attachType, int flags) {
        Scratch s = Scratch.get();
        MemorySegment a = s.attr();
        a.set(JAVA_INT, LC + bpf_attr.link_create.prog_fd$offset(), progFd);
        a.set(JAVA_INT, LC + bpf_attr.link_create.target_fd$offset(), targetFd);
        a.set(JAVA_INT, LC + bpf_attr.link_create.attach_type$offset(), attachType);
        a.set(JAVA_INT, LC + bpf_attr.link_create.flags$offset(), flags);
        return bpf(s, LinuxBpf.BPF_LINK_CREATE());
    }

    private static final long LU = bpf_attr.link_update$offset();

    /**
     * BPF_LINK_UPDATE: swaps the link's program for {@code newProg}; with {@code oldProg >= 0}
     * (BPF_F_REPLACE) only if the link still runs {@code oldProg}.
     */
    public static long linkUpdate(int linkFd, int newProg, int oldProg) {
        Scratch s = Scratch.get();
        MemorySegment a = s.attr();
        a.set(JAVA_INT, LU + bpf_attr.link_update.link_fd$offset(), linkFd);
        a.set(JAVA_INT, LU + bpf_attr.link_update.new_prog_fd$offset(), newProg);
        if (oldProg >= 0) {
            a.set(JAVA_INT, LU + bpf_attr.link_update.flags$offset(), LinuxBpf.BPF_F_REPLACE());
            a.set(JAVA_INT, LU + bpf_attr.link_update.old_prog_fd$offset(), oldProg);
        }
        return bpf(s, LinuxBpf.BPF_LINK_UPDATE());
    }

    /**
     * BPF_LINK_CREATE of a BPF iterator (BPF_TRACE_ITER) over the map {@code mapFd}
     * ({@code union bpf_iter_link_info.map.map_fd}); returns the link fd or -errno.
     */
    public static long iterLinkCreate(int progFd, int mapFd) {
        Scratch s = Scratch.get();
        MemorySegment a = s.attr();
        MemorySegment info = s.misc.asSlice(2048, 16);
        info.fill((byte) 0);
        info.set(JAVA_INT, 0, mapFd);
        a.set(JAVA_INT, LC + bpf_attr.link_create.prog_fd$offset(), progFd);
        a.set(JAVA_INT, LC + bpf_attr.link_create.attach_type$offset(), LinuxBpf.BPF_TRACE_ITER());
        a.set(JAVA_LONG, LC + bpf_attr.link_create.iter_info$offset(), info.address());
        a.set(JAVA_INT, LC + bpf_attr.link_create.iter_info_len$offset(), 4);
        return bpf(s, LinuxBpf.BPF_LINK_CREATE());
    }

    /** BPF_ITER_CREATE: a readable fd that runs the iterator link {@code linkFd}. */
    public static long iterCreate(int linkFd) {
        Scratch s = Scratch.get();
        MemorySegment a = s.attr();
        a.set(JAVA_INT, bpf_attr.iter_create$offset() + bpf_attr.iter_create.link_fd$offset(), linkFd);
        return bpf(s, LinuxBpf.BPF_ITER_CREATE());
    }

    /** BPF_LINK_DETACH: forcibly detaches a link while its fd stays open. */
    public static long linkDetach(int linkFd) {
        Scratch s = Scratch.get();
        MemorySegment a = s.attr();
        a.set(JAVA_INT, LD + bpf_attr.link_detach.link_fd$offset(), linkFd);
        return bpf(s, LinuxBpf.BPF_LINK_DETACH());
    }
}
