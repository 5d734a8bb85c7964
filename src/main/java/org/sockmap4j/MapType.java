package org.sockmap4j;

/**
 * The BPF map types sockmap4j knows by name ({@code enum bpf_map_type} in {@code linux/bpf.h}).
 * Other types are reported as {@link #OTHER}.
 */
public enum MapType {
    HASH(1), ARRAY(2), PERCPU_HASH(5), PERCPU_ARRAY(6), LPM_TRIE(11),
    /** {@code BPF_MAP_TYPE_SOCKMAP}: sockets by u32 index; Linux 4.14+. */
    SOCKMAP(15),
    /** {@code BPF_MAP_TYPE_SOCKHASH}: sockets by a key of any size; Linux 4.18+. */
    SOCKHASH(18),
    /** Any type not named here. */
    OTHER(-1);

    private final int value;

    MapType(int value) {
        this.value = value;
    }

    /** The kernel's number for the type, or -1 for {@link #OTHER}. */
    public int value() {
        return value;
    }

    /** The constant for the kernel's number {@code type}. */
    public static MapType of(int type) {
        for (MapType t : values()) {
            if (t.value == type) {
                return t;
            }
        }
        return OTHER;
    }
}
