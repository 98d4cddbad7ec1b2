import { describe, expect, test } from "bun:test";
import { ROOT_CONTEXT } from "@opentelemetry/api";
import { type ActionResult, type Contract, createLogger, type Delivery, type Plan } from "@x0/shared";
import { dryRun } from "../dryrun/dry-run.ts";
import { PlanInProgress } from "../errors.ts";
import { bytesOf, planSigning } from "../verify/testing.ts";
import type { Handled } from "./handle-plan.ts";
import { planIntake } from "./plan-intake.ts";
import { planOf } from "./testing.ts";

const { key, verifier: verifierOf, sign } = planSigning();
const logger = createLogger({ service: "executor-test", node: "n1", level: "error" });

/** An intake over a bus and counters that record what they get; `handle` answers the plan handler's part, `concerns` whether it has one. */
function intakeWith(handle: (plan: Plan) => Promise<Handled>, concerns?: (plan: Plan) => boolean) {
  const seen = { deadLetters: [] as string[], published: [] as { token: string; result: ActionResult; msgID: string }[], counts: [] as string[] };
  const intake = planIntake({
    bus: {
      deadLetter: (_subject, _template, _data, _headers, error) => seen.deadLetters.push(error),
      publishDurable: async (_contract: Contract, token: string, message: unknown, { msgID }: { msgID: string }) => {
        seen.published.push({ token, result: message as ActionResult, msgID });
        return { ack: {} as never, trace: ROOT_CONTEXT };
      },
    },
    verifier: verifierOf((id) => (id === "planner-1" ? key("planner") : key("analyzer"))),
    signers: ["planner"],
    handler: { handle: (plan) => handle(plan), ...(concerns ? { concerns } : {}) },
    counts: {
      rejected: (reason) => seen.counts.push(`rejected ${reason}`),
      published: (status) => seen.counts.push(`published ${status}`),
      tookOver: () => seen.counts.push("took over"),
    },
    logger,
  });
  return { intake, seen };
}

const deliveryOf = (signed: object): Delivery => ({
  subject: "x0.plan.n1",
  token: "n1",
  headers: undefined,
  data: bytesOf(signed),
  trace: ROOT_CONTEXT,
  redelivered: false,
  sequence: 1,
});

describe("plan intake", () => {
  test("plan intake - an admitted plan's result is published once under the plan's message id and counted, a takeover too", async () => {
    const plan = planOf([{ type: "notify", params: {}, reason: "tell" }]);
    const result = dryRun(plan);
    const { intake, seen } = intakeWith(async () => ({ kind: "result", result, republished: false, takeover: true }));
    const signed = sign(plan);
    await intake(signed, deliveryOf(signed));
    expect(seen.published).toEqual([{ token: "n1", result, msgID: `result:${plan.plan_id}` }]);
    expect(seen.counts).toEqual(["took over", "published dry_run"]);
    expect(seen.deadLetters).toEqual([]);
  });

  test("plan intake - a plan signed by a service that may not plan, or a replay, is dead-lettered and counted, never run or published", async () => {
    const plan = planOf([]);
    let handled = 0;
    const { intake, seen } = intakeWith(async () => {
      handled += 1;
      return { kind: "replayed", detail: `plan ${plan.plan_id} was already executed` };
    });
    const byAnalyzer = sign(plan, "analyzer");
    await intake(byAnalyzer, deliveryOf(byAnalyzer));
    expect(handled).toBe(0);
    const signed = sign(plan);
    await intake(signed, deliveryOf(signed));
    expect(handled).toBe(1);
    expect(seen.counts).toEqual(["rejected unauthorized_signer", "rejected replayed"]);
    expect(seen.deadLetters).toEqual([
      expect.stringMatching(/^plan rejected: unauthorized_signer: key analyzer-1 belongs to analyzer/),
      `plan rejected: replayed: plan ${plan.plan_id} was already executed`,
    ]);
    expect(seen.published).toEqual([]);
  });

  test("plan intake - a plan another instance holds is left for redelivery: the error goes back to the consumer", async () => {
    const { intake, seen } = intakeWith(async () => {
      throw new PlanInProgress("held by b");
    });
    const signed = sign(planOf([]));
    await expect(intake(signed, deliveryOf(signed))).rejects.toThrow(PlanInProgress);
    expect(seen).toEqual({ deadLetters: [], published: [], counts: [] });
  });

  test("plan intake - a plan this executor has no part in is acknowledged unhandled, before its signature is checked", async () => {
    let handled = 0;
    const { intake, seen } = intakeWith(
      async () => {
        handled += 1;
        return { kind: "none", detail: "" };
      },
      (plan) => plan.node === "n1",
    );
    // Signed by a service that may not plan: this executor leaves judging it to the executors with a part in it.
    const elsewhere = sign(planOf([], { node: "n2" }), "analyzer");
    await intake(elsewhere, deliveryOf(elsewhere));
    expect(handled).toBe(0);
    expect(seen).toEqual({ deadLetters: [], published: [], counts: [] });
    const mine = sign(planOf([]), "analyzer");
    await intake(mine, deliveryOf(mine));
    expect(seen.counts).toEqual(["rejected unauthorized_signer"]);
  });
});
