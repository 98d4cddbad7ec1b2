// Node-wide kernel counters from tracepoints: TCP retransmits per destination (tcp:tcp_retransmit_skb) and skb drops per
// reason (skb:kfree_skb). Maps are pinned, so a restarted monitor continues the counts.
import { readFileSync } from "node:fs";
import type { Libbpf } from "../bpf/libbpf.ts";
import type { BpfMap, MapErrorSink } from "../bpf/map.ts";
import { BpfObject } from "../bpf/object.ts";
import { u64 } from "../xdp/layout.ts";
import { decodeRetxKey, parseDropReasons, RETX_KEY, TRACE_MAPS, TRACE_OBJECT } from "./layout.ts";

/** The tracefs format file that names drop reasons. */
export const KFREE_SKB_FORMAT = "/sys/kernel/tracing/events/skb/kfree_skb/format";

/** The tracepoint programs, attached. */
export class NetTrace {
  /** Retransmit destinations by raw key bytes (latin1), with the read in which each was last seen. */
  private readonly destinations = new Map<string, { destination: string | null; read: number }>();
  private reads = 0;

  private constructor(
    private readonly object: BpfObject,
    private readonly retransmits: BpfMap,
    private readonly drops: BpfMap,
    private readonly reasonNames: Map<number, string>,
  ) {}

  /** Loads net_trace.bpf.o with maps pinned in `pinDir` and attaches both tracepoints. */
  static attach(lib: Libbpf, { objectPath, pinDir, onMapError }: { objectPath: string; pinDir: string; onMapError?: MapErrorSink }): NetTrace {
    const object = BpfObject.load(lib, objectPath, { pinDir, pinMaps: TRACE_OBJECT.maps, onMapError });
    try {
      for (const tp of [TRACE_OBJECT.retransmit, TRACE_OBJECT.kfreeSkb]) object.attachTracepoint(tp.program, tp.category, tp.event);
      const reasonNames = parseDropReasons(readFileSync(KFREE_SKB_FORMAT, "utf8"));
      const retransmits = object.map("retransmits").expectLayout(TRACE_MAPS.retransmits);
      return new NetTrace(object, retransmits, object.map("drop_reasons").expectLayout(TRACE_MAPS.drop_reasons), reasonNames);
    } catch (error) {
      object.close();
      throw error;
    }
  }

  /** Cumulative TCP retransmits by destination address. */
  readRetransmits(): Map<string, number> {
    const out = new Map<string, number>();
    const read = ++this.reads;
    // Read in place from the batch buffers (both maps are read every sample); addresses are formatted once per destination.
    this.retransmits.forEach((keys, keyOffset, values, valueOffset) => {
      const raw = keys.toString("latin1", keyOffset, keyOffset + RETX_KEY.size);
      let cached = this.destinations.get(raw);
      if (!cached) {
        cached = { destination: decodeRetxKey(keys.subarray(keyOffset, keyOffset + RETX_KEY.size)), read };
        this.destinations.set(raw, cached);
      }
      cached.read = read;
      if (cached.destination) out.set(cached.destination, u64(values, valueOffset));
    });
    for (const [raw, cached] of this.destinations) if (cached.read !== read) this.destinations.delete(raw);
    return out;
  }

  /** Cumulative skb drops by reason name (the kernel's SKB_DROP_REASON_* suffix, or `reason_<n>`). */
  readDrops(): Map<string, number> {
    const out = new Map<string, number>();
    const { valueBytes } = this.drops;
    this.drops.forEach((keys, keyOffset, values, valueOffset) => {
      const code = keys.readUInt32LE(keyOffset);
      let count = 0;
      for (let slot = valueOffset; slot + 8 <= valueOffset + valueBytes; slot += 8) count += u64(values, slot);
      let name = this.reasonNames.get(code);
      if (name === undefined) {
        name = `reason_${code}`;
        this.reasonNames.set(code, name);
      }
      out.set(name, (out.get(name) ?? 0) + count);
    });
    return out;
  }

  /** Detaches the tracepoints (pins stay). */
  close(): void {
    this.object.close();
  }
}
