package org.sockmap4j;

import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;

import org.sockmap4j.internal.sys.Bpf;
import org.sockmap4j.internal.sys.Fd;
import org.sockmap4j.internal.sys.ObjInfo;

/**
 * A program attached to a socket map or a cgroup; {@link #close()} detaches it (idempotent).
 * Either a BPF link ({@code BPF_LINK_CREATE}: cgroup links Linux 5.7+, socket map links 6.10+),
 * which the kernel detaches when its last fd or pin goes away, or a {@code BPF_PROG_ATTACH}, which
 * this object detaches with {@code BPF_PROG_DETACH}; for that it keeps its own duplicates of the
 * target and program fds, so closing the map or program first does not prevent the detach.
 *
 * <p><b>Closing in any order.</b> Closing the {@link BpfObject}, the {@link Program} and the map
 * or {@link Cgroup} handles while this attachment is open closes their fds, but not the
 * attachment: the kernel keeps the program (and, for a socket map link, the map) alive and
 * attached. {@link #isClosed()}, {@link #linkId()}, {@link #pin(Path)}, {@link #update(Program)}
 * and {@link #close()} keep working (the closed handles themselves throw
 * {@link IllegalStateException}); {@link #close()} detaches, and the kernel then frees the
 * program and map if nothing else holds them.
 *
 * <p><b>Forgotten attachments.</b> If this object becomes unreachable without {@link #close()},
 * a Cleaner closes its fds and logs a warning. For a link that detaches it (unless the link is
 * pinned). A PROG_ATTACH stays attached (as when a process exits without detaching) until it is
 * detached by another handle or the cgroup is removed; for a socket map, until the map is freed.
 */
public final class Attachment implements AutoCloseable {
    private final Fd link;
    private final Fd target;
    private final Fd prog;
    private final Program.What what;
    private final AttachType type;
    /** For a PROG_ATTACH: set by the one {@link #close()} that detaches. */
    private final AtomicBoolean detaching = new AtomicBoolean();

    private Attachment(Fd link, Fd target, Fd prog, Program.What what, AttachType type) {
        this.link = link;
        this.target = target;
        this.prog = prog;
        this.what = what;
        this.type = type;
    }

    static Attachment link(Fd link, Program.What what, AttachType type) {
        return new Attachment(link, null, null, what, type);
    }

    static Attachment progAttach(Fd target, Fd prog, Program.What what, AttachType type) {
        return new Attachment(null, target, prog, what, type);
    }

    /** True for a BPF link, false for a PROG_ATTACH. */
    public boolean isLink() {
        return link != null;
    }

    /** The attach point. */
    public AttachType attachType() {
        return type;
    }

    /** The link's kernel id ({@code bpftool link show id N}); only for links. */
    public int linkId() {
        if (link == null) {
            throw new IllegalStateException("Attachment.linkId: " + what + " is a PROG_ATTACH, not a link; "
                    + "attach with AttachMode.LINK to get one");
        }
        int[] err = new int[1];
        ObjInfo.Link l;
        int n = link.acquire();
        try {
            l = ObjInfo.link(n, err);
        } finally {
            link.release();
        }
        if (l == null) {
            throw Errors.of("BPF_OBJ_GET_INFO_BY_FD", what.toString(), err[0], Errors.Op.INFO);
        }
        return l.id();
    }

    /**
     * Pins the link on bpffs, so the attachment outlives this process until the pin is removed.
     * Only links can be pinned. The pin gets mode {@code 0600} ({@code rw-------}). A pin lives
     * as long as its bpffs: if that is unmounted, a link that only the pin kept is detached.
     */
    public void pin(Path path) {
        pin(path, Pins.OWNER_ONLY);
    }

    /** As {@link #pin(Path)}, with the pin's permissions set to {@code permissions}. */
    public void pin(Path path, Set<PosixFilePermission> permissions) {
        if (link == null) {
            throw new IllegalStateException("Attachment.pin: " + what + " is a PROG_ATTACH; only links can be pinned "
                    + "(attach with AttachMode.LINK)");
        }
        int n = link.acquire();
        try {
            Pins.pin(n, path, what.toString(), permissions);
        } finally {
            link.release();
        }
    }

    /**
     * Replaces the link's program with {@code program} ({@code BPF_LINK_UPDATE}, Linux 5.7+ for
     * cgroup links, 6.10+ for socket map links) without a moment of no program. Links only. For a
     * socket map, sockets already in the map keep the program they had when inserted.
     *
     * @throws BpfException with EINVAL if the program's type does not fit the link; with ENOLINK
     *     if the kernel detached the link (its cgroup was removed)
     */
    public void update(Program program) {
        updateLink(program, null);
    }

    /**
     * As {@link #update(Program)}, but only if the link still runs {@code expected}
     * ({@code BPF_F_REPLACE}); otherwise fails with EPERM.
     */
    public void update(Program program, Program expected) {
        updateLink(program, expected);
    }

    private void updateLink(Program program, Program expected) {
        if (link == null) {
            throw new IllegalStateException("Attachment.update: " + what + " is a PROG_ATTACH; only links can be "
                    + "updated (attach with AttachMode.LINK)");
        }
        long r = updateLink(program.fd, expected == null ? null : expected.fd);
        if (r == -Errno.EPERM.code() && expected != null) {
            throw new BpfException("BPF_LINK_UPDATE", what + " to " + program, (int) -r,
                    "the link no longer runs the expected program " + expected);
        }
        if (r < 0) {
            throw Errors.of("BPF_LINK_UPDATE", what + " to " + program, (int) -r, Errors.Op.ATTACH);
        }
    }

    /** BPF_LINK_UPDATE with the link's, the new program's and the expected program's fds acquired. */
    private long updateLink(Fd program, Fd expected) {
        int n = link.acquire();
        try {
            int p = program.acquire();
            try {
                if (expected == null) {
                    return Bpf.linkUpdate(n, p, -1);
                }
                int old = expected.acquire();
                try {
                    return Bpf.linkUpdate(n, p, old);
                } finally {
                    expected.release();
                }
            } finally {
                program.release();
            }
        } finally {
            link.release();
        }
    }

    public boolean isClosed() {
        return link != null ? link.isClosed() : prog.isClosed();
    }

    /**
     * Detaches (a link stays attached while a pin of it exists). For a socket map, sockets already
     * in the map keep running the program until they are removed from it.
     */
    @Override
    public void close() {
        if (link != null) {
            link.close();
            return;
        }
        if (!detaching.compareAndSet(false, true)) {
            return; // closed already, or another thread is detaching
        }
        try {
            long r = Bpf.progDetach(target.get(), prog.get(), type.value()); // only this thread closes them
            if (r < 0 && r != -Errno.ENOENT.code()) {
                throw Errors.of("BPF_PROG_DETACH", what.toString(), (int) -r, Errors.Op.ATTACH);
            }
        } finally {
            prog.close();
            target.close();
        }
    }

    @Override
    public String toString() {
        return (link != null ? "link " : "prog_attach ") + what + (isClosed() ? " (closed)" : "");
    }
}
