// Incidents of the lab's fault kinds as the loop publishes them to X0_EVENTS (opened state, plan, result, resolved
// state), with the same fields and timings shape: for tests and benchmarks of what reads the event history.
import type { ActionResult, ActionType, Anomaly, AnomalyKind, Evidence, IncidentTarget, Plan, ResultStatus } from "../contracts/schemas.ts";

/** One incident to generate: its kind, element, chosen alternative and how its repair ended. */
export interface LabIncident {
  /** Filled in with a fresh UUID when absent (and written back, so the test can find it). */
  id?: string;
  kind: AnomalyKind;
  /** The link's two ends (for link kinds) … */
  link?: [string, string];
  /** … or the node (for node_unreachable and traffic_spike). */
  node?: string;
  alternative: string;
  outcome: Extract<ResultStatus, "verified" | "applied" | "rolled_back" | "failed">;
  /** Probe loss for link_degraded (0..1). */
  loss?: number;
  /** Fault onset, epoch ms; detected 40 ms later, planned at 60, repaired at 190, resolved at 5,000. */
  at: number;
  /** false: the incident stays open (no resolved state). */
  resolve?: boolean;
}

const ACTIONS: Record<string, ActionType[]> = {
  "reroute-around": ["route_replace", "route_replace"],
  "raise-cost": ["route_replace"],
  "batman-deactivate": ["batman_interface", "batman_interface"],
  "batman-hop-penalty": ["batman_hop_penalty", "batman_hop_penalty"],
  quarantine: ["quarantine_neighbour"],
  notify: ["notify"],
};

/** The target and evidence of an incident, as the analyzer reports them. */
function targetOf(incident: LabIncident): { target: IncidentTarget; node: string; metric: string; observed: number; evidence: Evidence[] } {
  const ts = incident.at + 40;
  if (incident.link) {
    const [a, b] = [...incident.link].sort() as [string, string];
    const loss = incident.kind === "link_degraded" ? (incident.loss ?? 0.3) : 1;
    const metric = incident.kind === "link_degraded" ? "probe_loss" : "probe_silence_ms";
    const observed = incident.kind === "link_degraded" ? loss : 140;
    return {
      target: { type: "link", id: `link:${a}|${b}`, nodes: [a, b] },
      node: a,
      metric,
      observed,
      evidence: [
        { node: a, peer: b, metric, observed, threshold: incident.kind === "link_degraded" ? 0.05 : 100, ts },
        { node: b, peer: a, metric: "probe_loss", observed: loss, ts },
      ],
    };
  }
  const node = incident.node ?? "n1";
  if (incident.kind === "traffic_spike") {
    return {
      target: { type: "neighbour", id: `neighbour:${node}/eth1/02:00:00:00:00:09`, nodes: [node], neighbour: { mac: "02:00:00:00:00:09", ipv4: "10.0.0.9" } },
      node,
      metric: "rx_packets_per_s",
      observed: 90_000,
      evidence: [{ node, metric: "rx_packets_per_s", observed: 90_000, threshold: 5000, ts }],
    };
  }
  return {
    target: { type: "node", id: `node:${node}`, nodes: [node] },
    node,
    metric: "probe_silence_ms",
    observed: 160,
    evidence: [{ node: "n1", peer: node, metric: "probe_silence_ms", observed: 160, threshold: 100, ts }],
  };
}

/** The events of one incident in publish order, with their subjects. */
export function incidentEvents(incident: LabIncident): { subject: string; message: Anomaly | Plan | ActionResult }[] {
  incident.id ??= crypto.randomUUID();
  const { target, node, metric, observed, evidence } = targetOf(incident);
  const at = incident.at;
  const opened: Anomaly = {
    v: 1,
    incident_id: incident.id,
    state: "opened",
    update: 0,
    kind: incident.kind,
    severity: incident.kind === "link_degraded" ? "warning" : "critical",
    node,
    interface: "eth1",
    metric,
    observed,
    baseline_mean: 0,
    baseline_stddev: 0,
    score: incident.kind === "traffic_spike" ? 25 : 12,
    opened_at: at + 40,
    ts: at + 40,
    target,
    onset_at: at,
    detected_at: at + 40,
    evidence,
  };
  const planId = crypto.randomUUID();
  const plan: Plan = {
    v: 1,
    plan_id: planId,
    incident_id: incident.id,
    node,
    kind: incident.kind,
    rule: `${incident.kind}/${incident.alternative}`,
    approval: "auto",
    actions: (ACTIONS[incident.alternative] ?? ["notify"]).map((type) => ({ type, params: {}, reason: `${incident.kind} on ${target.id}` })),
    created_at: at + 60,
    target,
    alternatives: [{ name: incident.alternative, chosen: true, score: 0.5, attempts: 0, success_rate: null, median_ttr_ms: null }],
  };
  const repaired = incident.outcome === "verified" || incident.outcome === "applied";
  const result: ActionResult = {
    v: 1,
    result_id: crypto.randomUUID(),
    plan_id: planId,
    incident_id: incident.id,
    node,
    status: incident.outcome,
    dry_run: false,
    steps: [],
    started_at: at + 70,
    finished_at: at + 200,
    applied_at: at + 120,
    ...(incident.outcome === "verified" ? { verified_at: at + 190 } : {}),
    ...(repaired ? {} : { detail: "the detour did not answer within the deadline" }),
  };
  const events: { subject: string; message: Anomaly | Plan | ActionResult }[] = [
    { subject: `x0.anomaly.${node}`, message: opened },
    { subject: `x0.plan.${node}`, message: plan },
    { subject: `x0.action.${node}`, message: result },
  ];
  if (incident.resolve !== false) {
    events.push({
      subject: `x0.anomaly.${node}`,
      message: { ...opened, state: "resolved", update: 1, observed: 0, ts: at + 5000, detected_at: at + 5000, resolution: "cleared", evidence: [] },
    });
  }
  return events;
}
