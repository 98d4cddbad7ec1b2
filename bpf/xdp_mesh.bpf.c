// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* Per-neighbour counters, deny (quarantine) and fault injection on a mesh interface. */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "xdp_mesh.h"

#define ETH_P_IP 0x0800

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile struct x0_xdp_config cfg = {};

/* A map keyed by neighbour (struct x0_neigh_key). */
#define X0_NEIGH_MAP(map_type, max, value_type) \
	struct { \
		__uint(type, map_type); \
		__uint(max_entries, max); \
		__type(key, struct x0_neigh_key); \
		__type(value, value_type); \
	}

X0_NEIGH_MAP(BPF_MAP_TYPE_LRU_PERCPU_HASH, X0_NEIGHBOURS_MAX, struct x0_neigh_stats) neighbours SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, X0_STAT_MAX);
	__type(key, __u32);
	__type(value, struct x0_counter);
} totals SEC(".maps");

X0_NEIGH_MAP(BPF_MAP_TYPE_HASH, X0_DENY_MAX, struct x0_deny) deny SEC(".maps");
X0_NEIGH_MAP(BPF_MAP_TYPE_HASH, X0_FAULT_MAX, __u32) fault SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct x0_policy);
} policy SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, X0_EVENTS_BYTES);
} events SEC(".maps");

static __always_inline void count(__u32 stat, __u64 len)
{
	struct x0_counter *c = bpf_map_lookup_elem(&totals, &stat);
	if (c) {
		c->packets++;
		c->bytes += len;
	}
}

static __always_inline void emit(__u32 type, struct x0_neigh_key *key, __u64 now)
{
	struct x0_event ev = { .type = type, .ifindex = cfg.ifindex, .neigh = *key, .ts_ns = now };
	/* A full ring buffer loses the event, never the packet. */
	bpf_ringbuf_output(&events, &ev, sizeof(ev), 0);
}

static __always_inline int drop(__u32 stat, struct x0_neigh_stats *st, __u64 len)
{
	count(stat, len);
	if (st) {
		st->dropped_packets++;
		st->dropped_bytes += len;
	}
	return XDP_DROP;
}

SEC("xdp")
int x0_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 len = data_end - data;
	struct ethhdr *eth = data;
	struct x0_neigh_key key = {};

	count(X0_STAT_TOTAL, len);
	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	__builtin_memcpy(key.mac, eth->h_source, sizeof(key.mac));
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		if ((void *)(ip + 1) <= data_end)
			key.ipv4 = ip->saddr;
	}

	struct x0_neigh_stats *st = bpf_map_lookup_elem(&neighbours, &key);
	if (!st) {
		struct x0_neigh_stats zero = {};
		/* Only the CPU whose insert wins reports the neighbour as new. */
		if (bpf_map_update_elem(&neighbours, &key, &zero, BPF_NOEXIST) == 0)
			emit(X0_EVENT_NEW_NEIGHBOUR, &key, bpf_ktime_get_ns());
		st = bpf_map_lookup_elem(&neighbours, &key);
	}
	if (st) {
		st->packets++;
		st->bytes += len;
	}

	/* No denied or faulted neighbour (the common case): nothing more to look up. */
	__u32 zero = 0;
	struct x0_policy *pol = bpf_map_lookup_elem(&policy, &zero);
	/* Without the flag (cannot happen for an array map) every lookup runs: correctness over speed. */
	__u32 flags = pol ? pol->active : X0_POLICY_ENTRIES | X0_POLICY_MAC_WIDE;
	if (!flags)
		return XDP_PASS;

	/* Exact (MAC, IPv4) entries first, then the MAC-wide entry when any exists. */
	struct x0_neigh_key any = { .scope = X0_KEY_ANY_IPV4 };
	__builtin_memcpy(any.mac, key.mac, sizeof(any.mac));
	struct x0_deny *denied = bpf_map_lookup_elem(&deny, &key);
	if (!denied && (flags & X0_POLICY_MAC_WIDE))
		denied = bpf_map_lookup_elem(&deny, &any);
	if (denied) {
		__u64 now = bpf_ktime_get_ns();

		/* Racy by design: two CPUs may both report within one interval, which is harmless. */
		if (now - denied->last_event_ns >= cfg.deny_event_interval_ns) {
			denied->last_event_ns = now;
			emit(X0_EVENT_DENY_HIT, &key, now);
		}
		return drop(X0_STAT_DROP_DENY, st, len);
	}

	__u32 *p = bpf_map_lookup_elem(&fault, &key);
	if (!p && (flags & X0_POLICY_MAC_WIDE))
		p = bpf_map_lookup_elem(&fault, &any);
	if (p && *p && (bpf_get_prandom_u32() & (X0_FAULT_SCALE - 1)) < *p)
		return drop(X0_STAT_DROP_FAULT, st, len);

	return XDP_PASS;
}
