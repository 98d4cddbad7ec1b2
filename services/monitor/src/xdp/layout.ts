// Byte layouts of bpf/xdp_mesh.h: the one TypeScript copy of the contract between the XDP program and user space
// (little-endian hosts). layout.test.ts checks it against the BTF of the compiled objects.
import { X0Error } from "@x0/shared";
import { type BtfExpectation, cEnum, cStruct, MapType } from "../bpf/btf-layout.ts";

/** Map bounds from xdp_mesh.h (X0_*_MAX, and X0_EVENTS_BYTES for the ring buffer). */
export const XDP_LIMITS = { neighbours: 4096, deny: 1024, fault: 1024, eventsBytes: 256 * 1024 } as const;
/** Fault probabilities are in units of 1/FAULT_SCALE (enum x0_fault_scale). */
export const FAULT_SCALE = 65536;

/** enum x0_stat: index of the totals array; MAX is its length. */
export const Stat = { TOTAL: 0, DROP_DENY: 1, DROP_FAULT: 2, MAX: 3 } as const;
/** enum x0_event_type. */
export const EventType = { NEW_NEIGHBOUR: 1, DENY_HIT: 2 } as const;
/** enum x0_key_scope. */
export const KeyScope = { EXACT: 0, ANY_IPV4: 1 } as const;
/** enum x0_policy_bits: which lookups the program makes (struct x0_policy.active). */
export const PolicyBits = { ENTRIES: 1, MAC_WIDE: 2 } as const;
/** struct x0_neigh_key. */
export const NEIGH_KEY = cStruct("x0_neigh_key", 12, { mac: [0, 6], scope: [6, 2], ipv4: [8, 4] });
/** struct x0_neigh_stats (one per-CPU slot). */
export const NEIGH_STATS = cStruct("x0_neigh_stats", 32, { packets: [0, 8], bytes: [8, 8], dropped_packets: [16, 8], dropped_bytes: [24, 8] });
/** struct x0_counter (one per-CPU slot of the totals array). */
export const COUNTER = cStruct("x0_counter", 16, { packets: [0, 8], bytes: [8, 8] });
/** struct x0_deny. */
export const DENY = cStruct("x0_deny", 16, { since_ns: [0, 8], last_event_ns: [8, 8] });
/** struct x0_policy. */
export const POLICY = cStruct("x0_policy", 4, { active: [0, 4] });
/** struct x0_event: a ring buffer record. */
export const EVENT = cStruct("x0_event", 32, { type: [0, 4], ifindex: [4, 4], neigh: [8, NEIGH_KEY.size, NEIGH_KEY], pad: [20, 4], ts_ns: [24, 8] });
/** struct x0_xdp_config: the program's `const volatile` config, at the start of its .rodata. */
export const XDP_CONFIG = cStruct("x0_xdp_config", 16, { deny_event_interval_ns: [0, 8], ifindex: [8, 4], pad: [12, 4] });

/** Sizes of the structs (fault: its u32 value), checked against the loaded maps. */
export const SIZES = {
  key: NEIGH_KEY.size,
  stats: NEIGH_STATS.size,
  counter: COUNTER.size,
  deny: DENY.size,
  fault: 4,
  policy: POLICY.size,
  event: EVENT.size,
  config: XDP_CONFIG.size,
} as const;

/** The maps of xdp_mesh.bpf.o by name: type, bound, key and value. */
export const XDP_MAPS = {
  neighbours: { type: MapType.LRU_PERCPU_HASH, maxEntries: XDP_LIMITS.neighbours, key: NEIGH_KEY, value: NEIGH_STATS },
  totals: { type: MapType.PERCPU_ARRAY, maxEntries: Stat.MAX, key: 4, value: COUNTER },
  deny: { type: MapType.HASH, maxEntries: XDP_LIMITS.deny, key: NEIGH_KEY, value: DENY },
  fault: { type: MapType.HASH, maxEntries: XDP_LIMITS.fault, key: NEIGH_KEY, value: SIZES.fault },
  policy: { type: MapType.ARRAY, maxEntries: 1, key: 4, value: POLICY },
  events: { type: MapType.RINGBUF, maxEntries: XDP_LIMITS.eventsBytes },
} as const;

/** Names of the program and maps in xdp_mesh.bpf.o: `maps` are pinned, `events` is the ring buffer. */
export const XDP_OBJECT = {
  program: "x0_xdp",
  maps: ["neighbours", "totals", "deny", "fault", "policy"] as const satisfies readonly (keyof typeof XDP_MAPS)[],
  events: "events" satisfies keyof typeof XDP_MAPS,
} as const;

/** What the BTF of xdp_mesh.bpf.o must say: its program, every map, and the config at the start of .rodata. */
export const XDP_MESH_BTF: BtfExpectation = {
  programs: [XDP_OBJECT.program],
  maps: XDP_MAPS,
  sections: { ".rodata": { cfg: { offset: 0, size: XDP_CONFIG.size, struct: XDP_CONFIG } } },
};

/** What the BTF of xdp_mesh.h's own types must say (bpf/btf_layout.bpf.o: the program's BTF lacks the event and the enums). */
export const XDP_MESH_TYPES_BTF: BtfExpectation = {
  structs: [NEIGH_KEY, NEIGH_STATS, COUNTER, DENY, POLICY, EVENT, XDP_CONFIG],
  enums: [
    cEnum("x0_key_scope", "X0_KEY_", KeyScope),
    cEnum("x0_policy_bits", "X0_POLICY_", PolicyBits),
    cEnum("x0_stat", "X0_STAT_", Stat),
    cEnum("x0_event_type", "X0_EVENT_", EventType),
    cEnum("x0_fault_scale", "X0_", { FAULT_SCALE }),
  ],
};

/** A value that cannot be encoded in the shared layout. */
export class LayoutError extends X0Error {}

/**
 * A neighbour: source MAC and IPv4 source (null when its packets were not IPv4). In the deny and fault maps, ipv4 "any"
 * matches every frame of the MAC (enum x0_key_scope X0_KEY_ANY_IPV4).
 */
export interface NeighbourKey {
  mac: string;
  ipv4: string | null | "any";
}

const MAC = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/;
const MAC_AT = NEIGH_KEY.fields.mac.offset;
const SCOPE = NEIGH_KEY.fields.scope.offset;
const IPV4 = NEIGH_KEY.fields.ipv4.offset;

/** struct x0_neigh_key. */
export function encodeKey({ mac, ipv4 }: NeighbourKey): Buffer {
  const lower = mac.toLowerCase();
  if (!MAC.test(lower)) throw new LayoutError(`invalid MAC address ${JSON.stringify(mac)}`);
  const key = Buffer.alloc(SIZES.key);
  Buffer.from(lower.replaceAll(":", ""), "hex").copy(key, MAC_AT);
  if (ipv4 === "any") key.writeUInt16LE(KeyScope.ANY_IPV4, SCOPE);
  else if (ipv4 !== null) {
    const octets = ipv4.split(".").map(Number);
    if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255))
      throw new LayoutError(`invalid IPv4 address ${JSON.stringify(ipv4)}`);
    // Network byte order, as the program copies it from the IP header.
    Buffer.from(octets).copy(key, IPV4);
  }
  return key;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Reads struct x0_neigh_key at `offset`. */
export function decodeKey(buffer: Buffer, offset = 0): NeighbourKey {
  const hex = (i: number) => HEX[buffer.readUInt8(offset + MAC_AT + i)];
  const mac = `${hex(0)}:${hex(1)}:${hex(2)}:${hex(3)}:${hex(4)}:${hex(5)}`;
  if (buffer.readUInt16LE(offset + SCOPE) === KeyScope.ANY_IPV4) return { mac, ipv4: "any" };
  const ip = offset + IPV4;
  const ipv4 =
    buffer.readUInt32LE(ip) === 0 ? null : `${buffer.readUInt8(ip)}.${buffer.readUInt8(ip + 1)}.${buffer.readUInt8(ip + 2)}.${buffer.readUInt8(ip + 3)}`;
  return { mac, ipv4 };
}

/** The string form of a neighbour key, e.g. "aa:bb:cc:dd:ee:ff/10.0.0.2", "aa:bb:cc:dd:ee:ff/-" or "aa:bb:cc:dd:ee:ff/any". */
export function keyId({ mac, ipv4 }: NeighbourKey): string {
  return `${mac}/${ipv4 ?? "-"}`;
}

/** struct x0_neigh_stats summed over CPUs, as numbers (exact up to 2^53: centuries of line-rate traffic). */
export interface NeighbourStats {
  packets: number;
  bytes: number;
  droppedPackets: number;
  droppedBytes: number;
}

/** A little-endian u64 as a number (two u32 reads: no BigInt on the sampling path). */
export function u64(buffer: Buffer, offset: number): number {
  return buffer.readUInt32LE(offset) + buffer.readUInt32LE(offset + 4) * 0x1_0000_0000;
}

const PACKETS = NEIGH_STATS.fields.packets.offset;
const BYTES = NEIGH_STATS.fields.bytes.offset;
const DROPPED_PACKETS = NEIGH_STATS.fields.dropped_packets.offset;
const DROPPED_BYTES = NEIGH_STATS.fields.dropped_bytes.offset;

/** Decodes one per-CPU struct x0_neigh_stats value (one 32-byte slot per CPU) of `length` bytes at `offset`. */
export function decodeStats(value: Buffer, offset = 0, length = value.length - offset): NeighbourStats {
  const stats: NeighbourStats = { packets: 0, bytes: 0, droppedPackets: 0, droppedBytes: 0 };
  for (let slot = offset; slot + SIZES.stats <= offset + length; slot += SIZES.stats) {
    stats.packets += u64(value, slot + PACKETS);
    stats.bytes += u64(value, slot + BYTES);
    stats.droppedPackets += u64(value, slot + DROPPED_PACKETS);
    stats.droppedBytes += u64(value, slot + DROPPED_BYTES);
  }
  return stats;
}

/** struct x0_counter summed over CPUs (the first `length` bytes of `value`), as numbers like {@link decodeStats}. */
export function decodeCounter(value: Buffer, length = value.length): { packets: number; bytes: number } {
  let packets = 0;
  let bytes = 0;
  for (let slot = 0; slot + SIZES.counter <= length; slot += SIZES.counter) {
    packets += u64(value, slot + COUNTER.fields.packets.offset);
    bytes += u64(value, slot + COUNTER.fields.bytes.offset);
  }
  return { packets, bytes };
}

/** struct x0_deny for a new entry. */
export function encodeDeny(sinceNs: bigint): Buffer {
  const value = Buffer.alloc(SIZES.deny);
  value.writeBigUInt64LE(sinceNs, DENY.fields.since_ns.offset);
  return value;
}

/** The fault map value for a drop probability in [0, 1]. */
export function encodeFault(probability: number): Buffer {
  if (!(probability >= 0 && probability <= 1)) throw new LayoutError(`fault probability ${probability} is not in [0, 1]`);
  const value = Buffer.alloc(SIZES.fault);
  value.writeUInt32LE(Math.round(probability * FAULT_SCALE), 0);
  return value;
}

/** The drop probability of a fault map value. */
export function decodeFault(value: Buffer): number {
  return value.readUInt32LE(0) / FAULT_SCALE;
}

/** struct x0_policy: which lookups the program needs (PolicyBits; 0 when deny and fault are empty). */
export function encodePolicy(bits: number): Buffer {
  const value = Buffer.alloc(SIZES.policy);
  value.writeUInt32LE(bits, POLICY.fields.active.offset);
  return value;
}

/** Whether a struct x0_neigh_key is MAC-wide (scope X0_KEY_ANY_IPV4). */
export function isMacWideKey(key: Buffer): boolean {
  return key.readUInt16LE(SCOPE) === KeyScope.ANY_IPV4;
}

/** A ring buffer record (struct x0_event). */
export interface XdpEvent {
  type: "new_neighbour" | "deny_hit" | "unknown";
  ifindex: number;
  neighbour: NeighbourKey;
  tsNs: bigint;
}

/** Decodes struct x0_event. */
export function decodeEvent(record: Buffer): XdpEvent {
  if (record.length < SIZES.event) throw new LayoutError(`ring buffer record of ${record.length} bytes, expected ${SIZES.event}`);
  const { fields } = EVENT;
  const type = record.readUInt32LE(fields.type.offset);
  return {
    type: type === EventType.NEW_NEIGHBOUR ? "new_neighbour" : type === EventType.DENY_HIT ? "deny_hit" : "unknown",
    ifindex: record.readUInt32LE(fields.ifindex.offset),
    neighbour: decodeKey(record, fields.neigh.offset),
    tsNs: record.readBigUInt64LE(fields.ts_ns.offset),
  };
}

/** struct x0_xdp_config, written to the program's .rodata before load. */
export function encodeConfig({ denyEventIntervalNs, ifindex }: { denyEventIntervalNs: bigint; ifindex: number }): Buffer {
  const config = Buffer.alloc(SIZES.config);
  config.writeBigUInt64LE(denyEventIntervalNs, XDP_CONFIG.fields.deny_event_interval_ns.offset);
  config.writeUInt32LE(ifindex, XDP_CONFIG.fields.ifindex.offset);
  return config;
}
