// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/* The LocalBypass recipe's programs (org.sockmap4j.recipes.LocalBypass): the talk's container
 * bypass ("bypass.bpf.c") made safe for mixed traffic.
 *
 * A socket enters the SOCKHASH only when its peer is a local socket of a bypassed cgroup, so a
 * connection to any other peer never takes the sk_msg path (a socket in a socket map sends
 * through tcp_bpf_sendmsg even when the verdict passes: ~40% of a bulk flow's throughput).
 * Who is local is learnt during the handshake, in the order the kernel runs it:
 *   1. the server's listener (in a bypassed cgroup) gets the SYN: sock_ops BPF_SOCK_OPS_RWND_INIT
 *      on the request socket (is_fullsock == 0) records the connection, as the client will see
 *      it, in "pending", if it is in scope (ports, CIDRs);
 *   2. the client gets the SYN-ACK: ACTIVE_ESTABLISHED; only a connection found in "pending"
 *      (recorded by a bypassed listener moments before) is inserted, and marked there;
 *   3. the server gets the ACK: PASSIVE_ESTABLISHED; the server socket is inserted only when its
 *      client was (mark in "pending"), then the entry goes.
 * Keys are normalised: a v4-mapped IPv6 socket (a JDK dual-stack socket talking IPv4) gets the
 * AF_INET key its IPv4 peer has. A request socket of a dual-stack listener shows family AF_INET6
 * even for an IPv4 SYN and only one address pair of the two is filled in, so step 1 records both
 * readings; the wrong one matches nothing and ages out of the LRU map.
 *
 * Not bypassed: TCP Fast Open connections (the server socket is established before the client),
 * connections whose SYN-ACK reaches the client more than PENDING_MAX_AGE after the SYN. */
#include "sockmap4j.h"

#define PENDING_MAX_AGE_NS (30ULL * 1000000000ULL)

/* scope[SCOPE_FLAGS]: which filters are on; scope[SCOPE_DRAIN]: 1 once the bypass is stopping
 * (nothing is redirected any more); ports: a 65536-bit map of the server ports in scope;
 * allow_v4 / allow_v6: the CIDRs both ends of a bypassed connection must be in. */
#define SCOPE_FLAGS 0
#define SCOPE_DRAIN 1
#define SCOPE_SLOTS 2
#define SCOPE_PORTS 1u
#define SCOPE_CIDRS 2u
#define SCOPE_UPDATING 4u	/* user space is changing the tables: nothing is in scope */

/* Slots of "conn_stats" (per CPU, u64). */
enum {
	ST_SOCKETS_INSERTED = 0,	/* sockets put in the bypass (both ends count) */
	ST_NOT_LOCAL,			/* sockets left alone: the peer is not a bypassed socket */
	ST_OUT_OF_SCOPE,		/* SYNs to a bypassed listener outside the ports / CIDRs */
	ST_FELL_BACK,			/* sockets that sent through TCP while their peer was not in
					 * the map, and stay on TCP for their sends (see "fallback") */
	ST_SLOTS,
};

#define PENDING_SYN 1
#define PENDING_CLIENT_IN 2

struct pending_val {
	__u64 syn_ns;
	__u64 state;
};

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65536);
	__type(key, struct sockmap4j_conn_key);
	__type(value, __u64);
} sock_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct sockmap4j_conn_key);
	__type(value, struct pending_val);
} pending SEC(".maps");

/* Sockets whose message passed to TCP because their peer was not in the map (yet: a client
 * sends its first bytes before the server's ACK made the server socket; always with
 * TCP_DEFER_ACCEPT, which creates the server socket only when data arrives). Such a socket must
 * never redirect afterwards: the receiver reads its redirect queue before its TCP receive queue,
 * so a later redirected message would overtake the earlier one. One lookup per message. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct sockmap4j_conn_key);
	__type(value, __u8);
} fallback SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SCOPE_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} scope SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536 / 32);
	__type(key, __u32);
	__type(value, __u32);
} ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sm4j_lpm_v4);
	__type(value, __u8);
} allow_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sm4j_lpm_v6);
	__type(value, __u8);
} allow_v6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ST_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} conn_stats SEC(".maps");

SM4J_COUNTERS_MAP;

static __always_inline void stat(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&conn_stats, &slot);
	if (v)
		*v += 1;
}

static __always_inline __u32 scope_get(__u32 slot)
{
	__u32 *v = bpf_map_lookup_elem(&scope, &slot);
	return v ? *v : 0;
}

static __always_inline int addr_allowed(const struct sockmap4j_conn_key *k, int remote)
{
	if (k->family == AF_INET) {
		struct sm4j_lpm_v4 q = { .prefixlen = 32 };
		q.addr = remote ? k->remote_ip[0] : k->local_ip[0];
		return bpf_map_lookup_elem(&allow_v4, &q) != NULL;
	}
	struct sm4j_lpm_v6 q6 = { .prefixlen = 128 };
#pragma unroll
	for (int i = 0; i < 4; i++)
		q6.addr[i] = remote ? k->remote_ip[i] : k->local_ip[i];
	return bpf_map_lookup_elem(&allow_v6, &q6) != NULL;
}

/* k is the server's view (local = the listener's address and port). */
static __always_inline int in_scope(const struct sockmap4j_conn_key *k)
{
	__u32 flags = scope_get(SCOPE_FLAGS);

	if (flags & SCOPE_UPDATING)
		return 0;
	if (flags & SCOPE_PORTS) {
		__u32 port = k->local_port & 0xffff;
		__u32 word = port >> 5;
		__u32 *bits = bpf_map_lookup_elem(&ports, &word);
		if (!bits || !(*bits & (1u << (port & 31))))
			return 0;
	}
	if (flags & SCOPE_CIDRS) {
		if (!addr_allowed(k, 0) || !addr_allowed(k, 1))
			return 0;
	}
	return 1;
}

/* Records a SYN to a bypassed listener; k is the server's view. Returns 1 if in scope. */
static __always_inline int note_syn(const struct sockmap4j_conn_key *k, __u64 now)
{
	struct sockmap4j_conn_key client;
	struct pending_val v = { .syn_ns = now, .state = PENDING_SYN };

	if (!in_scope(k))
		return 0;
	sm4j_peer_key(&client, k);
	bpf_map_update_elem(&pending, &client, &v, BPF_ANY);
	return 1;
}

static __always_inline void on_syn(struct bpf_sock_ops *ops)
{
	struct sockmap4j_conn_key key, v4;
	__u64 now = bpf_ktime_get_ns();
	int in;

	SM4J_KEY_FROM(key, ops);
	sm4j_key_unmap_v4(&key);
	in = note_syn(&key, now);
	if (key.family == AF_INET6) {
		/* a dual-stack listener's request socket: maybe an IPv4 SYN */
		__builtin_memset(&v4, 0, sizeof(v4));
		v4.family = AF_INET;
		v4.remote_ip[0] = ops->remote_ip4;
		v4.local_ip[0] = ops->local_ip4;
		v4.remote_port = key.remote_port;
		v4.local_port = key.local_port;
		in |= note_syn(&v4, now);
	}
	if (!in)
		stat(ST_OUT_OF_SCOPE);
}

SEC("sockops")
int lbypass_sockops(struct bpf_sock_ops *ops)
{
	struct sockmap4j_conn_key key, peer;
	struct pending_val *p;

	if (ops->family != AF_INET && ops->family != AF_INET6)
		return 1;
	switch (ops->op) {
	case BPF_SOCK_OPS_RWND_INIT:
		/* also called for the client's own socket in connect(): only request sockets count */
		if (!ops->is_fullsock)
			on_syn(ops);
		break;
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		SM4J_KEY_FROM(key, ops);
		sm4j_key_unmap_v4(&key);
		bpf_map_delete_elem(&fallback, &key); /* a 4-tuple used again starts afresh */
		p = bpf_map_lookup_elem(&pending, &key);
		if (p && p->state == PENDING_SYN && bpf_ktime_get_ns() - p->syn_ns < PENDING_MAX_AGE_NS &&
		    bpf_sock_hash_update(ops, &sock_hash, &key, BPF_ANY) == 0) {
			p->state = PENDING_CLIENT_IN;
			stat(ST_SOCKETS_INSERTED);
		} else {
			stat(ST_NOT_LOCAL);
		}
		break;
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		SM4J_KEY_FROM(key, ops);
		sm4j_key_unmap_v4(&key);
		sm4j_peer_key(&peer, &key);
		p = bpf_map_lookup_elem(&pending, &peer);
		if (!p)
			break; /* not recorded at the SYN: out of scope, counted there */
		if (p->state == PENDING_CLIENT_IN &&
		    bpf_sock_hash_update(ops, &sock_hash, &key, BPF_ANY) == 0)
			stat(ST_SOCKETS_INSERTED);
		else
			stat(ST_NOT_LOCAL);
		bpf_map_delete_elem(&pending, &peer);
		break;
	}
	return 1;
}

SEC("sk_msg")
int lbypass_sk_msg(struct sk_msg_md *msg)
{
	struct sockmap4j_conn_key key, peer;
	__u64 len = msg->size;

	if (scope_get(SCOPE_DRAIN) == 0) {
		SM4J_KEY_FROM(key, msg);
		sm4j_key_unmap_v4(&key);
		if (!bpf_map_lookup_elem(&fallback, &key)) {
			sm4j_peer_key(&peer, &key);
			if (bpf_msg_redirect_hash(msg, &sock_hash, &peer, BPF_F_INGRESS) == SK_PASS) {
				sm4j_count(&counters, SM4J_REDIRECT_MSGS, len);
				return SK_PASS;
			}
			/* the peer is not in the map (not yet, or no more): this and every later
			 * message of this socket go through TCP, in order */
			__u8 one = 1;
			if (bpf_map_update_elem(&fallback, &key, &one, BPF_NOEXIST) == 0)
				stat(ST_FELL_BACK);
		}
	}
	/* fallen back, or the bypass is stopping: deliver through TCP */
	sm4j_count(&counters, SM4J_PASS_MSGS, len);
	return SK_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
