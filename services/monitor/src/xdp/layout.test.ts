import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { BTF_LAYOUT_OBJECT, checkObjectLayout } from "../bpf/btf-layout.ts";
import { BPF_FILES, DEFAULT_BPF_DIR } from "../sample/ebpf.ts";
import {
  decodeEvent,
  decodeFault,
  decodeKey,
  decodeStats,
  encodeConfig,
  encodeFault,
  encodeKey,
  keyId,
  LayoutError,
  SIZES,
  XDP_MESH_BTF,
  XDP_MESH_TYPES_BTF,
} from "./layout.ts";

describe("layout", () => {
  test("layout - a neighbour key round-trips, IPv4 in network byte order at offset 8", () => {
    const key = encodeKey({ mac: "02:AA:bb:0c:0d:0e", ipv4: "10.1.2.3" });
    expect(key.length).toBe(SIZES.key);
    expect([...key.subarray(8)]).toEqual([10, 1, 2, 3]);
    expect(decodeKey(key)).toEqual({ mac: "02:aa:bb:0c:0d:0e", ipv4: "10.1.2.3" });
    expect(decodeKey(encodeKey({ mac: "02:aa:bb:0c:0d:0e", ipv4: null }))).toEqual({ mac: "02:aa:bb:0c:0d:0e", ipv4: null });
    expect(keyId({ mac: "02:aa:bb:0c:0d:0e", ipv4: null })).toBe("02:aa:bb:0c:0d:0e/-");
    // A MAC-wide key: scope X0_KEY_ANY_IPV4 in bytes 6-7, no address.
    const any = encodeKey({ mac: "02:aa:bb:0c:0d:0e", ipv4: "any" });
    expect(any.readUInt16LE(6)).toBe(1);
    expect(any.readUInt32LE(8)).toBe(0);
    expect(decodeKey(any)).toEqual({ mac: "02:aa:bb:0c:0d:0e", ipv4: "any" });
    expect(keyId(decodeKey(any))).toBe("02:aa:bb:0c:0d:0e/any");
  });

  test("layout - rejects malformed addresses with a LayoutError", () => {
    expect(() => encodeKey({ mac: "02:aa", ipv4: null })).toThrow(LayoutError);
    expect(() => encodeKey({ mac: "02:aa:bb:0c:0d:0e", ipv4: "10.1.2.300" })).toThrow(LayoutError);
    expect(() => encodeFault(1.5)).toThrow(LayoutError);
  });

  test("layout - per-CPU stats are summed over the CPU slots", () => {
    const value = Buffer.alloc(SIZES.stats * 2);
    value.writeBigUInt64LE(3n, 0);
    value.writeBigUInt64LE(300n, 8);
    value.writeBigUInt64LE(4n, 32);
    value.writeBigUInt64LE(400n, 40);
    value.writeBigUInt64LE(1n, 48);
    value.writeBigUInt64LE(100n, 56);
    expect(decodeStats(value)).toEqual({ packets: 7, bytes: 700, droppedPackets: 1, droppedBytes: 100 });
    // A value inside a batch buffer, and u64 halves above 2^32.
    const batch = Buffer.concat([Buffer.alloc(8), value]);
    batch.writeBigUInt64LE(2n ** 40n + 5n, 8 + 32);
    expect(decodeStats(batch, 8, value.length).packets).toBe(2 ** 40 + 5 + 3);
  });

  test("layout - fault probability is stored in 1/65536 units", () => {
    expect(encodeFault(0.5).readUInt32LE(0)).toBe(32768);
    expect(encodeFault(1).readUInt32LE(0)).toBe(65536);
    expect(decodeFault(encodeFault(0.25))).toBe(0.25);
  });

  test("layout - decodes an event record and encodes the config struct", () => {
    const record = Buffer.alloc(SIZES.event);
    record.writeUInt32LE(2, 0);
    record.writeUInt32LE(7, 4);
    encodeKey({ mac: "02:00:00:00:00:01", ipv4: "192.168.0.9" }).copy(record, 8);
    record.writeBigUInt64LE(123n, 24);
    expect(decodeEvent(record)).toEqual({ type: "deny_hit", ifindex: 7, neighbour: { mac: "02:00:00:00:00:01", ipv4: "192.168.0.9" }, tsNs: 123n });
    const config = encodeConfig({ denyEventIntervalNs: 100_000_000n, ifindex: 7 });
    expect(config.length).toBe(SIZES.config);
    expect(config.readBigUInt64LE(0)).toBe(100_000_000n);
    expect(config.readUInt32LE(8)).toBe(7);
  });

  test("layout - agrees with the BTF of xdp_mesh.bpf.o and of every type in xdp_mesh.h (no root: the object files only)", () => {
    expect(checkObjectLayout(join(DEFAULT_BPF_DIR, BPF_FILES.xdp), XDP_MESH_BTF)).toEqual([]);
    expect(checkObjectLayout(join(DEFAULT_BPF_DIR, BTF_LAYOUT_OBJECT), XDP_MESH_TYPES_BTF)).toEqual([]);
  });
});
