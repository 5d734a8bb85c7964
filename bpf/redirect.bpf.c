// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/* The four redirect modes of the SREcon23 cheatsheet. Every program redirects to the socket at
 * index config[0] of sock_map, which user space sets at run time:
 *   send to local      sk_msg   bpf_msg_redirect_map + BPF_F_INGRESS
 *   send to egress     sk_msg   bpf_msg_redirect_map
 *   ingress to egress  sk_skb   bpf_sk_redirect_map
 *   ingress to local   sk_skb   bpf_sk_redirect_map + BPF_F_INGRESS
 * plus a stream parser that frames nothing (one message per skb) and pass/drop verdicts. */
#include "sockmap4j.h"

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} sock_map SEC(".maps");

/* config[0]: the sock_map index to redirect to. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} config SEC(".maps");

SM4J_COUNTERS_MAP;

static __always_inline __u32 target(void)
{
	__u32 zero = 0;
	__u32 *t = bpf_map_lookup_elem(&config, &zero);
	return t ? *t : 0;
}

static __always_inline int msg_redirect(struct sk_msg_md *msg, __u64 flags)
{
	__u64 len = msg->size;
	int verdict = bpf_msg_redirect_map(msg, &sock_map, target(), flags);

	sm4j_count(&counters, verdict == SK_PASS ? SM4J_REDIRECT_MSGS : SM4J_DROP_MSGS, len);
	return verdict;
}

static __always_inline int skb_redirect(struct __sk_buff *skb, __u64 flags)
{
	__u64 len = skb->len;
	int verdict = bpf_sk_redirect_map(skb, &sock_map, target(), flags);

	sm4j_count(&counters, verdict == SK_PASS ? SM4J_REDIRECT_MSGS : SM4J_DROP_MSGS, len);
	return verdict;
}

SEC("sk_msg")
int redir_send_to_local(struct sk_msg_md *msg)
{
	return msg_redirect(msg, BPF_F_INGRESS);
}

SEC("sk_msg")
int redir_send_to_egress(struct sk_msg_md *msg)
{
	return msg_redirect(msg, 0);
}

SEC("sk_skb")
int redir_ingress_to_egress(struct __sk_buff *skb)
{
	return skb_redirect(skb, 0);
}

SEC("sk_skb")
int redir_ingress_to_local(struct __sk_buff *skb)
{
	return skb_redirect(skb, BPF_F_INGRESS);
}

SEC("sk_skb/stream_parser")
int stream_parser(struct __sk_buff *skb)
{
	return skb->len;
}

SEC("sk_skb")
int skb_pass(struct __sk_buff *skb)
{
	sm4j_count(&counters, SM4J_PASS_MSGS, skb->len);
	return SK_PASS;
}

SEC("sk_skb")
int skb_drop(struct __sk_buff *skb)
{
	sm4j_count(&counters, SM4J_DROP_MSGS, skb->len);
	return SK_DROP;
}

SEC("sk_msg")
int msg_pass(struct sk_msg_md *msg)
{
	sm4j_count(&counters, SM4J_PASS_MSGS, msg->size);
	return SK_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
