// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* Structs shared by xdp_mesh.bpf.c and the monitor: services/monitor/src/xdp/layout.ts mirrors them, checked against BTF. */
#ifndef X0_XDP_MESH_H
#define X0_XDP_MESH_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Map sizes: bounded so a neighbour flood cannot grow kernel memory. */
#define X0_NEIGHBOURS_MAX 4096
#define X0_DENY_MAX 1024
#define X0_FAULT_MAX 1024
#define X0_EVENTS_BYTES (256 * 1024)

/* Fault probabilities are in units of 1/X0_FAULT_SCALE; X0_FAULT_SCALE drops every packet. An enum, so BTF carries it. */
enum x0_fault_scale {
	X0_FAULT_SCALE = 65536,
};

/*
 * A neighbour as seen on one interface: source MAC and IPv4 source (network byte order, 0 when not IPv4). In the deny and
 * fault maps only, `scope` X0_KEY_ANY_IPV4 (with ipv4 0) matches every frame of the MAC: a whole neighbour is cut or
 * quarantined, whatever it forwards. The program always builds keys with scope X0_KEY_EXACT.
 */
struct x0_neigh_key {
	__u8 mac[6];
	__u16 scope;
	__u32 ipv4;
};

enum x0_key_scope {
	X0_KEY_EXACT = 0,
	X0_KEY_ANY_IPV4 = 1,
};

/*
 * Per-CPU counters of one neighbour (all packets seen, and the ones this program dropped). No timestamp: reading the
 * clock on every packet is the most expensive thing the program could do; user space derives "last seen" from changes.
 */
struct x0_neigh_stats {
	__u64 packets;
	__u64 bytes;
	__u64 dropped_packets;
	__u64 dropped_bytes;
};

/*
 * The single entry of the policy map: non-zero while the deny or the fault map may hold an entry. The program skips both
 * lookups (about half its per-packet cost) while it is zero. Writers raise it after inserting into deny or fault and
 * lower it only when both maps are seen empty, re-checking after lowering (services/monitor/src/xdp/pins.ts).
 */
struct x0_policy {
	__u32 active; /* enum x0_policy_bits */
};

/* Bits of x0_policy.active: entries exist at all; MAC-wide (X0_KEY_ANY_IPV4) entries exist, so their lookup is needed. */
enum x0_policy_bits {
	X0_POLICY_ENTRIES = 1,
	X0_POLICY_MAC_WIDE = 2,
};

/* Index of the interface totals array; passed = total - drops, so it is not counted separately. */
enum x0_stat {
	X0_STAT_TOTAL = 0,
	X0_STAT_DROP_DENY = 1,
	X0_STAT_DROP_FAULT = 2,
	X0_STAT_MAX = 3,
};

struct x0_counter {
	__u64 packets;
	__u64 bytes;
};

/* Value of the deny map: presence means drop. */
struct x0_deny {
	__u64 since_ns;      /* set by whoever denies (informational) */
	__u64 last_event_ns; /* written by the program to rate-limit deny-hit events */
};

enum x0_event_type {
	X0_EVENT_NEW_NEIGHBOUR = 1,
	X0_EVENT_DENY_HIT = 2,
};

/* A ring buffer record. */
struct x0_event {
	__u32 type;
	__u32 ifindex;
	struct x0_neigh_key neigh;
	__u32 pad;
	__u64 ts_ns;
};

/* Read-only configuration, set by the loader before load. */
struct x0_xdp_config {
	__u64 deny_event_interval_ns; /* at most one deny-hit event per neighbour per interval */
	__u32 ifindex;                /* copied into events */
	__u32 pad;
};

#endif
