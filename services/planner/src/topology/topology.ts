// The planner's view of the mesh: links from node announcements, their measured cost, and the incidents that hold them out of routing.
import {
  type Link,
  type LinkMark,
  type LinkRecord,
  type LinkStateName,
  linksFromAnnouncements,
  type MeshGraph,
  type NodeAnnouncement,
  type ProbeSample,
} from "@x0/shared";
import { type LinkCostParams, LinkMeasurement } from "./linkCost.ts";

/** Anti-flapping settings (the policy's `flapping` section). */
export interface FlapParams {
  /** Downs within `windowMs` that put a link on hold. */
  downs: number;
  windowMs: number;
  /** How long a held link must stay up before it returns. */
  stableMs: number;
}

/**
 * After an outage, probe samples are ignored this long: the monitors compute loss over their last 50 hellos (1 s at
 * 20 ms), so for about a second they still report the outage's losses for a link that works again.
 */
const OUTAGE_GRACE_MS = 2000;

class LinkState {
  readonly measurement = new LinkMeasurement();
  readonly marks = new Map<string, LinkMark>();
  downs: number[] = [];
  heldSince: number | undefined;
  stableSince: number | undefined;
  lastIncidentId: string | undefined;
  /** The measurement when the link's first incident began, restored when its last one ends. */
  beforeDown: ReturnType<LinkMeasurement["snapshot"]> | undefined;
  /** Something worth writing changed. */
  dirty = false;
  /** The change must be written now (state or cost), not on the next throttled flush. */
  urgent = false;
  lastWrittenAt = 0;

  constructor(public link: Link) {}

  hasDown(): boolean {
    for (const mark of this.marks.values()) if (mark.effect === "down") return true;
    return false;
  }

  cost(): number {
    if (this.heldSince !== undefined) return Number.POSITIVE_INFINITY;
    let cost = this.measurement.routingCost;
    for (const mark of this.marks.values()) {
      if (mark.effect !== "degraded") return Number.POSITIVE_INFINITY;
      cost = Math.max(cost, mark.cost ?? cost);
    }
    return cost;
  }

  state(): LinkStateName {
    if (this.heldSince !== undefined) return "held";
    if (this.hasDown()) return "down";
    return this.marks.size > 0 ? "degraded" : "up";
  }

  touch(urgent: boolean): void {
    this.dirty = true;
    if (urgent) this.urgent = true;
  }
}

/** Links from announcements with their measured costs, incident marks and hold-downs. */
export class TopologyState {
  readonly #announcements = new Map<string, NodeAnnouncement>();
  readonly #states = new Map<string, LinkState>();
  /** Restored records of links not (yet) announced, applied when they appear. */
  readonly #pending = new Map<string, LinkRecord>();
  /** `<node>>` + peer address → the link and which end measures it. */
  #probeIndex = new Map<string, { state: LinkState; end: "a" | "b" }>();
  #linkIds: string[] = [];

  constructor(
    readonly costParams: LinkCostParams,
    readonly flap: FlapParams,
  ) {}

  /** Adds or replaces a node's announcement and rebuilds the links. */
  announce(announcement: NodeAnnouncement): void {
    this.#announcements.set(announcement.node, announcement);
    this.#rebuild();
  }

  /** Forgets a node (its announcement was deleted). */
  forget(node: string): void {
    if (this.#announcements.delete(node)) this.#rebuild();
  }

  /** Restores a link's record written by an earlier planner (marks, flap history, hold, measurements). */
  restore(record: LinkRecord): void {
    const state = this.#states.get(record.id);
    if (!state) {
      this.#pending.set(record.id, record);
      return;
    }
    for (const mark of record.marks) state.marks.set(mark.incident_id, mark);
    state.downs = [...record.downs];
    state.heldSince = record.held_since ?? undefined;
    state.stableSince = record.stable_since ?? undefined;
    state.lastIncidentId = record.last_incident_id ?? undefined;
    state.measurement.lossAb = record.loss.a_to_b ?? undefined;
    state.measurement.lossBa = record.loss.b_to_a ?? undefined;
    state.measurement.rttMs = record.rtt_ms ?? undefined;
    state.measurement.routingCost = record.routing_cost;
  }

  #rebuild(): void {
    const links = linksFromAnnouncements([...this.#announcements.values()]);
    const probeIndex = new Map<string, { state: LinkState; end: "a" | "b" }>();
    for (const link of links) {
      let state = this.#states.get(link.id);
      if (state) state.link = link;
      else {
        state = new LinkState(link);
        this.#states.set(link.id, state);
        const pending = this.#pending.get(link.id);
        if (pending) {
          this.#pending.delete(link.id);
          this.restore(pending);
        }
      }
      probeIndex.set(`${link.a.node}>${link.b.address}`, { state, end: "a" });
      probeIndex.set(`${link.b.node}>${link.a.address}`, { state, end: "b" });
    }
    // States of links no longer announced are kept: their marks and flap history matter when the link comes back.
    this.#probeIndex = probeIndex;
    this.#linkIds = links.map((link) => link.id);
  }

  /** Announced node ids, sorted. */
  get nodes(): string[] {
    return [...this.#announcements.keys()].sort();
  }

  /** Whether any link is known (without links the planner cannot route and falls back). */
  hasLinks(): boolean {
    return this.#linkIds.length > 0;
  }

  /** How many links are announced. */
  linkCount(): number {
    return this.#linkIds.length;
  }

  /** The announced link with this id. */
  link(id: string): Link | undefined {
    return this.#linkIds.includes(id) ? this.#states.get(id)?.link : undefined;
  }

  /** Ids of the announced links of `node`. */
  linksOf(node: string): string[] {
    return this.#linkIds.filter((id) => {
      const link = this.#states.get(id)?.link;
      return link?.a.node === node || link?.b.node === node;
    });
  }

  /** A node's announcement. */
  announcement(node: string): NodeAnnouncement | undefined {
    return this.#announcements.get(node);
  }

  /** Folds one node's probe samples into the costs of the links whose far end has the probed address; returns the links whose routing cost changed. */
  observeProbes(node: string, probes: Pick<ProbeSample, "peer" | "loss" | "rtt_ms" | "rtt_avg_ms">[]): string[] {
    const changed: string[] = [];
    for (const probe of probes) {
      const colon = probe.peer.lastIndexOf(":");
      const host = colon > 0 ? probe.peer.slice(0, colon) : probe.peer;
      const found = this.#probeIndex.get(`${node}>${host}`);
      if (!found) continue;
      const costChanged = found.state.measurement.observe(found.end, probe.loss, probe.rtt_avg_ms ?? probe.rtt_ms, this.costParams);
      found.state.touch(costChanged);
      if (costChanged) changed.push(found.state.link.id);
    }
    return changed;
  }

  /** The graph with effective costs (held, down and avoided links at Infinity). */
  graph(): MeshGraph {
    return this.#graph((state) => state.cost());
  }

  /** The graph with every announced link at cost 1: what the lab installs at start. */
  hopCountGraph(): MeshGraph {
    return this.#graph(() => 1);
  }

  #graph(costOf: (state: LinkState) => number): MeshGraph {
    const serviceAddress: Record<string, string> = {};
    for (const [node, announcement] of this.#announcements) if (announcement.service_address) serviceAddress[node] = announcement.service_address;
    const links: Link[] = [];
    for (const id of this.#linkIds) {
      const state = this.#states.get(id) as LinkState;
      links.push({ ...state.link, cost: costOf(state) });
    }
    return { nodes: this.nodes, links, serviceAddress };
  }

  /** Marks links down for an incident; returns the links that went down now and those that became held (flapping). */
  markDown(incidentId: string, ids: string[], now: number): { down: string[]; held: string[] } {
    const down: string[] = [];
    const held: string[] = [];
    for (const state of this.#existing(ids)) {
      const wasDown = state.hasDown();
      // What the link measured before the fault is what it returns to: hellos lost while it was down say nothing of its quality.
      if (state.marks.size === 0) state.beforeDown = state.measurement.snapshot();
      state.marks.set(incidentId, { incident_id: incidentId, effect: "down" });
      state.lastIncidentId = incidentId;
      state.stableSince = undefined;
      state.touch(true);
      if (wasDown) continue;
      state.downs = [...state.downs.filter((at) => at > now - this.flap.windowMs), now];
      down.push(state.link.id);
      if (state.heldSince === undefined && state.downs.length >= this.flap.downs) {
        state.heldSince = now;
        held.push(state.link.id);
      }
    }
    return { down, held };
  }

  /** Takes links out of routing for an incident without counting a flap (a degraded link routed around). */
  markAvoid(incidentId: string, ids: string[]): void {
    for (const state of this.#existing(ids)) {
      if (state.marks.size === 0) state.beforeDown = state.measurement.snapshot();
      // A merged-in down mark of this incident stays: the link is still dead as far as anyone knows.
      if (state.marks.get(incidentId)?.effect === "down") continue;
      state.marks.set(incidentId, { incident_id: incidentId, effect: "avoid" });
      state.lastIncidentId = incidentId;
      state.touch(true);
    }
  }

  /** Raises links' cost for an incident: the cost from measured loss, at least `factor` times the measured routing cost. */
  markDegraded(incidentId: string, ids: string[], factor: number): void {
    for (const state of this.#existing(ids)) {
      if (state.marks.size === 0) state.beforeDown = state.measurement.snapshot();
      const current = state.marks.get(incidentId)?.effect;
      if (current === "down" || current === "avoid") continue;
      const measured = state.measurement.smoothedCost(this.costParams);
      const cost = Math.max(measured, factor * state.measurement.routingCost);
      state.marks.set(incidentId, { incident_id: incidentId, effect: "degraded", cost });
      state.lastIncidentId = incidentId;
      state.touch(true);
    }
  }

  /** Removes an incident's marks; returns the links it had marked. A held link stays out of routing and starts its stable timer. */
  clear(incidentId: string, now: number): string[] {
    const cleared: string[] = [];
    for (const [state, mark] of this.#takeMarks(incidentId)) {
      if (mark.effect === "down" && !state.hasDown()) state.stableSince = now;
      // The last incident on the link ended: it measures as before the fault (the loss seen during it was the fault's).
      if (state.marks.size === 0 && state.beforeDown) {
        state.measurement.resume(state.beforeDown, now, OUTAGE_GRACE_MS);
        state.beforeDown = undefined;
      }
      state.touch(true);
      cleared.push(state.link.id);
    }
    return cleared;
  }

  /** Moves an incident's marks to the incident it was merged into; returns the links concerned. */
  transferMarks(from: string, to: string): string[] {
    const moved: string[] = [];
    for (const [state, mark] of this.#takeMarks(from)) {
      // The stronger effect wins when the target incident marks the link too: down over avoid over degraded.
      const existing = state.marks.get(to);
      const rank = { down: 2, avoid: 1, degraded: 0 } as const;
      if (!existing || rank[mark.effect] > rank[existing.effect]) state.marks.set(to, { ...mark, incident_id: to });
      state.lastIncidentId = to;
      state.touch(true);
      moved.push(state.link.id);
    }
    return moved;
  }

  /** Ids of links an incident marks. */
  marked(incidentId: string): string[] {
    return [...this.#states.values()].filter((state) => state.marks.has(incidentId)).map((state) => state.link.id);
  }

  /** Returns held links to routing once they have been up for `stableMs`; returns their ids and the incident that last took each down. */
  releaseStable(now: number): { id: string; incidentId: string | undefined }[] {
    const released: { id: string; incidentId: string | undefined }[] = [];
    for (const state of this.#states.values()) {
      if (state.heldSince === undefined || state.hasDown()) continue;
      // A hold restored without a stable time (e.g. written while down) starts its timer now.
      state.stableSince ??= now;
      if (now - state.stableSince < this.flap.stableMs) continue;
      state.heldSince = undefined;
      state.downs = [];
      state.touch(true);
      released.push({ id: state.link.id, incidentId: state.lastIncidentId });
    }
    return released;
  }

  /** The routing state of a link. */
  stateOf(id: string): LinkStateName | undefined {
    return this.#states.get(id)?.state();
  }

  /** How many links are held down for flapping. */
  heldCount(): number {
    let count = 0;
    for (const state of this.#states.values()) if (state.heldSince !== undefined) count += 1;
    return count;
  }

  /** The record of a link as written to `link.<a>.<b>`. */
  record(id: string, now: number): LinkRecord | undefined {
    const state = this.#states.get(id);
    if (!state) return undefined;
    const { link, measurement } = state;
    const cost = state.cost();
    const rounded = (value: number | undefined) => (value === undefined ? null : Math.round(value * 1e4) / 1e4);
    return {
      v: 1,
      id: link.id,
      a: link.a,
      b: link.b,
      state: state.state(),
      cost: Number.isFinite(cost) ? cost : null,
      routing_cost: measurement.routingCost,
      loss: { a_to_b: rounded(measurement.lossAb), b_to_a: rounded(measurement.lossBa) },
      rtt_ms: rounded(measurement.rttMs),
      marks: [...state.marks.values()],
      downs: state.downs.filter((at) => at > now - this.flap.windowMs),
      held_since: state.heldSince ?? null,
      stable_since: state.stableSince ?? null,
      last_incident_id: state.lastIncidentId ?? null,
      updated_at: now,
    };
  }

  /** Records due for writing: state changes at once, measurement changes at most every `everyMs` per link. */
  takeDue(now: number, everyMs: number): LinkRecord[] {
    const due: LinkRecord[] = [];
    for (const state of this.#states.values()) {
      if (!state.dirty || (!state.urgent && now - state.lastWrittenAt < everyMs)) continue;
      state.dirty = false;
      state.urgent = false;
      state.lastWrittenAt = now;
      const record = this.record(state.link.id, now);
      if (record) due.push(record);
    }
    return due;
  }

  /** Takes an incident's mark off every link it marks, yielding each link with the mark taken. */
  *#takeMarks(incidentId: string): Iterable<[LinkState, LinkMark]> {
    for (const state of this.#states.values()) {
      const mark = state.marks.get(incidentId);
      if (!mark) continue;
      state.marks.delete(incidentId);
      yield [state, mark];
    }
  }

  *#existing(ids: string[]): Iterable<LinkState> {
    for (const id of ids) {
      const state = this.#states.get(id);
      if (state) yield state;
    }
  }
}
