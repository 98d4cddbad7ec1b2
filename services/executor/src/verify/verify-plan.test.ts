import { describe, expect, test } from "bun:test";
import { bytesOf, planSigning } from "./testing.ts";
import { checkPlan } from "./verify-plan.ts";

const { key, verifier: verifierOf, sign } = planSigning();
const plan = { v: 1, plan_id: "p", actions: [] };

describe("verify-plan", () => {
  test("verify-plan - accepts a plan signed by an allowed signer's key", async () => {
    const verifier = verifierOf(() => key("planner"));
    expect((await checkPlan(verifier, { data: bytesOf(sign(plan)), redelivered: false }, ["planner"])).ok).toBe(true);
  });

  test("verify-plan - a valid signature from a service that may not plan is unauthorized_signer", async () => {
    const verifier = verifierOf(() => key("analyzer"));
    expect(await checkPlan(verifier, { data: bytesOf(sign(plan, "analyzer")), redelivered: false }, ["planner"])).toMatchObject({
      ok: false,
      reason: "unauthorized_signer",
    });
  });

  test("verify-plan - verifies the payload as received, so a field unknown to this schema is still covered", async () => {
    const verifier = verifierOf(() => key("planner"));
    const signed = sign({ ...plan, added_later: 1 });
    expect(await checkPlan(verifier, { data: bytesOf({ ...signed, added_later: 2 }), redelivered: false }, ["planner"])).toMatchObject({
      reason: "bad_signature",
    });
  });
});
