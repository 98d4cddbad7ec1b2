// The console's picture of the mesh, built only from public messages and records: nodes, links with their health and
// incidents, the topology analysis, and each incident's story. Pure: the NATS side feeds it, the server reads it.
import {
  type ActionResult,
  type Anomaly,
  contracts,
  type Link,
  LinkRecord,
  linkId,
  linksFromAnnouncements,
  NodeAnnouncement,
  type Plan,
  Telemetry,
  TOPOLOGY_ANALYSIS_KEY,
  TopologyAnalysis,
} from "@x0/shared";
import type { z } from "zod";
import { summarizeIncidents } from "../incidents/summarize.ts";
import type { ConsoleChanges, ConsoleSnapshot, DirectionView, IncidentDetail, IncidentRow, LinkStatus, LinkView, MalformedView, NodeView } from "./view.ts";

export type * from "./view.ts";

interface Collected {
  anomalies: (Anomaly & { trace_id: string | null })[];
  plans: (Plan & { trace_id: string | null })[];
  results: (ActionResult & { trace_id: string | null })[];
  /** Order of the latest change, for eviction. */
  touched: number;
}

/** Options of {@link ConsoleModel}. */
export interface ConsoleModelOptions {
  /** Incidents kept, the most recently changed ones (older ones leave the timeline). */
  maxIncidents?: number;
  /** Malformed records and messages remembered. */
  maxMalformed?: number;
}

const decoder = new TextDecoder();

/** The trace id of a W3C traceparent header value, or null. */
export function traceIdOf(traceparent: string | undefined | null): string | null {
  const match = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(traceparent ?? "");
  return match?.[1] ?? null;
}

/** Pairs of nodes a plan's route steps send traffic across (`path` of route_replace steps). */
export function movedLinks(plan: Plan): string[] {
  const ids = new Set<string>();
  for (const action of plan.actions) {
    if (action.type !== "route_replace" || typeof action.params.path !== "string" || typeof action.params.node !== "string") continue;
    const hops = [action.params.node, ...action.params.path.split(",").filter((hop) => hop.length > 0)];
    for (let index = 1; index < hops.length; index++) ids.add(linkId(hops[index - 1] as string, hops[index] as string));
  }
  return [...ids];
}

function parseJson(data: Uint8Array): { ok: true; value: unknown } | { ok: false; reason: string } {
  try {
    return { ok: true, value: JSON.parse(decoder.decode(data)) };
  } catch (error) {
    return { ok: false, reason: `not JSON: ${(error as Error).message}` };
  }
}

const FINAL_STATUSES = new Set(["verified", "success", "failed", "rolled_back", "applied", "skipped", "dry_run"]);

/** The console's state. */
export class ConsoleModel {
  readonly #maxIncidents: number;
  readonly #maxMalformed: number;
  readonly #announcements = new Map<string, NodeAnnouncement>();
  readonly #records = new Map<string, LinkRecord>();
  readonly #telemetry = new Map<string, Telemetry>();
  readonly #incidents = new Map<string, Collected>();
  /** Plans as they were signed (every field, none added), for their signature checks. */
  readonly #signedPlans = new Map<string, unknown>();
  #analysis: TopologyAnalysis | null = null;
  #malformed: MalformedView[] = [];
  #links: Link[] = [];
  #touch = 0;
  // What changed since the last takeChanges.
  #topologyChanged = false;
  #changedLinks = new Set<string>();
  #changedNodes = new Set<string>();
  #changedIncidents = new Set<string>();
  #analysisChanged = false;
  #malformedChanged = false;
  #linkViews = new Map<string, string>();

  constructor({ maxIncidents = 500, maxMalformed = 50 }: ConsoleModelOptions = {}) {
    this.#maxIncidents = maxIncidents;
    this.#maxMalformed = maxMalformed;
  }

  /** Forgets the knowledge records (before a resynchronisation reads them again); incidents and telemetry stay. */
  clearRecords(): void {
    this.#announcements.clear();
    this.#records.clear();
    this.#analysis = null;
    this.#relink();
    this.#analysisChanged = true;
  }

  /** A key of x0_topology was written (`value`) or deleted (undefined). */
  applyTopologyKey(key: string, value: Uint8Array | undefined, now = Date.now()): void {
    const source = `x0_topology ${key}`;
    if (key.startsWith("node.")) {
      const node = key.slice("node.".length);
      if (value === undefined) this.#announcements.delete(node);
      else {
        const parsed = this.#parse(source, value, NodeAnnouncement, now);
        if (!parsed) return;
        this.#announcements.set(node, parsed);
      }
      this.#relink();
    } else if (key.startsWith("link.")) {
      const parsed = value === undefined ? undefined : this.#parse(source, value, LinkRecord, now);
      if (value !== undefined && !parsed) return;
      const [, a = "", b = ""] = key.split(".");
      const id = linkId(a, b);
      if (parsed) this.#records.set(id, parsed);
      else this.#records.delete(id);
      this.#changedLinks.add(id);
    } else if (key === TOPOLOGY_ANALYSIS_KEY) {
      const parsed = value === undefined ? undefined : this.#parse(source, value, TopologyAnalysis, now);
      if (value !== undefined && !parsed) return;
      this.#analysis = parsed ?? null;
      this.#analysisChanged = true;
      for (const link of this.#links) this.#changedLinks.add(link.id);
      for (const node of this.#announcements.keys()) this.#changedNodes.add(node);
    }
  }

  /** A telemetry message of one node arrived. */
  applyTelemetry(data: Uint8Array, now = Date.now()): void {
    const telemetry = this.#parse("x0.telemetry", data, Telemetry, now);
    if (!telemetry) return;
    this.#telemetry.set(telemetry.node, telemetry);
    for (const link of this.#links) if (link.a.node === telemetry.node || link.b.node === telemetry.node) this.#changedLinks.add(link.id);
  }

  /** An anomaly, plan or action result arrived (live or from X0_EVENTS); `traceparent` is its header. */
  applyEvent(subject: string, data: Uint8Array, traceparent?: string | null, now = Date.now()): void {
    const kind = subject.split(".")[1];
    const contract = kind === "anomaly" ? contracts.anomaly : kind === "plan" ? contracts.plan : kind === "action" ? contracts.action : undefined;
    if (!contract) return;
    const parsed = this.#parseWithRaw<Anomaly | Plan | ActionResult>(subject, data, contract.schema as z.ZodType<Anomaly | Plan | ActionResult>, now);
    if (!parsed) return;
    const message = parsed.data;
    const traced = { ...message, trace_id: traceIdOf(traceparent) };
    const collected = this.#collected(message.incident_id);
    if (kind === "anomaly") {
      const anomaly = traced as Anomaly & { trace_id: string | null };
      if (collected.anomalies.some((known) => known.update === anomaly.update && known.state === anomaly.state)) return;
      collected.anomalies.push(anomaly);
      collected.anomalies.sort((x, y) => x.update - y.update);
    } else if (kind === "plan") {
      const plan = traced as Plan & { trace_id: string | null };
      if (collected.plans.some((known) => known.plan_id === plan.plan_id)) return;
      collected.plans.push(plan);
      this.#signedPlans.set(plan.plan_id, parsed.raw);
    } else {
      const result = traced as ActionResult & { trace_id: string | null };
      if (collected.results.some((known) => known.result_id === result.result_id)) return;
      collected.results.push(result);
    }
    collected.touched = ++this.#touch;
    this.#changedIncidents.add(message.incident_id);
    this.#markIncidentLinks(collected);
    this.#evict();
  }

  /** Everything, for a page that just connected. */
  snapshot(): ConsoleSnapshot {
    return {
      nodes: this.#nodeViews(),
      links: this.#allLinkViews(),
      incidents: this.#incidentRows(),
      analysis: this.#analysis,
      malformed: [...this.#malformed],
    };
  }

  /** What changed since the last call (links whose view is unchanged are left out), or undefined when nothing did. */
  takeChanges(): ConsoleChanges | undefined {
    const changes: ConsoleChanges = {};
    if (this.#topologyChanged) {
      const links = this.#allLinkViews();
      changes.topology = { nodes: this.#nodeViews(), links };
      this.#linkViews = new Map(links.map((view) => [view.id, JSON.stringify(view)]));
    } else {
      const links: LinkView[] = [];
      const open = this.#openByTarget();
      const moved = this.#moved();
      for (const link of this.#links) {
        if (!this.#changedLinks.has(link.id)) continue;
        const view = this.#linkView(link, open, moved);
        const text = JSON.stringify(view);
        if (this.#linkViews.get(link.id) === text) continue;
        this.#linkViews.set(link.id, text);
        links.push(view);
      }
      if (links.length > 0) changes.links = links;
      if (this.#changedNodes.size > 0) changes.nodes = this.#nodeViews().filter((node) => this.#changedNodes.has(node.id));
    }
    if (this.#changedIncidents.size > 0) {
      const rows = [...this.#changedIncidents].flatMap((id) => this.#incidentRow(id) ?? []);
      if (rows.length > 0) changes.incidents = rows;
    }
    if (this.#analysisChanged) changes.analysis = this.#analysis;
    if (this.#malformedChanged) changes.malformed = [...this.#malformed];
    this.#topologyChanged = false;
    this.#analysisChanged = false;
    this.#malformedChanged = false;
    this.#changedLinks.clear();
    this.#changedNodes.clear();
    this.#changedIncidents.clear();
    return Object.keys(changes).length > 0 ? changes : undefined;
  }

  /** One incident's story, or undefined for an unknown id. */
  incident(id: string): IncidentDetail | undefined {
    const collected = this.#incidents.get(id);
    const summary = this.#incidentRow(id);
    if (!collected || !summary) return undefined;
    return { summary, anomalies: collected.anomalies, plans: collected.plans, results: collected.results };
  }

  /** The plan with this id exactly as it was published (its signature covers every field), or undefined. */
  signedPlan(planId: string): unknown {
    return this.#signedPlans.get(planId);
  }

  #parse<T>(source: string, data: Uint8Array, schema: z.ZodType<T>, now: number): T | undefined {
    return this.#parseWithRaw(source, data, schema, now)?.data;
  }

  /** The validated message and the JSON it was parsed from (a signature covers every field, unknown ones included). */
  #parseWithRaw<T>(source: string, data: Uint8Array, schema: z.ZodType<T>, now: number): { data: T; raw: unknown } | undefined {
    const json = parseJson(data);
    if (!json.ok) {
      this.#noteMalformed(source, json.reason, now);
      return undefined;
    }
    const parsed = schema.safeParse(json.value);
    if (parsed.success) return { data: parsed.data, raw: json.value };
    const issue = parsed.error.issues[0];
    this.#noteMalformed(source, `invalid: ${issue ? `${issue.path.join(".") || "(root)"}: ${issue.message}` : "schema"}`, now);
    return undefined;
  }

  #noteMalformed(source: string, reason: string, at: number): void {
    this.#malformed = [{ source, reason, at }, ...this.#malformed.filter((known) => known.source !== source)].slice(0, this.#maxMalformed);
    this.#malformedChanged = true;
  }

  #collected(incidentId: string): Collected {
    let collected = this.#incidents.get(incidentId);
    if (!collected) {
      collected = { anomalies: [], plans: [], results: [], touched: 0 };
      this.#incidents.set(incidentId, collected);
    }
    return collected;
  }

  #evict(): void {
    if (this.#incidents.size <= this.#maxIncidents) return;
    const oldest = [...this.#incidents.entries()].sort((x, y) => x[1].touched - y[1].touched).slice(0, this.#incidents.size - this.#maxIncidents);
    for (const [id, collected] of oldest) {
      this.#incidents.delete(id);
      for (const plan of collected.plans) this.#signedPlans.delete(plan.plan_id);
      this.#markIncidentLinks(collected);
    }
  }

  #markIncidentLinks(collected: Collected): void {
    const target = collected.anomalies.at(-1)?.target?.id;
    if (target?.startsWith("link:")) this.#changedLinks.add(target);
    if (target?.startsWith("node:")) this.#changedNodes.add(target.slice("node:".length));
    for (const plan of collected.plans) for (const id of movedLinks(plan)) this.#changedLinks.add(id);
  }

  #relink(): void {
    this.#links = linksFromAnnouncements([...this.#announcements.values()]);
    this.#topologyChanged = true;
  }

  /** Open incidents by target id, newest last. */
  #openByTarget(): Map<string, { id: string; kind: string }> {
    const open = new Map<string, { id: string; kind: string }>();
    const rows = [...this.#incidents.entries()].sort((x, y) => x[1].touched - y[1].touched);
    for (const [id, collected] of rows) {
      const latest = collected.anomalies.at(-1);
      if (!latest?.target || collected.anomalies.some((anomaly) => anomaly.state === "resolved")) continue;
      open.set(latest.target.id, { id, kind: latest.kind });
    }
    return open;
  }

  #moved(): Map<string, "planned" | "repaired"> {
    const moved = new Map<string, "planned" | "repaired">();
    for (const collected of this.#incidents.values()) {
      const resolved = collected.anomalies.some((anomaly) => anomaly.state === "resolved");
      for (const plan of collected.plans) {
        const results = collected.results.filter((result) => result.plan_id === plan.plan_id);
        const verified = results.some((result) => result.status === "verified" || result.status === "success");
        const final = results.some((result) => FINAL_STATUSES.has(result.status));
        const state = !final ? "planned" : verified && !resolved ? "repaired" : undefined;
        if (!state) continue;
        for (const id of movedLinks(plan)) if (moved.get(id) !== "planned") moved.set(id, state);
      }
    }
    return moved;
  }

  #nodeViews(): NodeView[] {
    const open = this.#openByTarget();
    const incidentsOf = (node: string) => [...open.entries()].filter(([target]) => target === `node:${node}`).map(([, incident]) => incident.id);
    return [...this.#announcements.values()]
      .sort((x, y) => (x.node < y.node ? -1 : x.node > y.node ? 1 : 0))
      .map((announcement) => ({
        id: announcement.node,
        address: announcement.service_address ?? null,
        batman: announcement.batman !== undefined,
        ebpf: announcement.ebpf,
        incidents: incidentsOf(announcement.node),
        single_point_of_failure: this.#analysis?.single_point_of_failure_nodes.includes(announcement.node) ?? false,
        articulation_point: this.#analysis?.articulation_points.includes(announcement.node) ?? false,
      }));
  }

  #direction(from: Link["a"], to: Link["b"]): DirectionView {
    const iface = this.#telemetry.get(from.node)?.interfaces.find((candidate) => candidate.name === from.interface);
    const neighbour = iface?.neighbours?.find((candidate) => candidate.ipv4 === to.address);
    return { loss: neighbour?.loss ?? null, rtt_ms: neighbour?.rtt_ms ?? null, tq: neighbour?.tq ?? null, operstate: iface?.operstate ?? null };
  }

  #allLinkViews(): LinkView[] {
    const open = this.#openByTarget();
    const moved = this.#moved();
    return this.#links.map((link) => this.#linkView(link, open, moved));
  }

  #linkView(link: Link, open: Map<string, { id: string; kind: string }>, moved: Map<string, "planned" | "repaired">): LinkView {
    const record = this.#records.get(link.id);
    const incident = open.get(link.id) ?? null;
    const aToB = this.#direction(link.a, link.b);
    const bToA = this.#direction(link.b, link.a);
    const interfaceDown = aToB.operstate === "down" || bToA.operstate === "down";
    let status: LinkStatus;
    if (incident) status = incident.kind === "link_down" || interfaceDown ? "cut" : "degraded";
    else if (interfaceDown || record?.state === "down") status = "cut";
    else if (record?.state === "held") status = "held";
    else if (record?.state === "degraded") status = "degraded";
    else status = "healthy";
    return {
      id: link.id,
      a: link.a.node,
      b: link.b.node,
      status,
      planner_state: record?.state ?? null,
      cost: record?.cost ?? null,
      a_to_b: aToB,
      b_to_a: bToA,
      incident,
      moved: moved.get(link.id) ?? null,
      bridge: this.#analysis?.bridges.includes(link.id) ?? false,
    };
  }

  #incidentRow(id: string): IncidentRow | undefined {
    const collected = this.#incidents.get(id);
    if (!collected) return undefined;
    const [summary] = summarizeIncidents(collected);
    if (!summary) return undefined;
    const latestPlan = [...collected.plans].sort((x, y) => x.created_at - y.created_at).at(-1);
    const latestResult = [...collected.results].sort((x, y) => x.finished_at - y.finished_at).at(-1);
    return { ...summary, plan: latestPlan?.rule ?? null, result: latestResult?.status ?? null };
  }

  #incidentRows(): IncidentRow[] {
    return [...this.#incidents.keys()].flatMap((id) => this.#incidentRow(id) ?? []).sort((x, y) => y.opened_at - x.opened_at);
  }
}
