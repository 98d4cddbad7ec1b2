// batman-adv on top of a MeshSim, for tests: OGMs per hard interface, each node's neighbour and originator tables read
// once a second the way the monitor reads batctl (and repeated in every telemetry sample until the next read), faults.
import { type BatmanSample, mulberry32, type NodeAnnouncement, type Telemetry } from "@x0/shared";
import type { MeshSim } from "./mesh-sim.ts";

/** batman-adv's local TQ window (OGMs). */
const WINDOW = 64;
/** batman-adv purges a neighbour not heard from for 200 s. */
const PURGE_MS = 200_000;
/** batman-adv sends each OGM within ±20 ms of its interval. */
const JITTER_MS = 20;

/** Options of a {@link BatmanSim}. */
export interface BatmanSimOptions {
  /** Undirected links as [a, b], the same as the MeshSim's. */
  links: [string, string][];
  /** OGM interval (batman-adv's orig_interval). */
  ogmMs?: number;
  /** How often each node's monitor runs batctl. */
  readMs?: number;
  /** Keep the MeshSim's hello probes in the samples (false: batman-adv is the only link signal). */
  probes?: boolean;
  seed?: number;
}

/** What `observer` knows of the neighbour at the other end of one of its hard interfaces. */
interface Adjacency {
  observer: string;
  iface: string;
  neighbour: string;
  mac: string;
  lastHeard: number | null;
  /** Per OGM slot of the neighbour: whether it arrived and its echo of our OGM made it back (the asymmetry batman-adv penalises). */
  window: boolean[];
  tq: number;
}

/** MAC of `node`'s end of link `k` (01: the first node of the link, 02: the second). */
function macOf(k: number, first: boolean): string {
  return `02:00:00:00:${k.toString(16).padStart(2, "0")}:${first ? "01" : "02"}`;
}

/** A batman-adv mesh over a MeshSim's links: hard interface `<a>-<b>` on each end, mesh interface bat0. */
export class BatmanSim {
  readonly ogmMs: number;
  readonly readMs: number;
  readonly #probes: boolean;
  readonly #random: () => number;
  readonly #adjacencies: Adjacency[] = [];
  readonly #macs = new Map<string, string>();
  readonly #nodes: string[];
  readonly #latest = new Map<string, BatmanSample>();
  readonly #nextOgm = new Map<string, number>();
  /** Extra OGM loss per direction, keyed "from>to" (the MeshSim's loss applies to OGMs too). */
  readonly ogmLoss = new Map<string, number>();
  /** TQ scale per observer's view, keyed "observer>neighbour": a link batman-adv rates worse while its OGMs still arrive. */
  readonly tqScale = new Map<string, number>();
  /** Nodes whose batctl fails (the monitor then sends an errored sample with empty tables). */
  readonly errored = new Set<string>();
  /** Nodes whose batctl read stalls: the monitor repeats its last read. */
  readonly frozen = new Set<string>();
  /** Nodes whose telemetry has no batman sample. */
  readonly missing = new Set<string>();
  /** Hard interfaces `<node>/<iface>` that are down (or detached): no OGMs, and their table entries are gone. */
  readonly down = new Set<string>();

  constructor(
    readonly mesh: MeshSim,
    options: BatmanSimOptions,
  ) {
    this.ogmMs = options.ogmMs ?? 1000;
    this.readMs = options.readMs ?? 1000;
    this.#probes = options.probes ?? true;
    this.#random = mulberry32(options.seed ?? 11);
    const nodes = new Set<string>();
    options.links.forEach(([a, b], k) => {
      nodes.add(a);
      nodes.add(b);
      this.#macs.set(`${a}/${a}-${b}`, macOf(k, true));
      this.#macs.set(`${b}/${b}-${a}`, macOf(k, false));
      this.#adjacencies.push(this.#adjacency(a, b, macOf(k, false)), this.#adjacency(b, a, macOf(k, true)));
    });
    this.#nodes = [...nodes].sort();
    for (const [i, node] of this.#nodes.entries()) this.#nextOgm.set(node, mesh.now + ((i * 211) % this.ogmMs) + 1);
  }

  #adjacency(observer: string, neighbour: string, mac: string): Adjacency {
    return { observer, iface: `${observer}-${neighbour}`, neighbour, mac, lastHeard: null, window: [], tq: 0 };
  }

  /** The MAC of `node`'s hard interface `iface`. */
  macOf(node: string, iface: string): string | undefined {
    return this.#macs.get(`${node}/${iface}`);
  }

  /** The MeshSim's announcements with MACs and the batman-adv mesh (hard interfaces down in {@link down} still attached unless `detached`). */
  announcements(detached: ReadonlySet<string> = new Set()): NodeAnnouncement[] {
    return this.mesh.announcements().map((announcement, i) => {
      const interfaces = announcement.interfaces.map((iface) => ({ ...iface, mac: this.macOf(announcement.node, iface.name) ?? null }));
      const hard = interfaces.map((iface) => iface.name).filter((name) => !detached.has(`${announcement.node}/${name}`));
      const primary = interfaces[0]?.mac ?? "02:00:00:00:ff:ff";
      return {
        ...announcement,
        interfaces,
        batman: { mesh_interface: "bat0", originator: primary, hard_interfaces: hard, address: `10.201.0.${i + 1}/24` },
      };
    });
  }

  /** Advances batman-adv to `now` (call it every ms): each node's OGMs (jittered as batman-adv does) and batctl reads. */
  step(now: number): void {
    for (const [i, node] of this.#nodes.entries()) {
      if (now >= (this.#nextOgm.get(node) ?? 0)) {
        this.#ogm(node, now);
        this.#nextOgm.set(node, now + this.ogmMs - JITTER_MS + Math.floor(this.#random() * 2 * JITTER_MS));
      }
      if ((now - ((i * 337 + 500) % this.readMs)) % this.readMs === 0) this.#read(node, now);
    }
  }

  #lost(from: string, to: string): boolean {
    const key = `${from}>${to}`;
    return this.#random() < (this.mesh.loss.get(key) ?? 0) || this.#random() < (this.ogmLoss.get(key) ?? 0);
  }

  #ogm(node: string, now: number): void {
    for (const adjacency of this.#adjacencies) {
      if (adjacency.neighbour !== node) continue;
      const from = `${node}/${node}-${adjacency.observer}`;
      if (this.down.has(from) || this.down.has(`${adjacency.observer}/${adjacency.iface}`)) continue;
      const arrived = !this.#lost(node, adjacency.observer);
      // The echo: the observer's own OGM, rebroadcast by this neighbour, made it there and back.
      const echoed = arrived && !this.#lost(adjacency.observer, node);
      adjacency.window.push(echoed);
      if (adjacency.window.length > WINDOW) adjacency.window.shift();
      if (!arrived) continue;
      adjacency.lastHeard = now;
      // batman-adv's asymmetry penalty 1 - (1 - r)³ over the echo ratio of the last 64 OGM slots: it ramps up on a new link.
      const ratio = adjacency.window.filter(Boolean).length / WINDOW;
      const scale = this.tqScale.get(`${adjacency.observer}>${node}`) ?? 1;
      adjacency.tq = Math.round(255 * (1 - (1 - ratio) ** 3) * scale);
    }
  }

  #read(node: string, now: number): void {
    if (this.frozen.has(node)) return;
    if (this.errored.has(node)) {
      this.#latest.set(node, { mesh_interface: "bat0", originators: [], neighbours: [], error: "batctl meshif bat0 oj exited 1: Error - mesh not enabled" });
      return;
    }
    const neighbours: BatmanSample["neighbours"] = [];
    const originators: BatmanSample["originators"] = [];
    for (const adjacency of this.#adjacencies) {
      if (adjacency.observer !== node || adjacency.lastHeard === null) continue;
      if (this.down.has(`${node}/${adjacency.iface}`) || now - adjacency.lastHeard > PURGE_MS) continue;
      const lastSeen = now - adjacency.lastHeard;
      neighbours.push({ neighbour: adjacency.mac, interface: adjacency.iface, last_seen_ms: lastSeen });
      originators.push({
        originator: adjacency.mac,
        next_hop: adjacency.mac,
        interface: adjacency.iface,
        tq: adjacency.tq,
        last_seen_ms: lastSeen,
        best: true,
      });
      // Two-hop originators through this neighbour, as in batctl's table: never a one-hop entry, so never judged.
      for (const further of this.#adjacencies) {
        if (further.observer !== adjacency.neighbour || further.neighbour === node) continue;
        originators.push({
          originator: further.mac,
          next_hop: adjacency.mac,
          interface: adjacency.iface,
          tq: Math.round(adjacency.tq * 0.8),
          last_seen_ms: lastSeen,
          best: false,
        });
      }
    }
    this.#latest.set(node, { mesh_interface: "bat0", originators, neighbours });
  }

  /** The telemetry sample as the monitor would send it: the MeshSim's, with the node's latest batman read. */
  decorate(sample: Telemetry): Telemetry {
    const { probes, ...rest } = sample;
    const batman = this.missing.has(sample.node) ? undefined : this.#latest.get(sample.node);
    return { ...rest, ...(this.#probes && probes ? { probes } : {}), ...(batman ? { batman: structuredClone(batman) } : {}) };
  }
}
