// Past outcomes per (kind, alternative) and the ranking they give: Laplace-smoothed success rate, median time to repair on ties.
import { type AnomalyKind, type OutcomeStats, type PlanAlternative, type ResultStatus, TTR_SAMPLES } from "@x0/shared";
import type { AlternativeSpec } from "../policy/policy.ts";

/** What a result status means for the stats: a success, a rollback, a failure, or nothing tried (undefined). */
export function outcomeOf(status: ResultStatus): "success" | "rolled_back" | "failed" | undefined {
  switch (status) {
    case "verified":
    case "applied":
    case "success":
      return "success";
    case "rolled_back":
      return "rolled_back";
    case "failed":
      return "failed";
    default:
      return undefined;
  }
}

/** Stats with one more final result; `status` must have an outcome. */
export function addOutcome(
  stats: OutcomeStats | undefined,
  { kind, alternative }: { kind: AnomalyKind; alternative: string },
  status: ResultStatus,
  ttrMs: number | undefined,
  now: number,
): OutcomeStats {
  const next: OutcomeStats = stats
    ? { ...stats, ttr_ms: [...stats.ttr_ms] }
    : { v: 1, kind, alternative, attempts: 0, verified: 0, applied: 0, rolled_back: 0, failed: 0, ttr_ms: [], updated_at: now };
  next.attempts += 1;
  if (status === "verified" || status === "success") next.verified += 1;
  else if (status === "applied") next.applied += 1;
  else if (status === "rolled_back") next.rolled_back += 1;
  else if (status === "failed") next.failed += 1;
  if (ttrMs !== undefined && outcomeOf(status) === "success") next.ttr_ms = [...next.ttr_ms, Math.max(0, ttrMs)].slice(-TTR_SAMPLES);
  next.updated_at = now;
  return next;
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((x, y) => x - y);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** The score of an alternative: (successes + 1) / (attempts + 2), so an untried one scores 0.5 and one failure does not bury it. */
export function scoreOf(stats: OutcomeStats | undefined): Omit<PlanAlternative, "name" | "chosen"> {
  if (!stats || stats.attempts === 0) return { score: 0.5, attempts: 0, success_rate: null, median_ttr_ms: null };
  const successes = stats.verified + stats.applied;
  return {
    score: (successes + 1) / (stats.attempts + 2),
    attempts: stats.attempts,
    success_rate: successes / stats.attempts,
    median_ttr_ms: median(stats.ttr_ms),
  };
}

/**
 * The score with what similar past incidents say: the per-kind score and the similar cases' Laplace-smoothed success rate,
 * averaged with the cases' total similarity as the second one's weight (a few very similar failures outweigh many
 * successes elsewhere; one weak match barely moves it).
 */
export function withSimilar(score: number, similar: PlanAlternative["similar"]): number {
  if (!similar) return score;
  const similarScore = (similar.success_rate * similar.weight + 1) / (similar.weight + 2);
  return (score + similar.weight * similarScore) / (1 + similar.weight);
}

/**
 * The allowed alternatives, best first: higher score (with the similar cases' signal when there is one), then shorter
 * median time to repair (unknown counts as slowest), then the policy's order. The first is chosen.
 */
export function rank(
  specs: AlternativeSpec[],
  statsOf: (alternative: string) => OutcomeStats | undefined,
  similarOf: (alternative: string) => PlanAlternative["similar"] = () => undefined,
): PlanAlternative[] {
  const scored = specs.map((spec, order) => {
    const base = scoreOf(statsOf(spec.name));
    const similar = similarOf(spec.name);
    const alternative: PlanAlternative = { name: spec.name, chosen: false, ...base, score: withSimilar(base.score, similar), ...(similar ? { similar } : {}) };
    return { order, alternative };
  });
  scored.sort(
    (x, y) =>
      y.alternative.score - x.alternative.score ||
      (x.alternative.median_ttr_ms ?? Number.POSITIVE_INFINITY) - (y.alternative.median_ttr_ms ?? Number.POSITIVE_INFINITY) ||
      x.order - y.order,
  );
  return scored.map(({ alternative }, index) => ({ ...alternative, chosen: index === 0 }));
}
