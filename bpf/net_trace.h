// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* Structs shared by net_trace.bpf.c and the monitor: services/monitor/src/trace/layout.ts mirrors them, checked against BTF. */
#ifndef X0_NET_TRACE_H
#define X0_NET_TRACE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define X0_RETRANSMIT_DESTS_MAX 1024
#define X0_DROP_REASONS_MAX 256

/* A TCP retransmission destination: IPv4 in the first 4 bytes of addr, or IPv6. */
struct x0_retx_key {
	__u8 addr[16];
	__u16 family; /* AF_INET or AF_INET6 */
	__u16 pad;
};

#endif
