// The rag's signal: how each alternative fared on similar past incidents of the same kind, weighted by similarity.
import type { AnomalyKind, PlanAlternative, RagHit } from "@x0/shared";

/** A past case as the ranking reads it. */
export interface SimilarCase {
  incidentId: string;
  kind: AnomalyKind;
  /** Cosine similarity to the incident planned for. */
  score: number;
  alternative: string | null;
  outcome: "verified" | "applied" | "rolled_back" | "failed" | "none";
}

/** Cases less similar than this are not counted. */
export const MIN_SIMILARITY = 0.8;

/** The cases among search hits: the case hits, as the ranking reads them. */
export function similarCasesOf(hits: RagHit[]): SimilarCase[] {
  return hits.flatMap((hit) =>
    hit.type === "case"
      ? [{ incidentId: hit.case.incident_id, kind: hit.case.kind, score: hit.score, alternative: hit.case.alternative, outcome: hit.case.outcome }]
      : [],
  );
}

/** What the similar cases of `kind` say about one alternative; undefined when none of them tried it to the end. */
export function similarSignal(cases: SimilarCase[], kind: AnomalyKind, alternative: string): NonNullable<PlanAlternative["similar"]> | undefined {
  const counted = cases
    .filter((item) => item.kind === kind && item.alternative === alternative && item.outcome !== "none" && item.score >= MIN_SIMILARITY)
    .sort((x, y) => y.score - x.score);
  if (counted.length === 0) return undefined;
  const weight = counted.reduce((sum, item) => sum + item.score, 0);
  const repaired = counted.reduce((sum, item) => sum + (item.outcome === "verified" || item.outcome === "applied" ? item.score : 0), 0);
  return { weight: round(weight), success_rate: round(repaired / weight), incident_ids: counted.slice(0, 16).map((item) => item.incidentId) };
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
