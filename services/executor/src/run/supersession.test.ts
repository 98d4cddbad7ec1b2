import { describe, expect, test } from "bun:test";
import { createNativeBackend, MessageVerifier, signMessage, type VerifyingKey } from "@x0/shared";
import { checkPlan } from "../verify/verify-plan.ts";
import { Supersessions } from "./supersession.ts";

const backend = createNativeBackend();
const pair = backend.sigKeypair();
const key = (service: string): VerifyingKey => ({
  keyId: `${service}-1`,
  service,
  alg: "ML-DSA-65",
  mldsaPublic: pair.publicKey,
  notBefore: Date.now() - 1000,
  notAfter: Date.now() + 60_000,
});
const data = (body: unknown) => new TextEncoder().encode(JSON.stringify(body));
const OLD = "11111111-1111-4111-8111-111111111111";
const NEW = "22222222-2222-4222-8222-222222222222";

describe("supersession", () => {
  test("supersession - a signed plan's supersedes is noted, and its nonce is left for its own admission", async () => {
    const verifier = new MessageVerifier({ backend, keys: { get: () => key("planner") } });
    const supersessions = new Supersessions(verifier, ["planner"]);
    const signed = signMessage(
      backend,
      "plan",
      { v: 1, plan_id: NEW, supersedes: [OLD] },
      { keyId: "planner-1", alg: "ML-DSA-65", mldsaSecret: pair.secretKey },
    );
    await supersessions.look(data(signed));
    expect(supersessions.supersededBy(OLD)).toBe(NEW);
    // The look ahead did not spend the nonce: the plan is admitted normally afterwards.
    expect((await checkPlan(verifier, { data: data(signed), redelivered: false }, ["planner"])).ok).toBe(true);
  });

  test("supersession - unsigned, tampered or wrongly signed plans supersede nothing", async () => {
    const verifier = new MessageVerifier({ backend, keys: { get: (id: string) => (id === "planner-1" ? key("planner") : key("analyzer")) } });
    const supersessions = new Supersessions(verifier, ["planner"]);
    const body = { v: 1, plan_id: NEW, supersedes: [OLD] };
    await supersessions.look(data(body));
    const signed = signMessage(backend, "plan", body, { keyId: "planner-1", alg: "ML-DSA-65", mldsaSecret: pair.secretKey });
    await supersessions.look(data({ ...signed, supersedes: ["33333333-3333-4333-8333-333333333333"] }));
    const byAnalyzer = signMessage(backend, "plan", body, { keyId: "analyzer-1", alg: "ML-DSA-65", mldsaSecret: pair.secretKey });
    await supersessions.look(data(byAnalyzer));
    await supersessions.look(new TextEncoder().encode("{not json"));
    expect(supersessions.supersededBy(OLD)).toBeUndefined();
    expect(supersessions.supersededBy("33333333-3333-4333-8333-333333333333")).toBeUndefined();
  });
});
