/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/* Shared definitions of the sockmap4j BPF programs and the Java side (ConnectionKey). */
#ifndef SOCKMAP4J_H
#define SOCKMAP4J_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

/* A connection 4-tuple as bpf_sock_ops / sk_msg_md show it; 44 bytes, no padding.
 * Must match org.sockmap4j.ConnectionKey. */
struct sockmap4j_conn_key {
	__u32 family;
	__u32 remote_ip[4];	/* network order; IPv4 in remote_ip[0] */
	__u32 local_ip[4];
	__u32 remote_port;	/* network order, as bpf_sock_ops.remote_port */
	__u32 local_port;	/* host order, as bpf_sock_ops.local_port */
};

/* Counter slots of the per-CPU "counters" arrays. */
enum sockmap4j_counter {
	SM4J_PASS_MSGS = 0,
	SM4J_PASS_BYTES,
	SM4J_DROP_MSGS,
	SM4J_DROP_BYTES,
	SM4J_REDIRECT_MSGS,
	SM4J_REDIRECT_BYTES,
	SM4J_COUNTERS,
};

#define SM4J_COUNTERS_MAP						\
	struct {							\
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);		\
		__uint(max_entries, SM4J_COUNTERS);			\
		__type(key, __u32);					\
		__type(value, __u64);					\
	} counters SEC(".maps")

static __always_inline void sm4j_count(void *counters, __u32 slot, __u64 bytes)
{
	__u64 *v = bpf_map_lookup_elem(counters, &slot);
	if (v)
		*v += 1;
	slot += 1;
	v = bpf_map_lookup_elem(counters, &slot);
	if (v)
		*v += bytes;
}

/* Forces a loaded value into a register here, so clang cannot turn loads into selects of ctx
 * pointers (which the verifier rejects as "dereference of modified ctx ptr"). */
#define SM4J_PIN(v) asm volatile("" : "+r"(v))

/* Fills key from any context with the sk_msg_md / bpf_sock_ops address fields. Every field is
 * read unconditionally and straight from ctx (no branch between pointer arithmetic and load), so
 * the verifier never sees a modified ctx pointer. */
#define SM4J_KEY_FROM(key, ctx)						\
	do {								\
		__u32 f_ = (ctx)->family;				\
		__u32 r4_ = (ctx)->remote_ip4, l4_ = (ctx)->local_ip4;	\
		__u32 r0_ = (ctx)->remote_ip6[0], r1_ = (ctx)->remote_ip6[1]; \
		__u32 r2_ = (ctx)->remote_ip6[2], r3_ = (ctx)->remote_ip6[3]; \
		__u32 l0_ = (ctx)->local_ip6[0], l1_ = (ctx)->local_ip6[1]; \
		__u32 l2_ = (ctx)->local_ip6[2], l3_ = (ctx)->local_ip6[3]; \
		__u32 rp_ = (ctx)->remote_port, lp_ = (ctx)->local_port; \
		SM4J_PIN(f_); SM4J_PIN(r4_); SM4J_PIN(l4_);		\
		SM4J_PIN(r0_); SM4J_PIN(r1_); SM4J_PIN(r2_); SM4J_PIN(r3_); \
		SM4J_PIN(l0_); SM4J_PIN(l1_); SM4J_PIN(l2_); SM4J_PIN(l3_); \
		SM4J_PIN(rp_); SM4J_PIN(lp_);				\
		(key).family = f_;					\
		if (f_ == AF_INET) {					\
			(key).remote_ip[0] = r4_;			\
			(key).remote_ip[1] = 0;				\
			(key).remote_ip[2] = 0;				\
			(key).remote_ip[3] = 0;				\
			(key).local_ip[0] = l4_;			\
			(key).local_ip[1] = 0;				\
			(key).local_ip[2] = 0;				\
			(key).local_ip[3] = 0;				\
		} else {						\
			(key).remote_ip[0] = r0_;			\
			(key).remote_ip[1] = r1_;			\
			(key).remote_ip[2] = r2_;			\
			(key).remote_ip[3] = r3_;			\
			(key).local_ip[0] = l0_;			\
			(key).local_ip[1] = l1_;			\
			(key).local_ip[2] = l2_;			\
			(key).local_ip[3] = l3_;			\
		}							\
		(key).remote_port = rp_;				\
		(key).local_port = lp_;					\
	} while (0)

/* The peer's key: swap local and remote, converting the port byte orders. */
static __always_inline void sm4j_peer_key(struct sockmap4j_conn_key *peer,
					  const struct sockmap4j_conn_key *k)
{
	peer->family = k->family;
#pragma unroll
	for (int i = 0; i < 4; i++) {
		peer->remote_ip[i] = k->local_ip[i];
		peer->local_ip[i] = k->remote_ip[i];
	}
	peer->remote_port = bpf_htonl(k->local_port);
	peer->local_port = bpf_ntohl(k->remote_port);
}

/* A v4-mapped IPv6 key (::ffff:a.b.c.d at both ends: a dual-stack socket talking IPv4) becomes
 * the AF_INET key its IPv4 peer has. */
static __always_inline void sm4j_key_unmap_v4(struct sockmap4j_conn_key *k)
{
	if (k->family == AF_INET6 &&
	    k->remote_ip[0] == 0 && k->remote_ip[1] == 0 && k->remote_ip[2] == bpf_htonl(0xffff) &&
	    k->local_ip[0] == 0 && k->local_ip[1] == 0 && k->local_ip[2] == bpf_htonl(0xffff)) {
		k->family = AF_INET;
		k->remote_ip[0] = k->remote_ip[3];
		k->local_ip[0] = k->local_ip[3];
		k->remote_ip[2] = 0;
		k->remote_ip[3] = 0;
		k->local_ip[2] = 0;
		k->local_ip[3] = 0;
	}
}

/* IPv4 and IPv6 prefix deny lists (LPM tries) edited by user space (org.sockmap4j.LpmTrie). */
struct sm4j_lpm_v4 {
	__u32 prefixlen;
	__u32 addr;
};

struct sm4j_lpm_v6 {
	__u32 prefixlen;
	__u32 addr[4];
};

#define SM4J_DENY_LISTS							\
	struct {							\
		__uint(type, BPF_MAP_TYPE_LPM_TRIE);			\
		__uint(max_entries, 4096);				\
		__uint(map_flags, BPF_F_NO_PREALLOC);			\
		__type(key, struct sm4j_lpm_v4);			\
		__type(value, __u8);					\
	} deny_v4 SEC(".maps");						\
	struct {							\
		__uint(type, BPF_MAP_TYPE_LPM_TRIE);			\
		__uint(max_entries, 4096);				\
		__uint(map_flags, BPF_F_NO_PREALLOC);			\
		__type(key, struct sm4j_lpm_v6);			\
		__type(value, __u8);					\
	} deny_v6 SEC(".maps")

#endif
