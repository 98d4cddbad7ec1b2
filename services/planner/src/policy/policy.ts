// The policy file (zod): alternatives per kind, guards, link cost, batman-adv settings and fallback rules.
import { readFileSync } from "node:fs";
import { type Anomaly, AnomalyKind, AnomalyState, type Plan, PlannedAction, Severity, VoteRules, X0Error } from "@x0/shared";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { degradedHopPenalty } from "../batman/plan.ts";
import { planHome } from "../routing/plan.ts";

/** What the planner can do about an incident. The batman-* ones act on batman-adv meshes, the others on static routes. */
export const Alternative = z.enum(["reroute-around", "raise-cost", "batman-deactivate", "batman-hop-penalty", "quarantine", "notify"]);
/** An alternative's name. */
export type Alternative = z.infer<typeof Alternative>;

/** Which alternatives make sense for which kind: routing changes for link and node faults, quarantine for a neighbour's spike. */
export const ALTERNATIVES_BY_KIND: Record<AnomalyKind, readonly Alternative[]> = {
  link_down: ["reroute-around", "batman-deactivate", "notify"],
  node_unreachable: ["reroute-around", "batman-deactivate", "notify"],
  link_degraded: ["raise-cost", "reroute-around", "batman-hop-penalty", "batman-deactivate", "notify"],
  traffic_spike: ["quarantine", "notify"],
  retransmit_storm: ["notify"],
};

/** Alternatives that act on a batman-adv mesh (hard interfaces); the others (but notify) change static routes. */
export const BATMAN_ALTERNATIVES: ReadonlySet<Alternative> = new Set(["batman-deactivate", "batman-hop-penalty"]);

/** One alternative a kind allows, and whether its plans run at once or wait for an operator. */
// vote: the plan runs only if a governance proposal passes (the policy's `governance` rules; X0_GOV_MEMBERS must be set).
export const AlternativeSpec = z.strictObject({ name: Alternative, approval: z.enum(["auto", "manual", "vote"]).default("auto") });
/** An allowed alternative. */
export type AlternativeSpec = z.infer<typeof AlternativeSpec>;

/** A fallback rule: a fixed plan for matching incident states, used when the planner has no topology to route on. */
export const PolicyRule = z.object({
  name: z.string().min(1).max(128),
  match: z.object({
    kinds: z.array(AnomalyKind).min(1),
    states: z.array(AnomalyState).min(1).default(["opened"]),
    severities: z.array(Severity).min(1).optional(),
  }),
  approval: z.enum(["auto", "manual", "vote"]),
  actions: z.array(PlannedAction).min(1).max(64),
});
/** A fallback rule. */
export type PolicyRule = z.infer<typeof PolicyRule>;

const positiveMs = z.number().int().positive();

/** The planner's declarative policy file (see services/planner/README.md for each setting and its default). */
export const Policy = z
  .strictObject({
    version: z.literal(2),
    kinds: z.partialRecord(AnomalyKind, z.strictObject({ alternatives: z.array(AlternativeSpec).min(1).max(8) })),
    cooldown_ms: z.number().int().nonnegative().default(5000),
    flapping: z
      .strictObject({ downs: z.number().int().min(1).default(3), window_ms: positiveMs.default(60_000), stable_ms: positiveMs.default(30_000) })
      .prefault({}),
    budget: z.strictObject({ plans_per_minute: z.number().int().positive().default(30) }).prefault({}),
    retry: z.strictObject({ attempts: z.number().int().min(0).max(10).default(3), backoff_ms: positiveMs.max(600_000).default(1000) }).prefault({}),
    verify: z.strictObject({ max_checks: z.number().int().min(0).max(32).default(4), deadline_ms: positiveMs.max(600_000).default(2000) }).prefault({}),
    link_cost: z
      .strictObject({
        alpha: z.number().gt(0).max(1).default(0.3),
        rtt_scale_ms: z.number().positive().default(100),
        rtt_factor_max: z.number().min(1).default(2),
        quantum: z.number().positive().default(0.25),
        hysteresis: z.number().nonnegative().default(0.25),
        max_loss: z.number().min(0).lt(1).default(0.95),
        degraded_factor: z.number().min(1).default(4),
        sample_every_ms: z.number().int().nonnegative().default(200),
        write_every_ms: positiveMs.default(1000),
      })
      .prefault({}),
    batman: z
      .strictObject({
        hop_penalty: z.number().int().min(1).max(255).optional().describe("Hop penalty of a degraded link's hard interfaces; computed when absent."),
        mesh_hop_penalty: z.number().int().min(0).max(254).default(30),
        normal_hop_penalty: z.number().int().min(0).max(255).default(0),
        verify_within_ms: positiveMs.max(600_000).default(2000),
        converge_within_ms: positiveMs
          .max(600_000)
          .default(8000)
          .describe("How long probes across the mesh get after a batman plan: the other nodes learn the detour from OGMs."),
        repair_orig_interval_ms: z
          .number()
          .int()
          .refine((ms) => ms === 0 || (ms >= 40 && ms <= 60_000), "0 (off) or 40 to 60000 ms")
          .default(100)
          .describe("OGM interval of every mesh node while a hard interface is detached; 0 leaves it alone."),
        orig_interval_ms: z.number().int().min(40).max(60_000).default(1000).describe("The mesh's configured OGM interval, set back after a repair."),
        repair_mesh_hop_penalty: z
          .number()
          .int()
          .min(0)
          .max(254)
          .default(10)
          .describe("Hop penalty of every mesh node while a hard interface is detached; mesh_hop_penalty leaves it alone."),
        ogm_aggregation: z.boolean().default(true).describe("Whether the mesh aggregates OGMs as configured, set back after a repair."),
        repair_ogm_aggregation: z
          .boolean()
          .default(false)
          .describe("Whether every mesh node aggregates OGMs while a hard interface is detached; ogm_aggregation leaves it alone."),
      })
      .prefault({}),
    fallback: z.array(PolicyRule).default([]),
    governance: VoteRules.prefault({}).describe("How proposals are decided: plans whose approval is vote, member set and policy changes."),
  })
  .superRefine((policy, ctx) => {
    for (const [kind, entry] of Object.entries(policy.kinds)) {
      const seen = new Set<string>();
      for (const [index, alternative] of (entry?.alternatives ?? []).entries()) {
        const path = ["kinds", kind, "alternatives", index, "name"];
        if (!ALTERNATIVES_BY_KIND[kind as AnomalyKind].includes(alternative.name)) {
          ctx.addIssue({
            code: "custom",
            path,
            message: `${alternative.name} does not apply to ${kind} (allowed: ${ALTERNATIVES_BY_KIND[kind as AnomalyKind].join(", ")})`,
          });
        }
        if (seen.has(alternative.name)) ctx.addIssue({ code: "custom", path, message: `duplicate alternative ${alternative.name}` });
        seen.add(alternative.name);
      }
    }
    if (batmanHopPenalty(policy) <= policy.batman.normal_hop_penalty) {
      ctx.addIssue({
        code: "custom",
        path: ["batman", "hop_penalty"],
        message: `the hop penalty of a degraded link (${batmanHopPenalty(policy)}) must be above normal_hop_penalty (${policy.batman.normal_hop_penalty})`,
      });
    }
    const names = new Set<string>();
    for (const [index, rule] of policy.fallback.entries()) {
      if (names.has(rule.name)) ctx.addIssue({ code: "custom", path: ["fallback", index, "name"], message: `duplicate rule name ${rule.name}` });
      names.add(rule.name);
    }
  });
/** A policy. */
export type Policy = z.infer<typeof Policy>;

/** Whether any plan of `policy` waits for a governance vote. */
export function needsVotes(policy: Policy): boolean {
  return (
    Object.values(policy.kinds).some((entry) => entry?.alternatives.some((alternative) => alternative.approval === "vote")) ||
    policy.fallback.some((rule) => rule.approval === "vote")
  );
}

/** The policy file cannot be read or is invalid. */
export class PolicyError extends X0Error {}

/** Reads and validates a policy file (YAML or JSON). */
export function loadPolicy(path: string): Policy {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new PolicyError(`cannot read policy ${path}`, { cause: error });
  }
  return parsePolicy(text, path);
}

/** Parses and validates a policy's text (YAML or JSON); `origin` names it in errors. */
export function parsePolicy(text: string, origin = "text"): Policy {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new PolicyError(`cannot parse policy ${origin}: ${(error as Error).message}`, { cause: error });
  }
  const result = Policy.safeParse(raw);
  if (!result.success) throw new PolicyError(`invalid policy ${origin}: ${z.prettifyError(result.error)}`, { cause: result.error });
  return result.data;
}

/** The alternatives the policy allows for a kind, in order of preference (empty when the kind is not planned for). */
export function alternativesFor(policy: Policy, kind: AnomalyKind): AlternativeSpec[] {
  return policy.kinds[kind]?.alternatives ?? [];
}

/** The alternatives of `specs` that fit a mesh: batman-* ones on a batman-adv mesh, the route ones elsewhere; notify on both. */
export function alternativesForMesh(specs: AlternativeSpec[], mesh: "batman" | "static"): AlternativeSpec[] {
  return specs.filter((spec) => spec.name === "notify" || BATMAN_ALTERNATIVES.has(spec.name) === (mesh === "batman"));
}

/** The hop penalty a degraded batman link's hard interfaces get: the policy's, or the one that makes it weigh `degraded_factor` hops. */
export function batmanHopPenalty(policy: {
  batman: { hop_penalty?: number | undefined; mesh_hop_penalty: number };
  link_cost: { degraded_factor: number };
}): number {
  return policy.batman.hop_penalty ?? degradedHopPenalty(policy.link_cost.degraded_factor, policy.batman.mesh_hop_penalty);
}

/** The first fallback rule that matches `anomaly`, if any. */
export function matchRule(rules: PolicyRule[], anomaly: Anomaly): PolicyRule | undefined {
  return rules.find(
    ({ match }) =>
      match.kinds.includes(anomaly.kind) && match.states.includes(anomaly.state) && (!match.severities || match.severities.includes(anomaly.severity)),
  );
}

/** Fills {node}, {interface}, {metric}, {kind} and {incident_id} in a string. */
export function fill(template: string, anomaly: Anomaly): string {
  const values: Record<string, string> = {
    node: anomaly.node,
    interface: anomaly.interface,
    metric: anomaly.metric,
    kind: anomaly.kind,
    incident_id: anomaly.incident_id,
  };
  return template.replace(/\{(node|interface|metric|kind|incident_id)\}/g, (_, name: string) => values[name] ?? "");
}

/** The plan the fallback rules make for `anomaly`, or undefined when none matches. */
export function decideFallback(
  rules: PolicyRule[],
  anomaly: Anomaly,
  { now = Date.now(), planId = crypto.randomUUID() as string }: { now?: number; planId?: string } = {},
): Plan | undefined {
  const rule = matchRule(rules, anomaly);
  if (!rule) return undefined;
  const actions = rule.actions.map((action) => ({
    type: action.type,
    params: Object.fromEntries(Object.entries(action.params).map(([key, value]) => [key, typeof value === "string" ? fill(value, anomaly) : value])),
    reason: fill(action.reason, anomaly),
  }));
  return {
    v: 1,
    plan_id: planId,
    incident_id: anomaly.incident_id,
    node: planHome(anomaly.node, actions, anomaly),
    kind: anomaly.kind,
    rule: rule.name,
    approval: rule.approval,
    actions,
    created_at: now,
    ...(anomaly.target ? { target: anomaly.target } : {}),
    anomaly_update: anomaly.update,
    ...(anomaly.evidence ? { evidence: anomaly.evidence } : {}),
  };
}
