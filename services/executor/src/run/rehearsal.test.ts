import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { ActionResult, batadvMesh, createLogger, createNativeBackend, NetlinkSockets, Plan, rtnetlinkMasters, signMessage } from "@x0/shared";
import { RehearsalFailed } from "../errors.ts";
import { rehearseAtStart, rehearsePlanHandling, rehearseRealReads } from "./rehearsal.ts";

const backend = createNativeBackend();
const resultKeys = backend.sigKeypair();
const signResult = (result: ActionResult) =>
  signMessage(backend, "action", result, { keyId: "executor-test", alg: "ML-DSA-65", mldsaSecret: resultKeys.secretKey });
const encoder = new TextEncoder();
/** The bus's checks as the contracts state them: the schema both ways. */
const checkPlan = (plan: Plan) => {
  const text = JSON.stringify(Plan.parse(plan));
  return { data: encoder.encode(text), message: Plan.parse(JSON.parse(text)) };
};

describe("rehearsal", () => {
  test("rehearsal - a synthetic batman-adv plan runs the whole path on an in-memory mesh and ends verified, its result signed and valid", async () => {
    const plans: Plan[] = [];
    const results: ActionResult[] = [];
    const rehearsal = await rehearsePlanHandling({
      backend,
      signResult,
      checkPlan: (plan) => {
        plans.push(plan);
        return checkPlan(plan);
      },
      checkResult: (result) => {
        results.push(ActionResult.parse(result));
      },
    });
    expect(rehearsal.status).toBe("verified");
    expect(rehearsal.steps).toBe(11);
    expect(plans[0]?.signature?.key_id).toMatch(/^rehearsal-/);
    const [result] = results;
    expect(result?.signature?.key_id).toBe("executor-test");
    // Every step was applied by the real batman actuators and verified: both ends left, the far originator re-routed.
    expect(result?.steps.map((step) => step.status)).toEqual(Array.from({ length: 11 }, () => "verified"));
    expect(result?.steps[0]?.detail).toContain("r1: r1-r2 removed from bat0");
    expect(result?.steps[2]?.detail).toContain("orig_interval of bat0 1000 ms → 100 ms");
    expect(result?.steps[5]?.detail).toContain("hop_penalty of bat0 30 → 10");
    expect(result?.steps[8]?.detail).toContain("aggregation of bat0 enabled → disabled");
    expect(result?.verification?.every((entry) => entry.ok)).toBe(true);
    expect(result?.verification?.map((entry) => entry.detail).join(" ")).toContain("best route to 02:ba:00:00:99:02 via r1-r3");
  });

  test("rehearsal - a node executor's rehearsal runs the synthetic plan as three node executors coordinating it, verified", async () => {
    const results: ActionResult[] = [];
    const rehearsal = await rehearsePlanHandling({
      backend,
      signResult,
      checkPlan,
      checkResult: (result) => {
        results.push(ActionResult.parse(result));
      },
      scope: "node",
    });
    expect(rehearsal.status).toBe("verified");
    expect(rehearsal.steps).toBe(11);
    const [result] = results;
    expect(result?.node).toBe("r1");
    expect(result?.participants?.map((participant) => participant.node)).toEqual(["r1", "r2", "r3"]);
    expect(result?.steps[0]?.detail).toContain("r1: r1-r2 removed from bat0");
    expect(result?.steps[1]?.detail).toContain("r2: r2-r1 removed from bat0");
  });

  test("rehearsal - a broken part fails the rehearsal with RehearsalFailed naming it", async () => {
    const rejecting = rehearsePlanHandling({
      backend,
      signResult,
      // A plan altered after signing: the signature check must refuse it.
      checkPlan: (plan) => checkPlan({ ...plan, node: "r2" }),
      checkResult: () => {},
    });
    await expect(rejecting).rejects.toBeInstanceOf(RehearsalFailed);
    await expect(rejecting).rejects.toThrow(/signature did not verify: bad_signature/);
    const invalid = rehearsePlanHandling({
      backend,
      signResult,
      checkPlan,
      checkResult: () => {
        throw new Error("result schema says no");
      },
    });
    await expect(invalid).rejects.toThrow(/plan path failed on the synthetic plan: result schema says no/);
  });

  test("rehearsal - the real reads change nothing and say what they saw: the outcomes key, this namespace's links, the batadv family", async () => {
    const sockets = new NetlinkSockets();
    try {
      const masters = rtnetlinkMasters(sockets);
      const keys: string[] = [];
      const reads = await rehearseRealReads({
        outcomes: {
          get: async (key) => {
            keys.push(key);
            return null;
          },
        },
        masters,
        mesh: batadvMesh(sockets, masters),
      });
      expect(keys).toEqual(["rehearsal.never-written"]);
      expect(reads.outcomes).toBe("read (absent)");
      // This namespace has at least lo.
      expect(reads.links).toMatch(/^[1-9]\d* links in this namespace$/);
      // Without the module the family lookup fails; with it, this namespace has no bat0.
      expect(reads.batadv).toMatch(existsSync("/sys/module/batman_adv") ? /bat0/ : /no batadv generic netlink family/);
      // Without netlink control (batctl), only the bucket is read.
      expect(await rehearseRealReads({ outcomes: { get: async () => null } })).toEqual({ outcomes: "read (absent)" });
    } finally {
      sockets.close();
    }
  });

  test("rehearsal - at start its outcome is what /status shows: the plan's status with the reads, or why it failed, never thrown", async () => {
    const logged: string[] = [];
    const logger = createLogger({ service: "executor-test", node: "n1", write: (line) => logged.push(JSON.parse(line).msg) });
    const outcomes = { get: async () => null };
    const rehearsed = await rehearseAtStart({ backend, signResult, checkPlan, checkResult: () => {}, outcomes }, logger);
    expect(rehearsed).toMatchObject({ status: "verified", steps: 11, reads: { outcomes: "read (absent)" } });
    const failing = { get: async () => Promise.reject(new Error("bucket gone")) };
    expect(await rehearseAtStart({ backend, signResult, checkPlan, checkResult: () => {}, outcomes: failing }, logger)).toMatchObject({
      status: "verified",
      reads: { failed: "bucket gone" },
    });
    const broken = await rehearseAtStart(
      { backend, signResult, checkPlan: (plan) => checkPlan({ ...plan, node: "r2" }), checkResult: () => {}, outcomes },
      logger,
    );
    expect(broken).toEqual({ failed: expect.stringMatching(/signature did not verify/) });
    expect(logged).toEqual([
      "plan path rehearsed",
      "the rehearsal's reads through the real paths failed",
      "plan path rehearsed",
      "plan path rehearsal failed; the first real plan will take the cold path",
    ]);
  });
});
