// A strategy run as the planner runs it, for the strategies' tests: proposals emitted and persisted, results settled.
import { type ActionResult, createLogger, type Plan } from "@x0/shared";
import { Registry } from "prom-client";
import { originOf, PlanEmitter, type Proposal } from "../emit/emit.ts";
import { MemoryStore } from "../kv.ts";
import { createMetrics } from "../metrics.ts";
import { OutcomeStore } from "../outcomes/store.ts";
import { incident, linkTarget, result } from "../testing.ts";
import type { HealingRequest, HealingStrategy } from "./strategy.ts";

/**
 * `publish` plans a request, emits the proposal (ranked, so recorded for its outcome) and persists it; its plan is
 * undefined when the proposal had no steps. `settle` hands the strategy a result of the plan.
 */
export function strategyRun<P extends Proposal>(strategy: HealingStrategy<P>, now: () => number) {
  const outcomes = new OutcomeStore(new MemoryStore());
  const emitter = new PlanEmitter({
    publish: async () => {},
    outcomes,
    logger: createLogger({ service: "planner-test", node: "test", level: "error" }),
    metrics: createMetrics(new Registry()),
    plansPerMinute: 1000,
    deadlineMs: 2000,
  });
  return {
    async publish(request: HealingRequest, approval: "auto" | "manual" = "auto"): Promise<{ proposal: P; plan: Plan | undefined }> {
      const proposal = strategy.plan(request, now());
      const about = incident("link_down", linkTarget("n1", "n2"), { incident_id: crypto.randomUUID() });
      const emitted = await emitter.emit(originOf(about, { rule: "test", approval, ranked: "test" }), proposal, undefined, now());
      if (emitted.outcome !== "published") return { proposal, plan: undefined };
      await strategy.persist(proposal, emitted.plan, now());
      return { proposal, plan: emitted.plan };
    },
    async settle(plan: Plan, status: ActionResult["status"]): Promise<void> {
      const outcome = result(plan, status, now());
      await strategy.settle(outcome, await outcomes.settle(outcome, now()), now());
    },
  };
}
