// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/* A sockmap iterator (SEC("iter/sockmap"), Linux 5.10+): walks the SOCKMAP or SOCKHASH given
 * when the iterator is created and copies every socket into the SOCKMAP "dst" under the same u32
 * key (the talk: "copying socket references from one SOCKMAP to another"). Writes one line per
 * element to the iterator's output: "key cookie". */
#include "sockmap4j.h"

/* The kernel's iterator context, only the fields used; relocated by CO-RE against the kernel. */
struct sock;
struct bpf_iter_meta {
	void *seq;
	__u64 session_id;
	__u64 seq_num;
} __attribute__((preserve_access_index));

struct bpf_iter__sockmap {
	struct bpf_iter_meta *meta;
	void *map;
	void *key;
	struct sock *sk;
} __attribute__((preserve_access_index));

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} dst SEC(".maps");

SEC("iter/sockmap")
int copy_sockmap(struct bpf_iter__sockmap *ctx)
{
	struct sock *sk = ctx->sk;
	__u32 *key = ctx->key;
	__u32 k;

	if (!key || !sk)
		return 0;
	k = *key;
	if (bpf_map_update_elem(&dst, &k, sk, BPF_ANY) == 0)
		BPF_SEQ_PRINTF(ctx->meta->seq, "%u %llu\n", k, bpf_get_socket_cookie(sk));
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
