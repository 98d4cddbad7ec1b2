import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Anomaly, createNativeBackend, MessageVerifier, Plan, signMessage } from "@x0/shared";
import { loadPolicy } from "./policy/policy.ts";
import { rehearsePlanning } from "./rehearsal.ts";

const policy = loadPolicy(join(import.meta.dir, "..", "policy.yaml"));

describe("rehearsal", () => {
  test("rehearsal - plans a batman-adv and a static link repair, each signed and validated as a real plan", async () => {
    const backend = createNativeBackend();
    const keys = backend.sigKeypair();
    const signingKey = { keyId: "planner-rehearsal", alg: "ML-DSA-65" as const, mldsaSecret: keys.secretKey };
    const verifier = new MessageVerifier({
      backend,
      keys: { get: (keyId) => ({ keyId, service: "planner", alg: "ML-DSA-65", mldsaPublic: keys.publicKey, notBefore: 0, notAfter: Date.now() + 60_000 }) },
    });
    const signed: Plan[] = [];
    const incidents: Anomaly[] = [];
    const rehearsal = await rehearsePlanning({
      policy,
      sign: (plan) => signMessage(backend, "plan", plan, signingKey),
      checkPlan: (plan) => {
        signed.push(Plan.parse(JSON.parse(JSON.stringify(plan))));
      },
      checkAnomaly: (anomaly) => {
        incidents.push(Anomaly.parse(anomaly));
        return anomaly;
      },
    });
    expect(incidents.map((incident) => incident.target?.id)).toEqual(["link:n2|n3", "link:n2|n3"]);
    expect(rehearsal.plans).toBe(2);
    expect(rehearsal.rules).toEqual(signed.map((plan) => plan.rule));
    expect(rehearsal.rules[0]).toBe("link_down/batman-deactivate");
    expect(signed[0]?.actions.map((action) => action.type)).toContain("batman_interface");
    expect(signed[1]?.actions.map((action) => action.type)).toContain("route_replace");
    for (const plan of signed) expect((await verifier.verify("plan", plan)).ok).toBe(true);
    expect(rehearsal.durationMs).toBeGreaterThan(0);
  });
});
