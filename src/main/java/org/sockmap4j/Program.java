package org.sockmap4j;

import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Set;

import org.sockmap4j.internal.sys.ApiCall;
import org.sockmap4j.internal.sys.Bpf;
import org.sockmap4j.internal.sys.Fd;
import org.sockmap4j.internal.sys.ObjInfo;

/**
 * A loaded BPF program of one of the kinds sockmap4j attaches: {@link SkMsgProgram},
 * {@link SkSkbProgram} or {@link SockOpsProgram}. Each kind only attaches where the kernel allows
 * it, so a wrong attachment does not compile. Owns one program fd; closing it does not detach
 * attachments already made (they hold their own references).
 */
public abstract sealed class Program implements AutoCloseable permits SkMsgProgram, SkSkbProgram, SockOpsProgram, SockMapIterProgram {
    final Fd fd;
    final String name;

    Program(Fd fd, String name) {
        this.fd = fd;
        this.name = name;
    }

    /** The program's kernel type. */
    public abstract ProgramType type();

    /** The program's name (its C function name, up to 15 characters in the kernel). */
    public final String name() {
        return name;
    }

    /** The program's kernel id (as {@code bpftool prog show id N} uses). */
    public final int id() {
        int[] err = new int[1];
        ObjInfo.Prog p;
        int prog = fd.acquire();
        try {
            p = ObjInfo.prog(prog, err);
        } finally {
            fd.release();
        }
        if (p == null) {
            throw Errors.of("BPF_OBJ_GET_INFO_BY_FD", describe(), err[0], Errors.Op.INFO);
        }
        return p.id();
    }

    /** The fd, owned by this object; for interop only. */
    public final int fd() {
        return fd.get();
    }

    /**
     * Pins the program on bpffs ({@code BPF_OBJ_PIN}) with mode {@code 0600} ({@code rw-------}):
     * only its owner (or a process with {@code CAP_DAC_OVERRIDE}) can reopen it. The pin lives as
     * long as its bpffs mount; open handles outlive an unmount.
     */
    public final void pin(Path path) {
        pin(path, Pins.OWNER_ONLY);
    }

    /** As {@link #pin(Path)}, with the pin's permissions set to {@code permissions}. */
    public final void pin(Path path, Set<PosixFilePermission> permissions) {
        int prog = fd.acquire();
        try {
            Pins.pin(prog, path, describe(), permissions);
        } finally {
            fd.release();
        }
    }

    public final boolean isClosed() {
        return fd.isClosed();
    }

    /**
     * Releases the program fd. Idempotent and thread-safe: later calls throw
     * {@link IllegalStateException}; a call in progress on another thread completes first.
     */
    @Override
    public final void close() {
        fd.close();
    }

    private String description;

    final String describe() {
        String d = description;
        if (d == null) {
            d = type().name().toLowerCase() + " program '" + name + "'";
            description = d;
        }
        return d;
    }

    @Override
    public final String toString() {
        return describe() + (fd.isClosed() ? " (closed)" : "");
    }

    /** Opens a pinned program and checks its type; returns the fd and fills the name. */
    static Fd openPinned(Path path, ProgramType expected, String[] nameOut) {
        Fd fd = Pins.open(path, "program");
        int[] err = new int[1];
        ObjInfo.Prog p = ObjInfo.prog(fd.get(), err);
        if (p == null || p.type() != expected.value()) {
            fd.close();
            if (p == null) {
                throw Errors.of("BPF_OBJ_GET_INFO_BY_FD", path.toString(), err[0], Errors.Op.INFO);
            }
            throw new IllegalArgumentException(ApiCall.name() + ": the program pinned at " + path + " is of type "
                    + ProgramType.of(p.type()) + " (" + p.type() + "), not " + expected
                    + "; open it with the class of its type");
        }
        nameOut[0] = p.name();
        return fd;
    }

    /** Describes an attachment lazily (no string work on the success path). */
    record What(String program, String target, AttachType type) {
        @Override
        public String toString() {
            return program + " -> " + target + " (" + type + ")";
        }
    }

    /**
     * Attaches to {@code target} at {@code type}; see {@link AttachMode}. On a kernel that lacks
     * the link type or the attach type, throws the {@link NotSupportedException} naming it.
     */
    final Attachment attach(Fd target, String targetDesc, AttachType type, AttachMode mode, int progAttachFlags) {
        int prog = fd.acquire();
        try {
            int tgt = target.acquire();
            try {
                return attach(prog, tgt, target, targetDesc, type, mode, progAttachFlags);
            } finally {
                target.release();
            }
        } finally {
            fd.release();
        }
    }

    /** {@link #attach(Fd, String, AttachType, AttachMode, int)} with both numbers acquired. */
    private Attachment attach(int prog, int tgt, Fd target, String targetDesc, AttachType type, AttachMode mode,
            int progAttachFlags) {
        What what = new What(describe(), targetDesc, type);
        if (mode != AttachMode.PROG_ATTACH) {
            long r = Bpf.linkCreate(prog, tgt, type.value(), 0);
            if (r >= 0) {
                return Attachment.link(Fd.own((int) r, what), what, type);
            }
            int e = (int) -r;
            boolean noSuchLink = e == Errno.EINVAL.code() || e == Errno.EOPNOTSUPP.code()
                    || e == Errno.ENOTSUPP.code() || e == Errno.EPROTOTYPE.code();
            if (mode == AttachMode.LINK && noSuchLink) {
                NotSupportedException ns = KernelFeatures.lacking(type == AttachType.CGROUP_SOCK_OPS
                        ? KernelFeatures.Feature.CGROUP_LINK : KernelFeatures.Feature.SOCKMAP_LINK,
                        "BPF_LINK_CREATE " + what, e);
                if (ns != null) {
                    throw ns;
                }
            }
            if (mode == AttachMode.LINK || !noSuchLink) {
                throw Errors.of("BPF_LINK_CREATE", what.toString(), e, Errors.Op.ATTACH);
            }
        }
        long r = Bpf.progAttach(tgt, prog, type.value(), progAttachFlags, 0);
        if (r < 0) {
            if (r == -Errno.EINVAL.code() && type == AttachType.SK_SKB_VERDICT) {
                NotSupportedException ns = KernelFeatures.lacking(KernelFeatures.Feature.ATTACH_SK_SKB_VERDICT,
                        "BPF_PROG_ATTACH " + what, (int) -r);
                if (ns != null) {
                    throw ns;
                }
            }
            throw Errors.of("BPF_PROG_ATTACH", what.toString(), (int) -r, Errors.Op.ATTACH);
        }
        // the Attachment keeps its own copies of both numbers (they must outlive this program's
        // and the target's handles); the numbers are acquired here, so dup them directly: a
        // second acquire would throw if a close arrived meanwhile, after the kernel attached
        Fd targetCopy = null;
        try {
            targetCopy = dup(tgt, target.what());
            return Attachment.progAttach(targetCopy, dup(prog, fd.what()), what, type);
        } catch (RuntimeException e) {
            if (targetCopy != null) {
                targetCopy.close();
            }
            Bpf.progDetach(tgt, prog, type.value()); // undo: no handle would be left to detach it
            throw e;
        }
    }

    /** A copy of {@code n}, an acquired fd number, owned by the returned Fd. */
    private static Fd dup(int n, String what) {
        int copy = org.sockmap4j.internal.unix.Libc.fcntl(n, org.sockmap4j.internal.unix.Libc.F_DUPFD_CLOEXEC, 3);
        if (copy < 0) {
            throw Errors.of("fcntl(F_DUPFD_CLOEXEC)", what, -copy, Errors.Op.GENERIC);
        }
        return Fd.own(copy, what + " (dup)");
    }
}
