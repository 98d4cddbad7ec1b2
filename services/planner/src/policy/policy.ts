import { readFileSync } from "node:fs";
import { type Anomaly, AnomalyKind, AnomalyState, type Plan, PlannedAction, Severity, X0Error } from "@x0/shared";
import { parse as parseYaml } from "yaml";
import { z } from "zod";

/** One policy rule: which incident states it matches and the plan it makes. */
export const PolicyRule = z.object({
  name: z.string().min(1).max(128),
  match: z.object({
    kinds: z.array(AnomalyKind).min(1),
    states: z.array(AnomalyState).min(1).default(["opened"]),
    severities: z.array(Severity).min(1).optional(),
  }),
  approval: z.enum(["auto", "manual"]),
  actions: z.array(PlannedAction).min(1).max(64),
});
/** A policy rule. */
export type PolicyRule = z.infer<typeof PolicyRule>;

/** The planner's declarative policy file. */
export const Policy = z.object({
  version: z.literal(1),
  rules: z.array(PolicyRule).superRefine((rules, ctx) => {
    const seen = new Set<string>();
    for (const [index, rule] of rules.entries()) {
      if (seen.has(rule.name)) ctx.addIssue({ code: "custom", path: [index, "name"], message: `duplicate rule name ${rule.name}` });
      seen.add(rule.name);
    }
  }),
});
/** A policy. */
export type Policy = z.infer<typeof Policy>;

/** The policy file cannot be read or is invalid. */
export class PolicyError extends X0Error {}

/** Reads and validates a policy file (YAML or JSON). */
export function loadPolicy(path: string): Policy {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, "utf8"));
  } catch (error) {
    throw new PolicyError(`cannot read policy ${path}`, { cause: error });
  }
  const result = Policy.safeParse(raw);
  if (!result.success) throw new PolicyError(`invalid policy ${path}: ${z.prettifyError(result.error)}`, { cause: result.error });
  return result.data;
}

/** The first rule that matches `anomaly`, if any. */
export function matchRule(policy: Policy, anomaly: Anomaly): PolicyRule | undefined {
  return policy.rules.find(
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

/** The plan `policy` makes for `anomaly`, or undefined when no rule matches. */
export function decide(policy: Policy, anomaly: Anomaly, { now = Date.now(), planId = crypto.randomUUID() } = {}): Plan | undefined {
  const rule = matchRule(policy, anomaly);
  if (!rule) return undefined;
  return {
    v: 1,
    plan_id: planId,
    incident_id: anomaly.incident_id,
    node: anomaly.node,
    kind: anomaly.kind,
    rule: rule.name,
    approval: rule.approval,
    actions: rule.actions.map((action) => ({
      type: action.type,
      params: Object.fromEntries(Object.entries(action.params).map(([key, value]) => [key, typeof value === "string" ? fill(value, anomaly) : value])),
      reason: fill(action.reason, anomaly),
    })),
    created_at: now,
  };
}
