// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* Node-wide counters from tracepoints (this kernel has no kprobes): TCP retransmits per destination, skb drops per reason. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include "net_trace.h"

#define AF_INET 2
#define AF_INET6 10

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, X0_RETRANSMIT_DESTS_MAX);
	__type(key, struct x0_retx_key);
	__type(value, __u64);
} retransmits SEC(".maps");

/* Keyed by enum skb_drop_reason (subsystem reasons keep their high bits). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, X0_DROP_REASONS_MAX);
	__type(key, __u32);
	__type(value, __u64);
} drop_reasons SEC(".maps");

SEC("tracepoint/tcp/tcp_retransmit_skb")
int x0_tcp_retransmit(struct trace_event_raw_tcp_retransmit_skb *ctx)
{
	struct x0_retx_key key = {};
	__u64 one = 1, *n;

	key.family = ctx->family;
	if (key.family == AF_INET)
		/* Array fields of the context cannot be read through a moved ctx pointer: copy them. */
		bpf_core_read(key.addr, 4, &ctx->daddr);
	else if (key.family == AF_INET6)
		bpf_core_read(key.addr, 16, &ctx->daddr_v6);
	else
		return 0;
	n = bpf_map_lookup_elem(&retransmits, &key);
	/* A lost insert race means another CPU created the entry: count into it. */
	if (!n && bpf_map_update_elem(&retransmits, &key, &one, BPF_NOEXIST) == 0)
		return 0;
	if (!n)
		n = bpf_map_lookup_elem(&retransmits, &key);
	if (n)
		__sync_fetch_and_add(n, 1);
	return 0;
}

SEC("tracepoint/skb/kfree_skb")
int x0_kfree_skb(struct trace_event_raw_kfree_skb *ctx)
{
	__u32 reason = ctx->reason;
	__u64 one = 1, *n;

	n = bpf_map_lookup_elem(&drop_reasons, &reason);
	if (!n && bpf_map_update_elem(&drop_reasons, &reason, &one, BPF_NOEXIST) == 0)
		return 0;
	if (!n)
		n = bpf_map_lookup_elem(&drop_reasons, &reason);
	if (n)
		(*n)++; /* per-CPU value: no atomics needed */
	return 0;
}
