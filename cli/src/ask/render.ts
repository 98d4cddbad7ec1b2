// How `x0 ask` prints hits: one line each, the score, then the citation (incident with its times and outcome, or file#anchor).
import type { RagHit } from "@x0/shared";

/** One hit as a citation line. */
export function citationOf(hit: RagHit): string {
  const score = hit.score.toFixed(3);
  if (hit.type === "runbook") return `${score}  runbooks/${hit.runbook.file}#${hit.runbook.anchor}  ${hit.runbook.heading}`;
  const item = hit.case;
  const when = item.opened_at === undefined ? "?" : new Date(item.opened_at).toISOString().replace(/\.\d+Z$/, "Z");
  const target = item.target?.id ?? `node:${item.node ?? "?"}`;
  const outcome = item.outcome === "none" ? "no repair finished" : `${item.outcome} by ${item.alternative}`;
  const times = [
    item.mttd_ms === null ? undefined : `MTTD ${Math.round(item.mttd_ms)} ms`,
    item.mttr_ms === null ? undefined : `MTTR ${Math.round(item.mttr_ms)} ms`,
  ]
    .filter(Boolean)
    .join(", ");
  const flags = item.flags.length > 0 ? `  [flagged: ${item.flags.join("; ")}]` : "";
  return `${score}  incident ${item.incident_id}  ${when}  ${item.kind} on ${target}: ${outcome}${times ? ` (${times})` : ""}${flags}`;
}

/** The hits as text: cases first, then runbook sections, each best first. */
export function renderHits(hits: RagHit[]): string {
  const cases = hits.filter((hit) => hit.type === "case");
  const runbooks = hits.filter((hit) => hit.type === "runbook");
  const lines = ["Similar incidents:", ...(cases.length > 0 ? cases.map((hit) => `  ${citationOf(hit)}`) : ["  (none)"])];
  lines.push("Runbook sections:", ...(runbooks.length > 0 ? runbooks.map((hit) => `  ${citationOf(hit)}`) : ["  (none)"]));
  return lines.join("\n");
}
