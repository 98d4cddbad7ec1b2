// Byte layouts of bpf/net_trace.h and the reading of drop-reason names from tracefs.

/** Names of the programs and maps in net_trace.bpf.o. */
export const TRACE_OBJECT = {
  retransmit: { program: "x0_tcp_retransmit", category: "tcp", event: "tcp_retransmit_skb" },
  kfreeSkb: { program: "x0_kfree_skb", category: "skb", event: "kfree_skb" },
  maps: ["retransmits", "drop_reasons"],
} as const;

/** Size of struct x0_retx_key. */
export const RETX_KEY_SIZE = 20;
const AF_INET = 2;
const AF_INET6 = 10;

/** The destination address of struct x0_retx_key, or null for an unknown family. */
export function decodeRetxKey(key: Buffer): string | null {
  const family = key.readUInt16LE(16);
  if (family === AF_INET) return [...key.subarray(0, 4)].join(".");
  if (family === AF_INET6) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(key.readUInt16BE(i).toString(16));
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
