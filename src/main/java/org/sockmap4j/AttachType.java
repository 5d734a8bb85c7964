package org.sockmap4j;

import org.sockmap4j.internal.gen.bpf.LinuxBpf;

/**
 * The attach points ({@code enum bpf_attach_type}) of the programs sockmap4j attaches, with the
 * kernel version that introduced each.
 */
public enum AttachType {
    /** {@code BPF_SK_MSG_VERDICT}: an SK_MSG program on a socket map, run at sendmsg; Linux 4.17+. */
    SK_MSG_VERDICT(LinuxBpf.BPF_SK_MSG_VERDICT()),
    /** {@code BPF_SK_SKB_STREAM_PARSER}: frames received data into messages; Linux 4.14+. */
    SK_SKB_STREAM_PARSER(LinuxBpf.BPF_SK_SKB_STREAM_PARSER()),
    /** {@code BPF_SK_SKB_STREAM_VERDICT}: verdict on each parsed message; Linux 4.14+. */
    SK_SKB_STREAM_VERDICT(LinuxBpf.BPF_SK_SKB_STREAM_VERDICT()),
    /** {@code BPF_SK_SKB_VERDICT}: verdict on each skb without a parser (TCP, UDP, UNIX); Linux 5.13+. */
    SK_SKB_VERDICT(LinuxBpf.BPF_SK_SKB_VERDICT()),
    /** {@code BPF_CGROUP_SOCK_OPS}: a SOCK_OPS program on a cgroup v2 directory; Linux 4.13+. */
    CGROUP_SOCK_OPS(LinuxBpf.BPF_CGROUP_SOCK_OPS());

    private final int value;

    AttachType(int value) {
        this.value = value;
    }

    /** The kernel's number for this attach type. */
    public int value() {
        return value;
    }
}
