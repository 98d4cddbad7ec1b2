import { describe, expect, test } from "bun:test";
import { createNativeBackend, MessageVerifier, signMessage, type VerifyingKey } from "@x0/shared";
import { checkPlan } from "./verify-plan.ts";

const backend = createNativeBackend();
const pair = backend.sigKeypair();
const now = Date.now();
const key = (service: string): VerifyingKey => ({
  keyId: `${service}-1`,
  service,
  alg: "ML-DSA-65",
  mldsaPublic: pair.publicKey,
  notBefore: now - 1000,
  notAfter: now + 60_000,
});
const plan = { v: 1, plan_id: "p", actions: [] };
const data = (body: unknown) => new TextEncoder().encode(JSON.stringify(body));

describe("verify-plan", () => {
  test("verify-plan - accepts a plan signed by an allowed signer's key", async () => {
    const verifier = new MessageVerifier({ backend, keys: { get: () => key("planner") } });
    const signed = signMessage(backend, "plan", plan, { keyId: "planner-1", alg: "ML-DSA-65", mldsaSecret: pair.secretKey });
    expect((await checkPlan(verifier, { data: data(signed), redelivered: false }, ["planner"])).ok).toBe(true);
  });

  test("verify-plan - a valid signature from a service that may not plan is unauthorized_signer", async () => {
    const verifier = new MessageVerifier({ backend, keys: { get: () => key("analyzer") } });
    const signed = signMessage(backend, "plan", plan, { keyId: "analyzer-1", alg: "ML-DSA-65", mldsaSecret: pair.secretKey });
    expect(await checkPlan(verifier, { data: data(signed), redelivered: false }, ["planner"])).toMatchObject({ ok: false, reason: "unauthorized_signer" });
  });

  test("verify-plan - verifies the payload as received, so a field unknown to this schema is still covered", async () => {
    const verifier = new MessageVerifier({ backend, keys: { get: () => key("planner") } });
    const signed = signMessage(backend, "plan", { ...plan, added_later: 1 }, { keyId: "planner-1", alg: "ML-DSA-65", mldsaSecret: pair.secretKey });
    expect(await checkPlan(verifier, { data: data({ ...signed, added_later: 2 }), redelivered: false }, ["planner"])).toMatchObject({
      reason: "bad_signature",
    });
  });
});
