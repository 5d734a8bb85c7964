package org.sockmap4j;

/**
 * How {@code BPF_MAP_UPDATE_ELEM} treats an existing entry: the kernel's {@code BPF_ANY},
 * {@code BPF_NOEXIST} and {@code BPF_EXIST} flags (Linux 3.19+; for socket maps 4.14+).
 */
public enum UpdateFlag {
    /** {@code BPF_ANY}: create the entry or replace the socket it holds. */
    ANY(0),
    /** {@code BPF_NOEXIST}: create only; a taken key fails with {@link KeyExistsException}. */
    NOEXIST(1),
    /**
     * {@code BPF_EXIST}: replace only; an empty key fails with {@link KeyNotFoundException}
     * (a SOCKMAP slot with no socket counts as empty).
     */
    EXIST(2);

    private final int value;

    UpdateFlag(int value) {
        this.value = value;
    }

    /** The flag's value in {@code bpf_attr.flags}. */
    public int value() {
        return value;
    }
}
