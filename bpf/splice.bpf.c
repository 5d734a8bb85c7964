// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/* Kernel-spliced TCP proxying (SREcon23 "L7 network proxy", ingress to egress). Every socket of a
 * spliced pair sits, under its cookie, in two maps: targets (no programs: a place to redirect to)
 * and socks (with this verdict attached: whose received data is redirected). peers maps each
 * cookie to its partner's. User space puts both sockets in targets before either enters socks, so
 * a redirect never finds its target missing. The verdict sends what one side receives out of the
 * other side, counting the bytes per socket. A socket with no partner, or whose partner is gone,
 * keeps its data (SK_PASS) so user space can forward it: nothing is dropped silently. */
#include "sockmap4j.h"

struct sm4j_peer {
	__u64 peer;	/* cookie of the other side */
	__u64 bytes;	/* bytes received on this side and sent out of the other */
};

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u64);
} socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u64);
} targets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct sm4j_peer);
} peers SEC(".maps");

SM4J_COUNTERS_MAP;

SEC("sk_skb")
int splice_verdict(struct __sk_buff *skb)
{
	__u64 cookie = bpf_get_socket_cookie(skb);
	__u64 len = skb->len;
	struct sm4j_peer *p = bpf_map_lookup_elem(&peers, &cookie);

	/* An empty skb is a FIN without data. TCP has already taken the FIN (user space sees end of
	 * stream either way), so drop the empty skb: redirected, the partner's transmit path would
	 * report EPIPE and stop; passed while this socket's own redirect backlog is not empty, it
	 * would be queued behind it and hit the same zero-length error there (Linux 6.x). */
	if (len == 0) {
		sm4j_count(&counters, SM4J_DROP_MSGS, 0);
		return SK_DROP;
	}
	/* No partner: keep the data here, where user space reads and forwards it. */
	if (!p) {
		sm4j_count(&counters, SM4J_PASS_MSGS, len);
		return SK_PASS;
	}
	if (bpf_sk_redirect_hash(skb, &targets, &p->peer, 0) != SK_PASS) {
		sm4j_count(&counters, SM4J_PASS_MSGS, len);
		return SK_PASS;
	}
	__sync_fetch_and_add(&p->bytes, len);
	sm4j_count(&counters, SM4J_REDIRECT_MSGS, len);
	return SK_PASS;
}

SEC("sk_skb/stream_parser")
int splice_parser(struct __sk_buff *skb)
{
	return skb->len;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
