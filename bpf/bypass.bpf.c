// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/* Local bypass (SREcon23 "container networking"): sock_ops on a cgroup puts every established
 * TCP socket (active and passive) in a SOCKHASH keyed by its 4-tuple; sk_msg redirects each
 * message into the peer socket's receive queue (BPF_F_INGRESS). A message whose peer is not in
 * the map passes untouched: bpf_msg_redirect_hash returns SK_DROP for a missing key, so its
 * result is not returned blindly. */
#include "sockmap4j.h"

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65536);
	__type(key, struct sockmap4j_conn_key);
	__type(value, __u64);
} sock_hash SEC(".maps");

SM4J_COUNTERS_MAP;

SEC("sockops")
int bypass_sockops(struct bpf_sock_ops *ops)
{
	struct sockmap4j_conn_key key;

	if (ops->family != AF_INET && ops->family != AF_INET6)
		return 1;
	switch (ops->op) {
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		SM4J_KEY_FROM(key, ops);
		bpf_sock_hash_update(ops, &sock_hash, &key, BPF_ANY);
		break;
	}
	return 1;
}

SEC("sk_msg")
int bypass_sk_msg(struct sk_msg_md *msg)
{
	struct sockmap4j_conn_key key, peer;
	__u64 len = msg->size;

	SM4J_KEY_FROM(key, msg);
	sm4j_peer_key(&peer, &key);
	if (bpf_msg_redirect_hash(msg, &sock_hash, &peer, BPF_F_INGRESS) == SK_PASS) {
		sm4j_count(&counters, SM4J_REDIRECT_MSGS, len);
		return SK_PASS;
	}
	sm4j_count(&counters, SM4J_PASS_MSGS, len);
	return SK_PASS; /* peer not in the map: deliver normally */
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
