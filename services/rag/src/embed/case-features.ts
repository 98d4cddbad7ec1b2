// The case embedding: a fixed, documented feature vector of a case's structure (README: "Case features").
// Deterministic and readable: two cases are near when they share kind, element, evidence figures and mesh position.
import { AnomalyKind, type CaseSituation, type EmbedderIdentity, IncidentTarget } from "@x0/shared";
import { signedHash } from "./hashing.ts";

const KINDS = AnomalyKind.options;
const TARGET_TYPES = IncidentTarget.shape.type.options;
const METRIC_FAMILIES = ["operstate", "probe", "rate", "other"] as const;

/** The blocks of the vector, in order: name, width and weight (a block's share of the similarity). */
export const CASE_BLOCKS = [
  { name: "kind", width: KINDS.length, weight: 1.5 },
  { name: "target_type", width: TARGET_TYPES.length, weight: 0.5 },
  { name: "metric_family", width: METRIC_FAMILIES.length, weight: 0.5 },
  { name: "figures", width: 4, weight: 0.6 },
  { name: "topology", width: 2, weight: 0.4 },
  { name: "element", width: 16, weight: 1 },
  { name: "nodes", width: 8, weight: 0.5 },
] as const;

/** Dimensions of a case vector. */
export const CASE_DIMENSIONS = CASE_BLOCKS.reduce((sum, block) => sum + block.width, 0);

/** The case embedder's identity (bump the version whenever a feature changes: the index is then rebuilt). */
export const caseEmbedder: EmbedderIdentity = {
  name: "x0-case-features",
  version: "1",
  dimensions: CASE_DIMENSIONS,
  method: "structural features: kind, target, metric family, evidence figures, degree, element and node hashes (no learned weights)",
};

/** The metric family of a series name. */
export function metricFamilyOf(metric: string | undefined): (typeof METRIC_FAMILIES)[number] {
  if (metric === undefined) return "other";
  if (metric === "operstate") return "operstate";
  if (metric.startsWith("probe")) return "probe";
  if (metric.endsWith("per_s")) return "rate";
  return "other";
}

/** The largest observed value among evidence entries whose metric contains `part`, if any. */
function evidenceFigure(situation: CaseSituation, part: string): number | undefined {
  const values = (situation.evidence ?? []).filter((entry) => entry.metric.includes(part)).map((entry) => entry.observed);
  return values.length === 0 ? undefined : Math.max(...values);
}

/**
 * The feature vector of a case's situation, unit length. The outcome is not in it: it is what the planner wants to learn
 * from similar cases, and a query (an open incident) has none yet, so it is kept beside the vector as data.
 */
export function embedCase(item: CaseSituation): Float32Array {
  const vector = new Float32Array(CASE_DIMENSIONS);
  let offset = 0;
  const block = (name: (typeof CASE_BLOCKS)[number]["name"], fill: (values: Float32Array) => void) => {
    const spec = CASE_BLOCKS.find((candidate) => candidate.name === name) as (typeof CASE_BLOCKS)[number];
    const values = new Float32Array(spec.width);
    fill(values);
    // Each block is scaled to length `weight` when it has anything, so its share of the similarity is fixed by design.
    const norm = Math.hypot(...values);
    if (norm > 0) for (let i = 0; i < spec.width; i++) vector[offset + i] = ((values[i] as number) / norm) * spec.weight;
    offset += spec.width;
  };
  block("kind", (v) => {
    v[KINDS.indexOf(item.kind)] = 1;
  });
  block("target_type", (v) => {
    if (item.target) v[TARGET_TYPES.indexOf(item.target.type)] = 1;
  });
  block("metric_family", (v) => {
    v[METRIC_FAMILIES.indexOf(metricFamilyOf(item.metric))] = 1;
  });
  block("figures", (v) => {
    // Saturating transforms keep every figure in [0, 1]: deviation score, probe loss, RTT, and time silent.
    v[0] = Math.tanh(Math.abs(item.score ?? 0) / 10);
    v[1] = Math.min(1, Math.max(0, evidenceFigure(item, "loss") ?? 0));
    v[2] = Math.tanh((evidenceFigure(item, "rtt") ?? 0) / 100);
    v[3] = Math.tanh((evidenceFigure(item, "silence") ?? 0) / 1000);
    if (v.every((x) => x === 0)) v[0] = 1e-3; // nothing measured: a tiny constant, so the block still counts as present
  });
  block("topology", (v) => {
    const degrees = item.degrees ?? [];
    if (degrees.length === 0) return;
    const least = Math.min(...degrees);
    v[0] = Math.min(1, least / 8);
    v[1] = least <= 1 ? 1 : 0; // a leaf: no detour exists
    if (v[0] === 0 && v[1] === 0) v[0] = 1e-3;
  });
  block("element", (v) => {
    if (item.target) signedHash(`element:${item.target.id}`, v);
  });
  block("nodes", (v) => {
    for (const node of item.target?.nodes ?? (item.node ? [item.node] : [])) signedHash(`node:${node}`, v);
  });
  const norm = Math.hypot(...vector);
  if (norm > 0) for (let i = 0; i < vector.length; i++) vector[i] = (vector[i] as number) / norm;
  return vector;
}
