package org.sockmap4j;

/** The BPF program types ({@code enum bpf_prog_type}) sockmap4j attaches. */
public enum ProgramType {
    /** {@code BPF_PROG_TYPE_SOCK_OPS}: TCP socket events on a cgroup; Linux 4.13+. */
    SOCK_OPS(13),
    /** {@code BPF_PROG_TYPE_SK_SKB}: received data of sockets in a socket map; Linux 4.14+. */
    SK_SKB(14),
    /** {@code BPF_PROG_TYPE_SK_MSG}: sent data of sockets in a socket map; Linux 4.17+. */
    SK_MSG(16),
    /** {@code BPF_PROG_TYPE_TRACING}, here as a BPF iterator ({@code iter/sockmap}, Linux 5.10+). */
    TRACING(26),
    /** Any other type. */
    OTHER(-1);

    private final int value;

    ProgramType(int value) {
        this.value = value;
    }

    /** The kernel's number for the type, or -1. */
    public int value() {
        return value;
    }

    static ProgramType of(int v) {
        for (ProgramType t : values()) {
            if (t.value == v) {
                return t;
            }
        }
        return OTHER;
    }
}
