import { describe, expect, test } from "bun:test";
import { bytesOf, planSigning } from "../verify/testing.ts";
import { checkPlan } from "../verify/verify-plan.ts";
import { Supersessions, watchSupersession } from "./supersession.ts";

const { key, verifier: verifierOf, sign } = planSigning();
const OLD = "11111111-1111-4111-8111-111111111111";
const NEW = "22222222-2222-4222-8222-222222222222";

describe("supersession", () => {
  test("supersession - a signed plan's supersedes is noted, and its nonce is left for its own admission", async () => {
    const verifier = verifierOf(() => key("planner"));
    const supersessions = new Supersessions(verifier, ["planner"]);
    const signed = sign({ v: 1, plan_id: NEW, supersedes: [OLD] });
    await supersessions.look(bytesOf(signed));
    expect(supersessions.supersededBy(OLD)).toBe(NEW);
    // The look ahead did not spend the nonce: the plan is admitted normally afterwards.
    expect((await checkPlan(verifier, { data: bytesOf(signed), redelivered: false }, ["planner"])).ok).toBe(true);
  });

  test("supersession - unsigned, tampered or wrongly signed plans supersede nothing", async () => {
    const verifier = verifierOf((id) => (id === "planner-1" ? key("planner") : key("analyzer")));
    const supersessions = new Supersessions(verifier, ["planner"]);
    const body = { v: 1, plan_id: NEW, supersedes: [OLD] };
    await supersessions.look(bytesOf(body));
    const signed = sign(body);
    await supersessions.look(bytesOf({ ...signed, supersedes: ["33333333-3333-4333-8333-333333333333"] }));
    await supersessions.look(bytesOf(sign(body, "analyzer")));
    await supersessions.look(new TextEncoder().encode("{not json"));
    expect(supersessions.supersededBy(OLD)).toBeUndefined();
    expect(supersessions.supersededBy("33333333-3333-4333-8333-333333333333")).toBeUndefined();
  });

  test("supersession - a watch aborts its signal with the newer plan's id once one is seen, and stops looking when stopped", async () => {
    let by: string | undefined;
    const watch = watchSupersession("p1", (planId) => (planId === "p1" ? by : undefined));
    await Bun.sleep(30);
    expect(watch.signal.aborted).toBe(false);
    by = "p2";
    await Bun.sleep(50);
    expect(watch.signal.reason).toBe("p2");
    watch.stop();
  });
});
