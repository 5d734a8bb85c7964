// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/* Egress policy (SREcon23 "policy on egress"): sock_ops on a cgroup puts every established TCP
 * socket in a SOCKHASH so that the sk_msg verdict runs on its sends; the verdict drops (the
 * sender's send() fails with EACCES) messages whose destination is in the deny lists, LPM tries
 * of IPv4 and IPv6 prefixes that user space edits at run time. IPv4 peers of IPv6 sockets
 * (v4-mapped, ::ffff:a.b.c.d) are checked against the IPv4 list. */
#include "sockmap4j.h"

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65536);
	__type(key, struct sockmap4j_conn_key);
	__type(value, __u64);
} sock_hash SEC(".maps");

SM4J_DENY_LISTS;

SM4J_COUNTERS_MAP;

SEC("sockops")
int policy_sockops(struct bpf_sock_ops *ops)
{
	struct sockmap4j_conn_key key;

	if (ops->family != AF_INET && ops->family != AF_INET6)
		return 1;
	if (ops->op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB ||
	    ops->op == BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB) {
		SM4J_KEY_FROM(key, ops);
		bpf_sock_hash_update(ops, &sock_hash, &key, BPF_ANY);
	}
	return 1;
}

SEC("sk_msg")
int egress_policy(struct sk_msg_md *msg)
{
	struct sockmap4j_conn_key key;
	__u64 len = msg->size;
	int denied = 0;

	SM4J_KEY_FROM(key, msg);
	if (key.family == AF_INET ||
	    (key.remote_ip[0] == 0 && key.remote_ip[1] == 0 &&
	     key.remote_ip[2] == bpf_htonl(0xffff))) {
		struct sm4j_lpm_v4 k4 = { .prefixlen = 32 };

		k4.addr = key.family == AF_INET ? key.remote_ip[0] : key.remote_ip[3];
		denied = bpf_map_lookup_elem(&deny_v4, &k4) != NULL;
	} else {
		struct sm4j_lpm_v6 k6 = { .prefixlen = 128 };

		k6.addr[0] = key.remote_ip[0];
		k6.addr[1] = key.remote_ip[1];
		k6.addr[2] = key.remote_ip[2];
		k6.addr[3] = key.remote_ip[3];
		denied = bpf_map_lookup_elem(&deny_v6, &k6) != NULL;
	}
	if (denied) {
		sm4j_count(&counters, SM4J_DROP_MSGS, len);
		return SK_DROP;
	}
	sm4j_count(&counters, SM4J_PASS_MSGS, len);
	return SK_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
