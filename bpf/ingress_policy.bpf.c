// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/* Ingress policy (SREcon23 "policy on ingress"): an sk_skb verdict (BPF_SK_SKB_VERDICT) on the
 * sockets of sock_map drops received data whose peer address is in the deny lists (LPM tries of
 * IPv4 and IPv6 prefixes edited by user space at run time) and passes the rest. */
#include "sockmap4j.h"

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u64);
} sock_map SEC(".maps");

SM4J_DENY_LISTS;

SM4J_COUNTERS_MAP;

SEC("sk_skb")
int ingress_policy(struct __sk_buff *skb)
{
	__u32 family = skb->family;
	__u32 r4 = skb->remote_ip4;
	__u32 r0 = skb->remote_ip6[0], r1 = skb->remote_ip6[1];
	__u32 r2 = skb->remote_ip6[2], r3 = skb->remote_ip6[3];
	__u64 len = skb->len;
	int denied = 0;

	SM4J_PIN(family); SM4J_PIN(r4); SM4J_PIN(r0); SM4J_PIN(r1); SM4J_PIN(r2); SM4J_PIN(r3);
	if (family == AF_INET || (family == AF_INET6 && r0 == 0 && r1 == 0 && r2 == bpf_htonl(0xffff))) {
		struct sm4j_lpm_v4 k4 = { .prefixlen = 32, .addr = family == AF_INET ? r4 : r3 };

		denied = bpf_map_lookup_elem(&deny_v4, &k4) != NULL;
	} else if (family == AF_INET6) {
		struct sm4j_lpm_v6 k6 = { .prefixlen = 128, .addr = { r0, r1, r2, r3 } };

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
