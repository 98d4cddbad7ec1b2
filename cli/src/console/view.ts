// What the console server sends the page: the views of nodes, links and incidents, and of its own connection. Types only,
// so the page's bundle and its type check take nothing else from the server side.
import type { ActionResult, Anomaly, Plan, TopologyAnalysis } from "@x0/shared";
import type { IncidentSummary } from "../incidents/summarize.ts";

/** How a link is drawn: its health, and whether an open incident has it cut or degraded. */
export type LinkStatus = "healthy" | "degraded" | "cut" | "held";

/** One node as the console shows it. */
export interface NodeView {
  id: string;
  address: string | null;
  batman: boolean;
  ebpf: boolean;
  /** Open incidents whose target is this node. */
  incidents: string[];
  single_point_of_failure: boolean;
  articulation_point: boolean;
}

/** One direction of a link as its sending node's monitor measures it. */
export interface DirectionView {
  loss: number | null;
  rtt_ms: number | null;
  tq: number | null;
  operstate: string | null;
}

/** One link as the console shows it. */
export interface LinkView {
  id: string;
  a: string;
  b: string;
  status: LinkStatus;
  /** The planner's state of the link (up, degraded, down, held), when it has written one. */
  planner_state: string | null;
  cost: number | null;
  a_to_b: DirectionView;
  b_to_a: DirectionView;
  incident: { id: string; kind: string } | null;
  /** planned: a plan in flight moves traffic onto it; repaired: a verified repair of an open incident did. */
  moved: "planned" | "repaired" | null;
  bridge: boolean;
}

/** A row of the incident timeline. */
export interface IncidentRow extends IncidentSummary {
  /** The latest plan's rule and the latest result's status. */
  plan: string | null;
  result: string | null;
}

/** A record or message the console could not read: shown as such, never dropped silently. */
export interface MalformedView {
  source: string;
  reason: string;
  at: number;
}

/** Everything a new page needs. */
export interface ConsoleSnapshot {
  nodes: NodeView[];
  links: LinkView[];
  incidents: IncidentRow[];
  analysis: TopologyAnalysis | null;
  malformed: MalformedView[];
}

/** What changed since the last {@link ConsoleModel.takeChanges}. */
export interface ConsoleChanges {
  /** Present when nodes or links were added or removed: the whole graph. */
  topology?: { nodes: NodeView[]; links: LinkView[] };
  links?: LinkView[];
  nodes?: NodeView[];
  incidents?: IncidentRow[];
  analysis?: TopologyAnalysis | null;
  malformed?: MalformedView[];
}

/** An incident's whole story, for the detail view. */
export interface IncidentDetail {
  summary: IncidentRow;
  anomalies: (Anomaly & { trace_id: string | null })[];
  plans: (Plan & { trace_id: string | null })[];
  results: (ActionResult & { trace_id: string | null })[];
}

/** What the console shows about its NATS connection. */
export interface ConnectionView {
  connected: boolean;
  server: string | null;
  /** Completed resynchronisations (1 after start; one more per reconnect). */
  syncs: number;
  last_sync_at: number | null;
  /** Events read from X0_EVENTS at the last resynchronisation. */
  history_events: number;
  /** The server's answer when the console tried to publish: its identity is read-only only if this is a refusal. */
  write_check: string | null;
}

/** The outcome of checking a plan's signature, as the detail view shows it. */
export interface SignatureCheck {
  plan_id: string;
  ok: boolean;
  key_id: string | null;
  alg: string | null;
  detail: string;
}

/** What the page needs to know about this console. */
export interface ConsoleMeta {
  identity: string;
  lab: boolean;
  jaeger_url: string | null;
}
