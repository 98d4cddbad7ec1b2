// The XDP program on every monitored interface. An interface where it cannot attach (absent from the kernel, a foreign
// XDP program, no driver support) falls back on its own: it is retried later and reported with mode "off" and the reason.
import { join } from "node:path";
import type { Libbpf } from "../bpf/libbpf.ts";
import type { MapErrorSink } from "../bpf/map.ts";
import { InterfaceMissing, type NeighbourReading, XdpInterface, type XdpMode, type XdpModePreference, type XdpTotals } from "./attach.ts";
import { decodeFault, decodeKey, keyId, type XdpEvent } from "./layout.ts";
import { openPolicyMaps, type PolicyMaps, policyFlag } from "./pins.ts";

/** Options of a {@link Dataplane}. */
export interface DataplaneOptions {
  objectPath: string;
  pinRoot: string;
  mode: XdpModePreference;
  denyEventIntervalNs: bigint;
  /** How long to wait before retrying an interface that could not be attached. */
  retryMs: number;
  onMapError?: MapErrorSink;
  /** Reports attach results and failures (once per distinct error). */
  onAttach?: (iface: string, result: { mode: XdpMode; error?: Error; cleanedStale?: XdpMode[] }) => void;
}

/** An event with the name of its interface. */
export interface InterfaceEvent extends XdpEvent {
  iface: string;
}

/** What the data plane knows about one interface in one sample. */
export interface InterfaceReading {
  totals: XdpTotals;
  /** Every neighbour's cumulative counters; the records are reused by the interface's next read. */
  neighbours: readonly NeighbourReading[];
  /** keyIds of denied neighbours. */
  denied: ReadonlySet<string>;
  /** keyId → drop probability. */
  faults: ReadonlyMap<string, number>;
}

/** Whether two interface lists are equal, in order. */
function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const NONE_DENIED: ReadonlySet<string> = new Set();
const NO_FAULTS: ReadonlyMap<string, number> = new Map();

interface Failed {
  error: Error;
  retryAt: number;
}

/** The XDP programs of the node's monitored interfaces. */
export class Dataplane {
  private readonly attached = new Map<string, XdpInterface>();
  private readonly failed = new Map<string, Failed>();
  private readonly events: InterfaceEvent[] = [];
  private readonly policy = new Map<string, PolicyMaps>();
  /** The interface list of the last {@link sync}. */
  private synced: readonly string[] = [];

  constructor(
    private readonly lib: Libbpf,
    private readonly options: DataplaneOptions,
  ) {}

  /** Attaches to interfaces not attached yet (failed ones once their retry time has come); detaches from ones no longer wanted. */
  sync(interfaces: readonly string[], now = Date.now()): void {
    // Every sample calls this with the same list: nothing to do unless it changed or a failed interface is due a retry.
    if (this.failed.size === 0 && sameList(interfaces, this.synced)) return;
    this.synced = [...interfaces];
    for (const iface of interfaces) {
      if (this.attached.has(iface)) continue;
      const failed = this.failed.get(iface);
      if (failed && now < failed.retryAt) continue;
      try {
        const xdp = XdpInterface.attach(this.lib, {
          objectPath: this.options.objectPath,
          iface,
          pinRoot: this.options.pinRoot,
          mode: this.options.mode,
          denyEventIntervalNs: this.options.denyEventIntervalNs,
          onEvent: (event) => this.events.push({ ...event, iface }),
          onMapError: this.options.onMapError,
        });
        this.attached.set(iface, xdp);
        this.failed.delete(iface);
        this.options.onAttach?.(iface, { mode: xdp.mode, cleanedStale: xdp.cleanedStale });
      } catch (error) {
        const err = error as Error;
        if (failed?.error.message !== err.message) this.options.onAttach?.(iface, { mode: "off", error: err });
        // A missing interface may appear soon (hotplug); other failures are retried less often.
        this.failed.set(iface, { error: err, retryAt: now + (err instanceof InterfaceMissing ? this.options.retryMs : this.options.retryMs * 6) });
      }
    }
    for (const iface of [...this.attached.keys()]) if (!interfaces.includes(iface)) this.detachOne(iface);
  }

  /** The attach mode of `iface` and, when off, why. */
  state(iface: string): { mode: XdpMode; error?: string } {
    const xdp = this.attached.get(iface);
    if (xdp) return { mode: xdp.mode };
    const failed = this.failed.get(iface);
    return { mode: "off", error: failed?.error.message ?? "not tried yet" };
  }

  /** Whether XDP is attached on at least one interface. */
  get active(): boolean {
    return this.attached.size > 0;
  }

  /** Counters and policy of `iface`, or undefined when XDP is not attached there. */
  read(iface: string): InterfaceReading | undefined {
    const xdp = this.attached.get(iface);
    if (!xdp) return undefined;
    const maps = this.policyMaps(iface);
    // A lowered flag means both maps are empty: one array lookup instead of two whole-map reads per sample.
    const active = policyFlag(maps);
    return {
      totals: xdp.readTotals(),
      neighbours: xdp.readNeighbours(),
      denied: active ? new Set(maps.deny.entries().map(([key]) => keyId(decodeKey(key)))) : NONE_DENIED,
      faults: active ? new Map(maps.fault.entries().map(([key, value]) => [keyId(decodeKey(key)), decodeFault(value)])) : NO_FAULTS,
    };
  }

  private policyMaps(iface: string): PolicyMaps {
    let maps = this.policy.get(iface);
    if (!maps) {
      maps = openPolicyMaps(this.lib, join(this.options.pinRoot, iface), this.options.onMapError);
      this.policy.set(iface, maps);
    }
    return maps;
  }

  /** Ring buffer events since the last call. */
  takeEvents(): InterfaceEvent[] {
    for (const xdp of this.attached.values()) xdp.pollEvents();
    return this.events.splice(0);
  }

  private detachOne(iface: string): void {
    const maps = this.policy.get(iface);
    maps?.deny.close();
    maps?.fault.close();
    maps?.policy.close();
    this.policy.delete(iface);
    const xdp = this.attached.get(iface);
    this.attached.delete(iface);
    xdp?.detach();
  }

  /** Detaches every program (pinned maps stay); throws the first failure after trying all. */
  close(): void {
    const errors: unknown[] = [];
    this.synced = [];
    for (const iface of [...this.attached.keys()]) {
      try {
        this.detachOne(iface);
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw errors[0];
  }
}
