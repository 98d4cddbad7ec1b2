// The XDP program on one interface: stale-instance cleanup, load with pinned maps, attach (native, else generic), read, detach.
import { join } from "node:path";
import { X0Error } from "@x0/shared";
import { BpfError, cstr, type Libbpf } from "../bpf/libbpf.ts";
import type { BpfMap, MapErrorSink } from "../bpf/map.ts";
import { BpfObject } from "../bpf/object.ts";
import { RingBuffer } from "../bpf/ringbuf.ts";
import {
  decodeCounter,
  decodeEvent,
  decodeKey,
  encodeConfig,
  keyId,
  NEIGH_STATS,
  type NeighbourKey,
  SIZES,
  Stat,
  u64,
  XDP_MAPS,
  XDP_OBJECT,
  type XdpEvent,
} from "./layout.ts";
import { syncPolicyFlag } from "./pins.ts";

/** XDP attach flags (include/uapi/linux/if_link.h). */
export const XdpFlag = { UPDATE_IF_NOEXIST: 1, SKB_MODE: 2, DRV_MODE: 4 } as const;

/** How the program is attached: native (driver) mode, generic (skb) mode, or not at all. */
export type XdpMode = "native" | "generic" | "off";
/** Which mode to try: native then generic (`auto`), or only one. */
export type XdpModePreference = "auto" | "native" | "generic";

/** The interface does not exist in this network namespace. */
export class InterfaceMissing extends X0Error {}
/** Another (not x0tta6bl4) XDP program is attached; the monitor does not replace it. */
export class XdpBusy extends X0Error {}

/** Interface totals from the XDP program (cumulative; numbers, exact up to 2^53 like the neighbour counters). */
export interface XdpTotals {
  packets: number;
  bytes: number;
  passed: number;
  droppedDeny: number;
  droppedFault: number;
}

/** A neighbour's addresses, formatted once while it stays in the map. */
export interface KnownNeighbour extends NeighbourKey {
  /** keyId of the neighbour. */
  readonly id: string;
}

/** One neighbour's cumulative counters summed over CPUs, as of the last read. */
export interface NeighbourReading {
  neighbour: KnownNeighbour;
  packets: number;
  bytes: number;
  droppedPackets: number;
}

/** Byte offsets of the counters read from each per-CPU struct x0_neigh_stats slot. */
const PACKETS = NEIGH_STATS.fields.packets.offset;
const BYTES = NEIGH_STATS.fields.bytes.offset;
const DROPPED_PACKETS = NEIGH_STATS.fields.dropped_packets.offset;

/** A cached neighbour key and the read in which it was last seen. */
interface CachedKey {
  neighbour: KnownNeighbour;
  read: number;
}

/** The ifindex of `name`, or throws {@link InterfaceMissing}. */
export function ifindexOf(lib: Libbpf, name: string): number {
  const ifindex = lib.libc.if_nametoindex(cstr(name));
  if (!ifindex) throw new InterfaceMissing(`interface ${name} does not exist in this network namespace`);
  return ifindex;
}

/** The name and id of an XDP program, from struct bpf_prog_info (id at offset 4, name[16] at 64). */
function progInfo(lib: Libbpf, fd: number): { id: number; name: string } {
  const info = Buffer.alloc(256);
  const length = new Uint32Array([info.length]);
  lib.check("bpf_obj_get_info_by_fd(prog)", lib.bpf.bpf_obj_get_info_by_fd(fd, info, length));
  const name = info.subarray(64, 80);
  const end = name.indexOf(0);
  return { id: info.readUInt32LE(4), name: name.subarray(0, end < 0 ? 16 : end).toString("utf8") };
}

/** The id of the program attached to `ifindex` in `mode` (0 when none). */
function attachedId(lib: Libbpf, ifindex: number, modeFlag: number): number {
  const id = new Uint32Array(1);
  lib.check("bpf_xdp_query_id", lib.bpf.bpf_xdp_query_id(ifindex, modeFlag, id));
  return id[0] ?? 0;
}

/**
 * Detaches an x0 XDP program left attached by a monitor that crashed (netlink-attached programs outlive their loader).
 * Returns the modes it cleaned; throws {@link XdpBusy} when a foreign program is attached.
 */
export function detachStale(lib: Libbpf, iface: string, ifindex: number): XdpMode[] {
  const cleaned: XdpMode[] = [];
  for (const [mode, flag] of [
    ["native", XdpFlag.DRV_MODE],
    ["generic", XdpFlag.SKB_MODE],
  ] as const) {
    const id = attachedId(lib, ifindex, flag);
    if (!id) continue;
    const fd = lib.bpf.bpf_prog_get_fd_by_id(id);
    if (fd < 0) throw new BpfError(`bpf_prog_get_fd_by_id(${id})`, -fd, lib.takeLog());
    let name: string;
    try {
      name = progInfo(lib, fd).name;
    } finally {
      lib.libc.close(fd);
    }
    if (name !== XDP_OBJECT.program) throw new XdpBusy(`${iface} already runs XDP program ${JSON.stringify(name)} (id ${id}) in ${mode} mode`);
    lib.check(`bpf_xdp_detach(${iface}, ${mode})`, lib.bpf.bpf_xdp_detach(ifindex, flag, null));
    cleaned.push(mode);
  }
  return cleaned;
}

/** Options for {@link XdpInterface.attach}. */
export interface XdpAttachOptions {
  /** Path of xdp_mesh.bpf.o. */
  objectPath: string;
  iface: string;
  /** Maps are pinned in `<pinRoot>/<iface>/`. */
  pinRoot: string;
  mode: XdpModePreference;
  /** At most one deny-hit event per neighbour per this many ns. */
  denyEventIntervalNs: bigint;
  /** Called for each ring buffer event. */
  onEvent: (event: XdpEvent) => void;
  onMapError?: MapErrorSink;
}

/** The XDP program attached to one interface. */
export class XdpInterface {
  private readonly neighbours: BpfMap;
  private readonly totals: BpfMap;
  private readonly totalKeys = [Stat.TOTAL, Stat.DROP_DENY, Stat.DROP_FAULT].map((stat) => new Uint8Array(new Uint32Array([stat]).buffer));
  /** One lookup result of the totals map, reused by every read. */
  private readonly totalsValue: Buffer;
  private detached = false;
  /** Neighbour keys by their raw bytes (as a latin1 string): each neighbour's addresses are formatted once, not every read. */
  private readonly keys = new Map<string, CachedKey>();
  private reads = 0;
  /** The records {@link readNeighbours} fills, reused by every read. */
  private readonly readings: NeighbourReading[] = [];

  private constructor(
    private readonly lib: Libbpf,
    readonly iface: string,
    readonly ifindex: number,
    readonly mode: Exclude<XdpMode, "off">,
    readonly progId: number,
    /** Modes in which a crashed instance's program was found and detached. */
    readonly cleanedStale: XdpMode[],
    private readonly object: BpfObject,
    private readonly ring: RingBuffer,
  ) {
    this.neighbours = object.map("neighbours").expectLayout(XDP_MAPS.neighbours);
    this.totals = object.map("totals").expectLayout(XDP_MAPS.totals);
    this.totalsValue = Buffer.alloc(this.totals.valueBytes);
  }

  /** Cleans a stale instance, loads the object with pinned maps and attaches it. */
  static attach(lib: Libbpf, options: XdpAttachOptions): XdpInterface {
    const { iface } = options;
    const ifindex = ifindexOf(lib, iface);
    const cleanedStale = detachStale(lib, iface, ifindex);
    const object = BpfObject.load(lib, options.objectPath, {
      rodata: encodeConfig({ denyEventIntervalNs: options.denyEventIntervalNs, ifindex }),
      pinDir: join(options.pinRoot, iface),
      pinMaps: XDP_OBJECT.maps,
      onMapError: options.onMapError,
    });
    let ring: RingBuffer | undefined;
    try {
      const deny = object.map("deny").expectLayout(XDP_MAPS.deny);
      const fault = object.map("fault").expectLayout(XDP_MAPS.fault);
      // Pinned deny/fault entries from an earlier run (or an object without the flag) must raise it before packets flow.
      syncPolicyFlag({ deny, fault, policy: object.map("policy").expectLayout(XDP_MAPS.policy) });
      const progFd = object.programFd(XDP_OBJECT.program);
      const progId = progInfo(lib, progFd).id;
      const mode = XdpInterface.attachProgram(lib, iface, ifindex, progFd, options.mode);
      ring = new RingBuffer(lib, object.map(XDP_OBJECT.events).fd, (record) => options.onEvent(decodeEvent(record)));
      return new XdpInterface(lib, iface, ifindex, mode, progId, cleanedStale, object, ring);
    } catch (error) {
      ring?.close();
      object.close();
      throw error;
    }
  }

  private static attachProgram(lib: Libbpf, iface: string, ifindex: number, progFd: number, preference: XdpModePreference): "native" | "generic" {
    const tries: ["native" | "generic", number][] = [];
    if (preference !== "generic") tries.push(["native", XdpFlag.DRV_MODE]);
    if (preference !== "native") tries.push(["generic", XdpFlag.SKB_MODE]);
    const errors: BpfError[] = [];
    for (const [mode, flag] of tries) {
      const ret = lib.bpf.bpf_xdp_attach(ifindex, progFd, flag | XdpFlag.UPDATE_IF_NOEXIST, null);
      if (ret >= 0) return mode;
      errors.push(new BpfError(`bpf_xdp_attach(${iface}, ${mode})`, -ret, lib.takeLog()));
    }
    throw new BpfError(`bpf_xdp_attach(${iface})`, errors.at(-1)?.errno ?? 22, errors.map((e) => e.message).join("; "), { cause: errors.at(-1) });
  }

  /** Interface totals summed over CPUs. */
  readTotals(): XdpTotals {
    const [total, deny, fault] = this.totalKeys.map((key) =>
      this.totals.lookupInto(key, this.totalsValue) ? decodeCounter(this.totalsValue, this.totals.valueBytes) : { packets: 0, bytes: 0 },
    );
    const packets = total?.packets ?? 0;
    const droppedDeny = deny?.packets ?? 0;
    const droppedFault = fault?.packets ?? 0;
    // The program counts only totals and drops (one map update fewer per packet); passed is the rest.
    return { packets, bytes: total?.bytes ?? 0, passed: packets - droppedDeny - droppedFault, droppedDeny, droppedFault };
  }

  /**
   * Every neighbour's counters summed over CPUs, decoded straight from the batch buffers into records that the next read
   * overwrites (read them before calling again): with 64 neighbours every 100 ms, an object per neighbour and read was much
   * of the monitor's garbage, and a callback per neighbour much of its JIT work.
   */
  readNeighbours(): readonly NeighbourReading[] {
    const read = ++this.reads;
    const { readings } = this;
    let count = 0;
    const { valueBytes } = this.neighbours;
    this.neighbours.forEach((keys, keyOffset, values, valueOffset) => {
      const raw = keys.toString("latin1", keyOffset, keyOffset + SIZES.key);
      let cached = this.keys.get(raw);
      if (!cached) {
        const decoded = decodeKey(keys, keyOffset);
        cached = { neighbour: { ...decoded, id: keyId(decoded) }, read };
        this.keys.set(raw, cached);
      }
      cached.read = read;
      let packets = 0;
      let bytes = 0;
      let dropped = 0;
      for (let slot = valueOffset; slot + SIZES.stats <= valueOffset + valueBytes; slot += SIZES.stats) {
        packets += u64(values, slot + PACKETS);
        bytes += u64(values, slot + BYTES);
        dropped += u64(values, slot + DROPPED_PACKETS);
      }
      const reading = readings[count];
      if (reading) {
        reading.neighbour = cached.neighbour;
        reading.packets = packets;
        reading.bytes = bytes;
        reading.droppedPackets = dropped;
      } else readings.push({ neighbour: cached.neighbour, packets, bytes, droppedPackets: dropped });
      count++;
    });
    readings.length = count;
    // Neighbours evicted from the LRU map leave the cache with it.
    if (this.keys.size > count) for (const [raw, cached] of this.keys) if (cached.read !== read) this.keys.delete(raw);
    return readings;
  }

  /** Consumes pending ring buffer events (delivered to `onEvent`); returns how many. */
  pollEvents(): number {
    return this.ring.poll();
  }

  /** Detaches the program (only if it is still ours) and frees the object; pinned maps stay. */
  detach(): void {
    if (this.detached) return;
    this.detached = true;
    this.ring.close();
    const flag = this.mode === "native" ? XdpFlag.DRV_MODE : XdpFlag.SKB_MODE;
    try {
      if (attachedId(this.lib, this.ifindex, flag) === this.progId) {
        this.lib.check(`bpf_xdp_detach(${this.iface})`, this.lib.bpf.bpf_xdp_detach(this.ifindex, flag, null));
      }
    } finally {
      this.object.close();
    }
  }
}
