// Byte layouts of bpf/xdp_mesh.h: the one contract between the XDP program and user space (little-endian hosts).
import { X0Error } from "@x0/shared";

/** Map bounds from xdp_mesh.h. */
export const XDP_LIMITS = { neighbours: 4096, deny: 1024, fault: 1024 } as const;
/** Fault probabilities are in units of 1/FAULT_SCALE. */
export const FAULT_SCALE = 65536;
/** Names of the maps and program in xdp_mesh.bpf.o. */
export const XDP_OBJECT = { program: "x0_xdp", maps: ["neighbours", "totals", "deny", "fault"], events: "events" } as const;

/** enum x0_stat: index of the totals array. */
export const Stat = { TOTAL: 0, DROP_DENY: 1, DROP_FAULT: 2 } as const;
/** enum x0_event_type. */
export const EventType = { NEW_NEIGHBOUR: 1, DENY_HIT: 2 } as const;

/** A value that cannot be encoded in the shared layout. */
export class LayoutError extends X0Error {}

/** A neighbour: source MAC and IPv4 source (null when its packets were not IPv4). */
export interface NeighbourKey {
  mac: string;
  ipv4: string | null;
}

/** Sizes of the structs, checked against the loaded maps. */
export const SIZES = { key: 12, stats: 32, counter: 16, deny: 16, fault: 4, event: 32, config: 16 } as const;

const MAC = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/;

/** struct x0_neigh_key. */
export function encodeKey({ mac, ipv4 }: NeighbourKey): Buffer {
  const lower = mac.toLowerCase();
  if (!MAC.test(lower)) throw new LayoutError(`invalid MAC address ${JSON.stringify(mac)}`);
  const key = Buffer.alloc(SIZES.key);
  Buffer.from(lower.replaceAll(":", ""), "hex").copy(key, 0);
  if (ipv4 !== null) {
    const octets = ipv4.split(".").map(Number);
    if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255))
      throw new LayoutError(`invalid IPv4 address ${JSON.stringify(ipv4)}`);
    // Network byte order, as the program copies it from the IP header.
    Buffer.from(octets).copy(key, 8);
  }
  return key;
}

/** Reads struct x0_neigh_key at `offset`. */
export function decodeKey(buffer: Buffer, offset = 0): NeighbourKey {
  const mac = [...buffer.subarray(offset, offset + 6)].map((b) => b.toString(16).padStart(2, "0")).join(":");
  const ip = buffer.subarray(offset + 8, offset + 12);
  return { mac, ipv4: ip.readUInt32LE(0) === 0 ? null : [...ip].join(".") };
}

/** The string form of a neighbour key, e.g. "aa:bb:cc:dd:ee:ff/10.0.0.2" or "aa:bb:cc:dd:ee:ff/-". */
export function keyId({ mac, ipv4 }: NeighbourKey): string {
  return `${mac}/${ipv4 ?? "-"}`;
}

/** struct x0_neigh_stats summed over CPUs. */
export interface NeighbourStats {
  packets: bigint;
  bytes: bigint;
  droppedPackets: bigint;
  droppedBytes: bigint;
}

/** Decodes one per-CPU struct x0_neigh_stats value (one 32-byte slot per CPU). */
export function decodeStats(value: Buffer): NeighbourStats {
  const stats: NeighbourStats = { packets: 0n, bytes: 0n, droppedPackets: 0n, droppedBytes: 0n };
  for (let slot = 0; slot + SIZES.stats <= value.length; slot += SIZES.stats) {
    stats.packets += value.readBigUInt64LE(slot);
    stats.bytes += value.readBigUInt64LE(slot + 8);
    stats.droppedPackets += value.readBigUInt64LE(slot + 16);
    stats.droppedBytes += value.readBigUInt64LE(slot + 24);
  }
  return stats;
}

/** struct x0_counter summed over CPUs. */
export function decodeCounter(value: Buffer): { packets: bigint; bytes: bigint } {
  let packets = 0n;
  let bytes = 0n;
  for (let slot = 0; slot + SIZES.counter <= value.length; slot += SIZES.counter) {
    packets += value.readBigUInt64LE(slot);
    bytes += value.readBigUInt64LE(slot + 8);
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
