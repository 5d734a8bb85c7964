package org.sockmap4j;

import java.nio.file.Path;

import org.sockmap4j.internal.gen.bpf.LinuxBpf;
import org.sockmap4j.internal.sys.Fd;

/**
 * A {@code BPF_PROG_TYPE_SOCK_OPS} program (Linux 4.13+): runs on TCP socket events of every
 * process in a cgroup v2 directory and its descendants, e.g. to insert established sockets into
 * a socket map ({@code bpf_sock_hash_update}).
 */
public final class SockOpsProgram extends Program {
    SockOpsProgram(Fd fd, String name) {
        super(fd, name);
    }

    @Override
    public ProgramType type() {
        return ProgramType.SOCK_OPS;
    }

    /** Opens a SOCK_OPS program pinned on bpffs. */
    public static SockOpsProgram openPinned(Path path) {
        String[] name = new String[1];
        return new SockOpsProgram(openPinned(path, ProgramType.SOCK_OPS, name), name[0]);
    }

    /** Attaches to the cgroup ({@code BPF_CGROUP_SOCK_OPS}; link when possible, Linux 5.7+). */
    public Attachment attach(Cgroup cgroup) {
        return attach(cgroup, AttachMode.AUTO);
    }

    /**
     * As {@link #attach(Cgroup)}, choosing link or PROG_ATTACH (then with
     * {@code BPF_F_ALLOW_MULTI}, so other programs on the cgroup stay).
     */
    public Attachment attach(Cgroup cgroup, AttachMode mode) {
        return attach(cgroup.fd, cgroup.toString(), AttachType.CGROUP_SOCK_OPS, mode, LinuxBpf.BPF_F_ALLOW_MULTI());
    }
}
