// Incidents rebuilt from the X0_EVENTS stream: each incident's states, plans and results, with its time to detect and to repair.
import type { ActionResult, Anomaly, Plan } from "@x0/shared";

/** One incident as `x0 incidents` shows it. */
export interface IncidentSummary {
  incident_id: string;
  kind: string;
  /** The target id (`link:n1|n2`, `node:n5`, …), or node/interface for older analyzers. */
  target: string;
  node: string;
  state: "open" | "resolved";
  resolution: string | null;
  opened_at: number;
  onset_at: number;
  detected_at: number;
  resolved_at: number | null;
  /** Time to detect: onset → the incident's opening was decided. */
  mttd_ms: number;
  /** Time to repair: onset → the first plan result whose effect was observed (verified); null when none was. */
  mttr_ms: number | null;
  plans: number;
  results: Record<string, number>;
  updates: number;
}

/** The messages of one incident, as read from the stream. */
interface Collected {
  anomalies: Anomaly[];
  plans: Plan[];
  results: ActionResult[];
}

/** Groups stream messages by incident and summarises each, newest first. */
export function summarizeIncidents(messages: { anomalies: Anomaly[]; plans: Plan[]; results: ActionResult[] }): IncidentSummary[] {
  const byIncident = new Map<string, Collected>();
  const entry = (id: string) => {
    let collected = byIncident.get(id);
    if (!collected) {
      collected = { anomalies: [], plans: [], results: [] };
      byIncident.set(id, collected);
    }
    return collected;
  };
  for (const anomaly of messages.anomalies) entry(anomaly.incident_id).anomalies.push(anomaly);
  for (const plan of messages.plans) entry(plan.incident_id).plans.push(plan);
  for (const result of messages.results) entry(result.incident_id).results.push(result);

  const summaries: IncidentSummary[] = [];
  for (const [incidentId, { anomalies, plans, results }] of byIncident) {
    anomalies.sort((a, b) => a.update - b.update);
    const opened = anomalies.find((a) => a.state === "opened");
    // Plans or results whose opening state is older than the stream's retention cannot be timed: skipped.
    if (!opened) continue;
    const resolved = anomalies.find((a) => a.state === "resolved");
    const latest = anomalies.at(-1) ?? opened;
    const onset = opened.onset_at ?? opened.opened_at;
    const detected = opened.detected_at ?? opened.ts;
    const verified = results
      .filter((r) => r.status === "verified" || r.status === "success")
      .map((r) => r.verified_at ?? r.finished_at)
      .sort((a, b) => a - b)[0];
    const resultCounts: Record<string, number> = {};
    for (const result of results) resultCounts[result.status] = (resultCounts[result.status] ?? 0) + 1;
    summaries.push({
      incident_id: incidentId,
      kind: latest.kind,
      target: latest.target?.id ?? `interface:${latest.node}/${latest.interface}`,
      node: latest.node,
      state: resolved ? "resolved" : "open",
      resolution: resolved?.resolution ?? null,
      opened_at: opened.opened_at,
      onset_at: onset,
      detected_at: detected,
      resolved_at: resolved?.ts ?? null,
      mttd_ms: Math.max(0, detected - onset),
      mttr_ms: verified === undefined ? null : Math.max(0, verified - onset),
      plans: plans.length,
      results: resultCounts,
      updates: anomalies.length,
    });
  }
  return summaries.sort((a, b) => b.opened_at - a.opened_at);
}

function duration(ms: number | null): string {
  if (ms === null) return "-";
  return ms < 10_000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** A table of incidents for people. */
export function renderIncidents(incidents: IncidentSummary[]): string {
  if (incidents.length === 0) return "no incidents in the window";
  const rows = incidents.map((i) => [
    new Date(i.opened_at).toISOString().slice(11, 23),
    i.kind,
    i.target,
    i.state + (i.resolution && i.resolution !== "cleared" ? ` (${i.resolution})` : ""),
    duration(i.mttd_ms),
    duration(i.mttr_ms),
    String(i.plans),
    Object.entries(i.results)
      .map(([status, count]) => `${status}:${count}`)
      .join(" ") || "-",
  ]);
  const header = ["opened (UTC)", "kind", "target", "state", "MTTD", "MTTR", "plans", "results"];
  const widths = header.map((h, col) => Math.max(h.length, ...rows.map((r) => (r[col] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, col) => cell.padEnd(widths[col] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}
