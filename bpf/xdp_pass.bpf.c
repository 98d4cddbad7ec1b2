// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* An XDP program that passes every frame: bench:xdp measures the kernel's own XDP hook cost with it, so the cost of
 * xdp_mesh can be reported net of the hook (and of BPF stats' clock reads). Not used by the monitor. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int x0_xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}
