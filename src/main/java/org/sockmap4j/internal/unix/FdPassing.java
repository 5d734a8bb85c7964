package org.sockmap4j.internal.unix;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;

import org.sockmap4j.internal.sys.Scratch;
import org.sockmap4j.internal.sys.Syscall;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The two ways the SREcon23 talk names to get a socket from elsewhere: fd handover over a UNIX
 * socket with SCM_RIGHTS ({@code sendmsg}/{@code recvmsg}, one byte of payload), and
 * {@code pidfd_open} + {@code pidfd_getfd} (Linux 5.6+, CAP_SYS_PTRACE over the target).
 * Every method returns an fd / byte count or {@code -errno}.
 */
public final class FdPassing {
    private FdPassing() {}

    static final StructLayout IOVEC = MemoryLayout.structLayout(
            ADDRESS.withName("iov_base"), JAVA_LONG.withName("iov_len"));
    static final StructLayout MSGHDR = MemoryLayout.structLayout(
            ADDRESS.withName("msg_name"), JAVA_INT.withName("msg_namelen"), MemoryLayout.paddingLayout(4),
            ADDRESS.withName("msg_iov"), JAVA_LONG.withName("msg_iovlen"),
            ADDRESS.withName("msg_control"), JAVA_LONG.withName("msg_controllen"),
            JAVA_INT.withName("msg_flags"), MemoryLayout.paddingLayout(4));
    static final StructLayout CMSGHDR = MemoryLayout.structLayout(
            JAVA_LONG.withName("cmsg_len"), JAVA_INT.withName("cmsg_level"), JAVA_INT.withName("cmsg_type"));

    private static final VarHandle IOV_BASE = IOVEC.varHandle(groupElement("iov_base"));
    private static final VarHandle IOV_LEN = IOVEC.varHandle(groupElement("iov_len"));
    private static final VarHandle MSG_IOV = MSGHDR.varHandle(groupElement("msg_iov"));
    private static final VarHandle MSG_IOVLEN = MSGHDR.varHandle(groupElement("msg_iovlen"));
    private static final VarHandle MSG_CONTROL = MSGHDR.varHandle(groupElement("msg_control"));
    private static final VarHandle MSG_CONTROLLEN = MSGHDR.varHandle(groupElement("msg_controllen"));
    private static final VarHandle MSG_FLAGS = MSGHDR.varHandle(groupElement("msg_flags"));
    private static final VarHandle CMSG_LEN = CMSGHDR.varHandle(groupElement("cmsg_len"));
    private static final VarHandle CMSG_LEVEL = CMSGHDR.varHandle(groupElement("cmsg_level"));
    private static final VarHandle CMSG_TYPE = CMSGHDR.varHandle(groupElement("cmsg_type"));

    /** CMSG_LEN(sizeof(int)) and CMSG_SPACE(sizeof(int)) on LP64. */
    private static final long CMSG_DATA = CMSGHDR.byteSize();
    private static final long CMSG_LEN_INT = CMSG_DATA + 4;
    private static final long CMSG_SPACE_INT = CMSG_DATA + 8;
    /** Room for up to 16 fds on receive, so extra fds a peer sends can be closed, not leaked. */
    private static final int MAX_FDS = 16;
    private static final long CMSG_SPACE_RECV = CMSG_DATA + 4L * MAX_FDS;
    private static final int MSG_CTRUNC = 0x8;

    private record Msg(MemorySegment hdr, MemorySegment iov, MemorySegment data, MemorySegment control) {}

    private static Msg prepare() {
        MemorySegment m = Scratch.get().misc;
        m.asSlice(1024, 256).fill((byte) 0);
        Msg msg = new Msg(m.asSlice(1024, MSGHDR.byteSize()), m.asSlice(1088, IOVEC.byteSize()),
                m.asSlice(1112, 8), m.asSlice(1128, CMSG_SPACE_RECV));
        IOV_BASE.set(msg.iov, 0L, msg.data);
        IOV_LEN.set(msg.iov, 0L, 1L);
        MSG_IOV.set(msg.hdr, 0L, msg.iov);
        MSG_IOVLEN.set(msg.hdr, 0L, 1L);
        MSG_CONTROL.set(msg.hdr, 0L, msg.control);
        MSG_CONTROLLEN.set(msg.hdr, 0L, CMSG_SPACE_INT);
        return msg;
    }

    /** Sends {@code fd} over the connected UNIX socket {@code via} with one byte of payload. */
    public static long send(int via, int fd) {
        Msg msg = prepare();
        msg.data.set(JAVA_BYTE, 0, (byte) 'F');
        CMSG_LEN.set(msg.control, 0L, CMSG_LEN_INT);
        CMSG_LEVEL.set(msg.control, 0L, Libc.SOL_SOCKET);
        CMSG_TYPE.set(msg.control, 0L, Libc.SCM_RIGHTS);
        msg.control.set(JAVA_INT, CMSG_DATA, fd);
        return Libc.sendmsg(via, msg.hdr, 0);
    }

    /**
     * Receives one fd sent by {@link #send} (close-on-exec). Returns the new fd, {@code -errno},
     * {@code -ENOENT}... for "no fd came with the message" it returns {@code -EBADMSG} (74), and
     * 0 bytes (peer closed) gives {@code -ECONNRESET} (104).
     */
    public static long receive(int via) {
        Msg msg = prepare();
        msg.control.fill((byte) 0);
        MSG_CONTROLLEN.set(msg.hdr, 0L, CMSG_SPACE_RECV);
        long n = Libc.recvmsg(via, msg.hdr, Libc.MSG_CMSG_CLOEXEC);
        if (n < 0) {
            return n;
        }
        long clen = (long) MSG_CONTROLLEN.get(msg.hdr, 0L);
        int flags = (int) MSG_FLAGS.get(msg.hdr, 0L);
        boolean rights = clen >= CMSG_LEN_INT && (int) CMSG_LEVEL.get(msg.control, 0L) == Libc.SOL_SOCKET
                && (int) CMSG_TYPE.get(msg.control, 0L) == Libc.SCM_RIGHTS;
        // every fd the kernel installed is ours to close, whatever else is wrong with the message
        int count = rights ? (int) Math.min(MAX_FDS, ((long) CMSG_LEN.get(msg.control, 0L) - CMSG_DATA) / 4) : 0;
        int first = count > 0 ? msg.control.get(JAVA_INT, CMSG_DATA) : -1;
        for (int i = 1; i < count; i++) {
            Libc.close(msg.control.get(JAVA_INT, CMSG_DATA + 4L * i));
        }
        if (n == 0 && count == 0) {
            return -104;
        }
        if (count == 0 || (flags & MSG_CTRUNC) != 0) {
            if (first >= 0) {
                Libc.close(first);
            }
            return -74;
        }
        return first;
    }

    /** {@code pidfd_open(pid, 0)}: Linux 5.3+. */
    public static long pidfdOpen(long pid) {
        return Syscall.call(Scratch.get().capture, Syscall.NR_PIDFD_OPEN, pid, 0L, 0L);
    }

    /** {@code pidfd_getfd(pidfd, targetFd, 0)}: Linux 5.6+, needs PTRACE_MODE_ATTACH_REALCREDS. */
    public static long pidfdGetfd(int pidfd, int targetFd) {
        return Syscall.call(Scratch.get().capture, Syscall.NR_PIDFD_GETFD, pidfd, targetFd, 0L);
    }
}
