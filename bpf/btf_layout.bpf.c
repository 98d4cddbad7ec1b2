// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* Never loaded: one global of each struct and enum of xdp_mesh.h and net_trace.h, so that this object's BTF describes them
 * all for the monitor's layout check (services/monitor/src/bpf/btf-layout.ts): the programs' own BTF has only the types
 * their maps, config and functions use, not the event record or the enums. */
#include "vmlinux.h"
#include "xdp_mesh.h"
#include "net_trace.h"

struct x0_neigh_key layout_neigh_key;
struct x0_neigh_stats layout_neigh_stats;
struct x0_policy layout_policy;
struct x0_counter layout_counter;
struct x0_deny layout_deny;
struct x0_event layout_event;
struct x0_xdp_config layout_xdp_config;
struct x0_retx_key layout_retx_key;
enum x0_key_scope layout_key_scope;
enum x0_policy_bits layout_policy_bits;
enum x0_stat layout_stat;
enum x0_event_type layout_event_type;
enum x0_fault_scale layout_fault_scale;
