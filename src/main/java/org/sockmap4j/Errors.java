package org.sockmap4j;

/**
 * Turns an errno from a named kernel operation into the matching typed {@link BpfException},
 * with a hint a user can act on. The one place that decides which errno means what.
 */
final class Errors {
    private Errors() {}

    /** What the failed call was doing, for hints that depend on it. */
    enum Op {
        GENERIC, CREATE, INSERT, LOOKUP, DELETE, ITERATE, PIN, OPEN_PINNED, OPEN_FILE, LOAD, INFO, ATTACH, SOCKET
    }

    static final String PRIVILEGE_HINT =
            "needs root or CAP_BPF+CAP_NET_ADMIN (CAP_SYS_ADMIN on kernels before 5.8)";
    static final String SOCKET_KINDS_HINT = "a socket map takes established or listening TCP, bound UDP, "
            + "connected UNIX stream, UNIX dgram or connected VSOCK sockets; a map with a stream parser "
            + "attached takes TCP only";

    static BpfException of(String operation, String object, int errno, Op op) {
        return of(operation, object, errno, op, "");
    }

    /**
     * As {@link #of(String, String, int, Op)}, with what the failing library said about it (e.g.
     * libbpf's last log line) at the end of the hint.
     */
    static BpfException of(String operation, String object, int errno, Op op, String said) {
        Errno e = Errno.of(errno);
        String hint = errno >= LIBBPF_ERRNO_START && errno < LIBBPF_ERRNO_START + 100
                ? libbpfHint(errno)
                : hint(e, op);
        if (said != null && !said.isBlank()) {
            hint = hint + (hint.isEmpty() ? "" : "; ") + "libbpf said: " + said.strip();
        }
        return switch (e) {
            case ENOENT -> op == Op.PIN || op == Op.OPEN_PINNED || op == Op.OPEN_FILE || op == Op.LOAD
                    || op == Op.ATTACH
                    ? new BpfException(operation, object, errno, hint)
                    : new KeyNotFoundException(operation, object, errno, hint);
            case EEXIST -> op == Op.PIN || op == Op.LOAD
                    ? new BpfException(operation, object, errno, hint)
                    : new KeyExistsException(operation, object, errno, hint);
            case EPERM, EACCES -> new PermissionException(operation, object, errno, hint);
            case EOPNOTSUPP, ENOTSUPP -> op == Op.INSERT
                    ? new UnsupportedSocketException(operation, object, errno, hint)
                    : new BpfException(operation, object, errno, hint);
            case E2BIG -> op == Op.INSERT
                    ? new MapFullException(operation, object, errno, hint)
                    : new BpfException(operation, object, errno, hint);
            default -> new BpfException(operation, object, errno, hint);
        };
    }

    /** libbpf's own error codes (LIBBPF_ERRNO__START = 4000 ...). */
    static final int LIBBPF_ERRNO_START = 4000;

    /** What libbpf's own error codes (libbpf.h, enum libbpf_errno) mean for the user. */
    static String libbpfHint(int code) {
        String what = switch (code - LIBBPF_ERRNO_START) {
            case 0 -> "libelf cannot read it: not a regular, complete ELF file";
            case 1 -> "not a BPF object: it must be a 64-bit relocatable ELF for EM_BPF in this machine's byte "
                    + "order, as clang -target bpf -c writes it";
            case 3 -> "its byte order differs from this machine's (compile with -target bpfel or bpfeb to match)";
            default -> "not a valid BPF ELF object, or one this libbpf cannot read";
        };
        return "libbpf error " + code + ": " + what;
    }

    static String hint(Errno e, Op op) {
        return switch (e) {
            case UNKNOWN -> "";
            case EPERM, EACCES -> switch (op) {
                case PIN -> "the directory must be on a bpffs mount (mount -t bpf bpf /sys/fs/bpf) and writable "
                        + "by this user, and the name must not contain a '.'; otherwise: " + PRIVILEGE_HINT;
                case OPEN_PINNED -> "the path is not a pinned BPF object, or its permissions deny access; "
                        + "otherwise: " + PRIVILEGE_HINT;
                default -> PRIVILEGE_HINT;
            };
            case EOPNOTSUPP, ENOTSUPP -> op == Op.INSERT ? SOCKET_KINDS_HINT
                    : "this kernel does not support the operation";
            case E2BIG -> op == Op.INSERT ? "the map is full or the index is not below max_entries"
                    : "an argument is larger than the kernel accepts";
            case ENOENT -> switch (op) {
                case PIN, OPEN_PINNED -> "no such path; is bpffs mounted (mount -t bpf bpf /sys/fs/bpf)?";
                case OPEN_FILE -> "no such file; check the path";
                case LOAD -> "something the object needs is missing (a kernel function, BTF or attach target)";
                case ITERATE -> "no more keys";
                case ATTACH -> "the cgroup was removed (its directory fd answers ENOENT once rmdir succeeded), "
                        + "or the program is not attached there";
                default -> "no socket at this key; closed sockets leave the map by themselves";
            };
            case EEXIST -> op == Op.PIN ? "the path already exists; unlink it or pin elsewhere"
                    : "the key already holds a socket; use UpdateFlag.ANY or EXIST to replace it";
            case EBUSY -> op == Op.INSERT
                    ? "the socket is leaving its last socket map on another thread (its psock is being torn "
                            + "down); the map is unchanged and a retry succeeds once that removal is done"
                    : "the resource is in use (e.g. skb_verdict and stream_verdict on one map)";
            case ENOSPC -> op == Op.LOOKUP
                    ? "a socket cookie lookup needs a map with an 8-byte value (value_size 8)"
                    : "no space left";
            case EBADF -> op == Op.INSERT ? "the socket fd is not open" : "a file descriptor is not open";
            case EINVAL -> switch (op) {
                case INSERT -> "the fd is negative or not a socket the map can take, or the flags are invalid";
                case CREATE -> "invalid map attributes: max_entries larger than the kernel allows for the map "
                        + "type, or a key or value size it refuses (sockmap: key 4; value 4 or 8)";
                case LOAD -> "the kernel refused a map or program of the object";
                case DELETE -> "the key is out of range or holds no socket";
                case OPEN_FILE -> "libbpf refused it: empty, or not a BPF ELF object";
                case ATTACH -> "the program's type or attach type does not fit this target";
                default -> "invalid argument";
            };
            case ENOTSOCK -> "the fd is not a socket";
            case ENOLINK -> "the link was detached (its cgroup was removed, or BPF_LINK_DETACH); close it";
            case ENOMEM -> "the kernel could not allocate memory (check RLIMIT_MEMLOCK on kernels before 5.11)";
            case ENOTDIR -> "a parent of the path is not a directory";
            default -> "";
        };
    }
}
