// Node-wide kernel counters from tracepoints: TCP retransmits per destination (tcp:tcp_retransmit_skb) and skb drops per
// reason (skb:kfree_skb). Maps are pinned, so a restarted monitor continues the counts.
import { readFileSync } from "node:fs";
import type { Libbpf } from "../bpf/libbpf.ts";
import type { BpfMap, MapErrorSink } from "../bpf/map.ts";
import { BpfObject } from "../bpf/object.ts";
import { decodeRetxKey, parseDropReasons, RETX_KEY_SIZE, TRACE_OBJECT } from "./layout.ts";

/** The tracefs format file that names drop reasons. */
export const KFREE_SKB_FORMAT = "/sys/kernel/tracing/events/skb/kfree_skb/format";

/** The tracepoint programs, attached. */
export class NetTrace {
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
      return new NetTrace(object, object.map("retransmits").expectLayout(RETX_KEY_SIZE, 8), object.map("drop_reasons").expectLayout(4, 8), reasonNames);
    } catch (error) {
      object.close();
      throw error;
    }
  }

  /** Cumulative TCP retransmits by destination address. */
  readRetransmits(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [key, value] of this.retransmits.entries()) {
      const destination = decodeRetxKey(key);
      if (destination) out.set(destination, Number(value.readBigUInt64LE(0)));
    }
    return out;
  }

  /** Cumulative skb drops by reason name (the kernel's SKB_DROP_REASON_* suffix, or `reason_<n>`). */
  readDrops(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [key, value] of this.drops.entries()) {
      const code = key.readUInt32LE(0);
      let count = 0n;
      for (let slot = 0; slot + 8 <= value.length; slot += 8) count += value.readBigUInt64LE(slot);
      const name = this.reasonNames.get(code) ?? `reason_${code}`;
      out.set(name, (out.get(name) ?? 0) + Number(count));
    }
    return out;
  }

  /** Detaches the tracepoints (pins stay). */
  close(): void {
    this.object.close();
  }
}
