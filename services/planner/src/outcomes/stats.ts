// Past outcomes per (kind, alternative) and the ranking they give: Laplace-smoothed success rate, median time to repair on ties.
import { AnomalyKind, EpochMillis, type PlanAlternative, type ResultStatus } from "@x0/shared";
import { z } from "zod";
import { BatmanSetting } from "../batman/settings.ts";
import type { AlternativeSpec } from "../policy/policy.ts";
import { RouteSchema } from "../routing/routes.ts";

/** How many recent time-to-repair samples a stats record keeps. */
export const TTR_SAMPLES = 32;

/** `stats.<kind>.<alternative>` in x0_outcomes. */
export const OutcomeStats = z.object({
  v: z.literal(1),
  kind: AnomalyKind,
  alternative: z.string().min(1).max(64),
  attempts: z.number().int().nonnegative().describe("Plans with a final result: verified, applied, rolled back or failed."),
  verified: z.number().int().nonnegative(),
  applied: z.number().int().nonnegative().describe("Applied with nothing to observe; counted as success."),
  rolled_back: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
  ttr_ms: z.array(z.number().nonnegative()).max(TTR_SAMPLES).describe("Recent times to repair: verified_at (or applied_at) minus the plan's created_at."),
  updated_at: EpochMillis,
});
/** Outcome stats of one alternative. */
export type OutcomeStats = z.infer<typeof OutcomeStats>;

/** `planned.<plan_id>` in x0_outcomes: what the planner needs when the plan's result arrives. */
export const PlanRecord = z.object({
  v: z.literal(1),
  plan_id: z.uuid(),
  incident_id: z.uuid(),
  kind: AnomalyKind,
  alternative: z.string().min(1).max(64),
  approval: z.enum(["auto", "manual"]),
  created_at: EpochMillis,
  changes: z
    .array(z.object({ next: RouteSchema, previous: RouteSchema.nullable() }))
    .max(256)
    .describe("Route changes, to confirm or revert the installed routes."),
  batman: z
    .array(z.object({ next: BatmanSetting, previous: BatmanSetting.nullable() }))
    .max(256)
    .optional()
    .describe("Hard-interface changes of a batman plan, to confirm or revert batman.current."),
});
/** A plan record. */
export type PlanRecord = z.infer<typeof PlanRecord>;

/** The x0_outcomes key of an alternative's stats. */
export function statsKey(kind: string, alternative: string): string {
  return `stats.${kind}.${alternative}`;
}

/** The x0_outcomes key of a plan's record. */
export function planKey(planId: string): string {
  return `planned.${planId}`;
}

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
 * The allowed alternatives, best first: higher score, then shorter median time to repair (unknown counts as slowest),
 * then the policy's order. The first is chosen.
 */
export function rank(specs: AlternativeSpec[], statsOf: (alternative: string) => OutcomeStats | undefined): PlanAlternative[] {
  const scored = specs.map((spec, order) => ({ order, alternative: { name: spec.name, chosen: false, ...scoreOf(statsOf(spec.name)) } }));
  scored.sort(
    (x, y) =>
      y.alternative.score - x.alternative.score ||
      (x.alternative.median_ttr_ms ?? Number.POSITIVE_INFINITY) - (y.alternative.median_ttr_ms ?? Number.POSITIVE_INFINITY) ||
      x.order - y.order,
  );
  return scored.map(({ alternative }, index) => ({ ...alternative, chosen: index === 0 }));
}
