package org.sockmap4j;

/**
 * The Linux {@code errno} values that {@code bpf(2)} and the socket calls return to sockmap4j,
 * by their kernel names. Carried by every {@link BpfException} so callers can branch on the
 * error without reading message text. Values are those of x86_64 and aarch64 Linux.
 */
public enum Errno {
    EPERM(1), ENOENT(2), ESRCH(3), EINTR(4), EIO(5), E2BIG(7), EBADF(9), EAGAIN(11), ENOMEM(12),
    EACCES(13), EFAULT(14), EBUSY(16), EEXIST(17), ENODEV(19), ENOTDIR(20), EINVAL(22), EMFILE(24),
    ENOSPC(28), EPIPE(32), ERANGE(34), ENOSYS(38), ENOLINK(67), ENOTSOCK(88), EPROTOTYPE(91), EOPNOTSUPP(95),
    EAFNOSUPPORT(97), ECONNRESET(104), ENOTCONN(107), ETIMEDOUT(110), ENOTSUPP(524),
    /** Any errno not named above; see {@link BpfException#errnoCode()} for the number. */
    UNKNOWN(-1);

    private final int code;

    Errno(int code) {
        this.code = code;
    }

    /** The number, or -1 for {@link #UNKNOWN}. */
    public int code() {
        return code;
    }

    private static final Errno[] BY_CODE = new Errno[525];

    static {
        for (Errno e : values()) {
            if (e.code > 0) {
                BY_CODE[e.code] = e;
            }
        }
    }

    /** The constant for {@code code}, or {@link #UNKNOWN}. */
    public static Errno of(int code) {
        Errno e = code > 0 && code < BY_CODE.length ? BY_CODE[code] : null;
        return e == null ? UNKNOWN : e;
    }
}
