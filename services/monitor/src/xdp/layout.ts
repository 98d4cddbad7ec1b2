// Byte layouts of bpf/xdp_mesh.h: the one contract between the XDP program and user space (little-endian hosts).
import { X0Error } from "@x0/shared";

/** Map bounds from xdp_mesh.h. */
export const XDP_LIMITS = { neighbours: 4096, deny: 1024, fault: 1024 } as const;
/** Fault probabilities are in units of 1/FAULT_SCALE. */
export const FAULT_SCALE = 65536;
/** Names of the maps and program in xdp_mesh.bpf.o. */
export const XDP_OBJECT = { program: "x0_xdp", maps: ["neighbours", "totals", "deny", "fault", "policy"], events: "events" } as const;

/** enum x0_stat: index of the totals array. */
export const Stat = { TOTAL: 0, DROP_DENY: 1, DROP_FAULT: 2 } as const;
/** enum x0_event_type. */
export const EventType = { NEW_NEIGHBOUR: 1, DENY_HIT: 2 } as const;

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

/** enum x0_key_scope. */
export const KeyScope = { EXACT: 0, ANY_IPV4: 1 } as const;

/** Sizes of the structs, checked against the loaded maps. */
export const SIZES = { key: 12, stats: 32, counter: 16, deny: 16, fault: 4, policy: 4, event: 32, config: 16 } as const;

const MAC = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/;

/** struct x0_neigh_key. */
export function encodeKey({ mac, ipv4 }: NeighbourKey): Buffer {
  const lower = mac.toLowerCase();
  if (!MAC.test(lower)) throw new LayoutError(`invalid MAC address ${JSON.stringify(mac)}`);
  const key = Buffer.alloc(SIZES.key);
  Buffer.from(lower.replaceAll(":", ""), "hex").copy(key, 0);
  if (ipv4 === "any") key.writeUInt16LE(KeyScope.ANY_IPV4, 6);
  else if (ipv4 !== null) {
    const octets = ipv4.split(".").map(Number);
    if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255))
      throw new LayoutError(`invalid IPv4 address ${JSON.stringify(ipv4)}`);
    // Network byte order, as the program copies it from the IP header.
    Buffer.from(octets).copy(key, 8);
  }
  return key;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Reads struct x0_neigh_key at `offset`. */
export function decodeKey(buffer: Buffer, offset = 0): NeighbourKey {
  const hex = (i: number) => HEX[buffer.readUInt8(offset + i)];
  const mac = `${hex(0)}:${hex(1)}:${hex(2)}:${hex(3)}:${hex(4)}:${hex(5)}`;
  if (buffer.readUInt16LE(offset + 6) === KeyScope.ANY_IPV4) return { mac, ipv4: "any" };
  const ip = offset + 8;
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

/** Decodes one per-CPU struct x0_neigh_stats value (one 32-byte slot per CPU) of `length` bytes at `offset`. */
export function decodeStats(value: Buffer, offset = 0, length = value.length - offset): NeighbourStats {
  const stats: NeighbourStats = { packets: 0, bytes: 0, droppedPackets: 0, droppedBytes: 0 };
  for (let slot = offset; slot + SIZES.stats <= offset + length; slot += SIZES.stats) {
    stats.packets += u64(value, slot);
    stats.bytes += u64(value, slot + 8);
    stats.droppedPackets += u64(value, slot + 16);
    stats.droppedBytes += u64(value, slot + 24);
  }
  return stats;
}

/** struct x0_counter summed over CPUs (the first `length` bytes of `value`), as numbers like {@link decodeStats}. */
export function decodeCounter(value: Buffer, length = value.length): { packets: number; bytes: number } {
  let packets = 0;
  let bytes = 0;
  for (let slot = 0; slot + SIZES.counter <= length; slot += SIZES.counter) {
    packets += u64(value, slot);
    bytes += u64(value, slot + 8);
  }
  return { packets, bytes };
}

/** struct x0_deny for a new entry. */
export function encodeDeny(sinceNs: bigint): Buffer {
  const value = Buffer.alloc(SIZES.deny);
  value.writeBigUInt64LE(sinceNs, 0);
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

/** enum x0_policy_bits. */
export const PolicyBits = { ENTRIES: 1, MAC_WIDE: 2 } as const;

/** struct x0_policy: which lookups the program needs (PolicyBits; 0 when deny and fault are empty). */
export function encodePolicy(bits: number): Buffer {
  const value = Buffer.alloc(SIZES.policy);
  value.writeUInt32LE(bits, 0);
  return value;
}

/** Whether a struct x0_neigh_key is MAC-wide (scope X0_KEY_ANY_IPV4). */
export function isMacWideKey(key: Buffer): boolean {
  return key.readUInt16LE(6) === KeyScope.ANY_IPV4;
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
  const type = record.readUInt32LE(0);
  return {
    type: type === EventType.NEW_NEIGHBOUR ? "new_neighbour" : type === EventType.DENY_HIT ? "deny_hit" : "unknown",
    ifindex: record.readUInt32LE(4),
    neighbour: decodeKey(record, 8),
    tsNs: record.readBigUInt64LE(24),
  };
}

/** struct x0_xdp_config, written to the program's .rodata before load. */
export function encodeConfig({ denyEventIntervalNs, ifindex }: { denyEventIntervalNs: bigint; ifindex: number }): Buffer {
  const config = Buffer.alloc(SIZES.config);
  config.writeBigUInt64LE(denyEventIntervalNs, 0);
  config.writeUInt32LE(ifindex, 8);
  return config;
}
