// Byte layouts of bpf/net_trace.h (checked against the compiled objects' BTF by layout.test.ts) and the reading of
// drop-reason names from tracefs.
import { type BtfExpectation, cStruct, MapType } from "../bpf/btf-layout.ts";

/** struct x0_retx_key: a TCP retransmission destination. */
export const RETX_KEY = cStruct("x0_retx_key", 20, { addr: [0, 16], family: [16, 2], pad: [18, 2] });

/** Map bounds from net_trace.h (X0_RETRANSMIT_DESTS_MAX, X0_DROP_REASONS_MAX). */
export const TRACE_LIMITS = { retransmitDestinations: 1024, dropReasons: 256 } as const;

/** The maps of net_trace.bpf.o by name: destination → count, and drop reason (u32) → per-CPU count. */
export const TRACE_MAPS = {
  retransmits: { type: MapType.LRU_HASH, maxEntries: TRACE_LIMITS.retransmitDestinations, key: RETX_KEY, value: 8 },
  drop_reasons: { type: MapType.PERCPU_HASH, maxEntries: TRACE_LIMITS.dropReasons, key: 4, value: 8 },
} as const;

/** Names of the programs and maps in net_trace.bpf.o. */
export const TRACE_OBJECT = {
  retransmit: { program: "x0_tcp_retransmit", category: "tcp", event: "tcp_retransmit_skb" },
  kfreeSkb: { program: "x0_kfree_skb", category: "skb", event: "kfree_skb" },
  maps: ["retransmits", "drop_reasons"] as const satisfies readonly (keyof typeof TRACE_MAPS)[],
} as const;

/** What the BTF of net_trace.bpf.o must say: both programs and every map. */
export const NET_TRACE_BTF: BtfExpectation = {
  programs: [TRACE_OBJECT.retransmit.program, TRACE_OBJECT.kfreeSkb.program],
  maps: TRACE_MAPS,
};

/** What the BTF of net_trace.h's own types must say (bpf/btf_layout.bpf.o). */
export const NET_TRACE_TYPES_BTF: BtfExpectation = { structs: [RETX_KEY] };

const AF_INET = 2;
const AF_INET6 = 10;
const ADDR = RETX_KEY.fields.addr.offset;
const FAMILY = RETX_KEY.fields.family.offset;

/** The destination address of struct x0_retx_key, or null for an unknown family. */
export function decodeRetxKey(key: Buffer): string | null {
  const family = key.readUInt16LE(FAMILY);
  if (family === AF_INET) return [...key.subarray(ADDR, ADDR + 4)].join(".");
  if (family === AF_INET6) {
    const groups: string[] = [];
    for (let i = ADDR; i < ADDR + 16; i += 2) groups.push(key.readUInt16BE(i).toString(16));
    // Compress the longest run of zero groups, as inet_ntop does.
    return groups
      .join(":")
      .replace(/(^|:)0(:0)+(:|$)/, "::")
      .replace(/:{3,}/, "::");
  }
  return null;
}

/** Drop reason names by value, parsed from the __print_symbolic list of tracefs' skb/kfree_skb/format. */
export function parseDropReasons(format: string): Map<number, string> {
  const reasons = new Map<number, string>();
  for (const match of format.matchAll(/\{\s*(\d+),\s*"([A-Z0-9_]+)"\s*\}/g)) reasons.set(Number(match[1]), match[2] as string);
  return reasons;
}
