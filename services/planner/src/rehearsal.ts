// The plan path rehearsed at start on a synthetic mesh, nothing published, so the first real incident meets compiled
// code (README: "Rehearsal at start").
import { type Anomaly, createLogger, type Plan } from "@x0/shared";
import { Registry } from "prom-client";
import { MemoryStore } from "./kv.ts";
import { createMetrics } from "./metrics.ts";
import { OutcomeStore } from "./outcomes/store.ts";
import { Planner } from "./planner.ts";
import type { Policy } from "./policy/policy.ts";
import { gridAnnouncements, withBatman } from "./topology/synthetic.ts";

/** What a rehearsal runs the synthetic plans through: the service's own signing and its bus's contract checks. */
export interface RehearsalOptions {
  policy: Policy;
  /** Signs a plan as a real one is signed. */
  sign(plan: Plan): Plan;
  /** Validates a plan as publishing and consuming it would (throws on a violation). */
  checkPlan(plan: Plan): void;
  /** Validates an incident state as consuming it would, and returns it as a handler gets it. */
  checkAnomaly(anomaly: Anomaly): Anomaly;
}

/** What one rehearsal did. */
export interface Rehearsal {
  /** Repair plans made, one per mesh kind (batman-adv and static routes). */
  plans: number;
  /** The plans' rules, in order (`link_down/batman-deactivate`, …). */
  rules: string[];
  durationMs: number;
}

/** A link_down incident about link a|b of the synthetic mesh, as the analyzer opens one. */
function syntheticLinkDown(a: string, b: string, now: number): Anomaly {
  return {
    v: 1,
    incident_id: crypto.randomUUID(),
    state: "opened",
    update: 0,
    kind: "link_down",
    severity: "critical",
    node: a,
    interface: `${a}-${b}`,
    metric: "phi",
    observed: 16,
    baseline_mean: 100,
    baseline_stddev: 10,
    score: 16,
    opened_at: now,
    ts: now,
    target: { type: "link", id: `link:${a}|${b}`, nodes: [a, b] },
  };
}

/** Plans a link repair on a synthetic 2×3 grid, once over batman-adv and once with static routes; every plan is thrown away. */
export async function rehearsePlanning({ policy, sign, checkPlan, checkAnomaly }: RehearsalOptions): Promise<Rehearsal> {
  const started = performance.now();
  const rules: string[] = [];
  for (const batman of [true, false]) {
    const made: Plan[] = [];
    const planner = new Planner({
      policy,
      topologyStore: new MemoryStore(),
      outcomes: new OutcomeStore(new MemoryStore()),
      publish: async (plan) => {
        made.push(plan);
      },
      logger: createLogger({ service: "planner-rehearsal", node: "rehearsal", level: "error" }),
      metrics: createMetrics(new Registry()),
    });
    const grid = gridAnnouncements(2, 3);
    for (const announcement of batman ? withBatman(grid) : grid) planner.announce(announcement);
    await planner.handleAnomaly(checkAnomaly(syntheticLinkDown("n2", "n3", Date.now())));
    for (const plan of made) {
      checkPlan(sign(plan));
      rules.push(plan.rule);
    }
  }
  return { plans: rules.length, rules, durationMs: performance.now() - started };
}
