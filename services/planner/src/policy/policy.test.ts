import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Plan } from "@x0/shared";
import { anomalyFixture } from "@x0/shared/testing";
import { type AlternativeSpec, alternativesFor, alternativesForMesh, batmanHopPenalty, decideFallback, loadPolicy, PolicyError } from "./policy.ts";

const shippedPolicy = join(import.meta.dir, "..", "..", "policy.yaml");
const anomaly = anomalyFixture({ incident_id: "7f1c3a52-5a8e-4c3e-9a57-0d3c2b1e4f60", interface: "eth0", opened_at: 1, ts: 1 });

function writePolicy(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), "x0-policy-")), "policy.yaml");
  writeFileSync(path, text);
  return path;
}

describe("policy", () => {
  test("policy - the shipped policy is valid, with the documented defaults", () => {
    const policy = loadPolicy(shippedPolicy);
    // The batman alternatives follow the route ones; only those fitting an element's mesh compete (alternativesForMesh).
    expect(alternativesFor(policy, "link_degraded").map((alternative) => alternative.name)).toEqual([
      "raise-cost",
      "reroute-around",
      "batman-hop-penalty",
      "batman-deactivate",
    ]);
    expect(alternativesFor(policy, "traffic_spike")).toEqual([{ name: "quarantine", approval: "auto" }]);
    expect(policy.cooldown_ms).toBe(5000);
    expect(policy.flapping).toEqual({ downs: 3, window_ms: 60_000, stable_ms: 30_000 });
    expect(policy.budget.plans_per_minute).toBe(30);
    expect(policy.verify).toEqual({ max_checks: 4, deadline_ms: 2000 });
    expect(policy.batman).toEqual({
      mesh_hop_penalty: 30,
      normal_hop_penalty: 0,
      verify_within_ms: 2000,
      converge_within_ms: 8000,
      repair_orig_interval_ms: 100,
      orig_interval_ms: 1000,
      repair_mesh_hop_penalty: 10,
      ogm_aggregation: true,
      repair_ogm_aggregation: false,
    });
    expect(batmanHopPenalty(policy)).toBe(80);
  });

  test("policy - alternatives are filtered by mesh: batman-* on batman-adv, route ones elsewhere, notify on both", () => {
    const specs = ["raise-cost", "batman-hop-penalty", "notify", "batman-deactivate", "reroute-around"].map(
      (name) => ({ name, approval: "auto" }) as AlternativeSpec,
    );
    expect(alternativesForMesh(specs, "batman").map((spec) => spec.name)).toEqual(["batman-hop-penalty", "notify", "batman-deactivate"]);
    expect(alternativesForMesh(specs, "static").map((spec) => spec.name)).toEqual(["raise-cost", "notify", "reroute-around"]);
  });

  test("policy - a batman hop penalty is computed from degraded_factor unless given, and must exceed the normal one", () => {
    const base = "version: 2\nkinds: {}\n";
    expect(batmanHopPenalty(loadPolicy(writePolicy(`${base}link_cost: { degraded_factor: 2 }\n`)))).toBe(30);
    expect(batmanHopPenalty(loadPolicy(writePolicy(`${base}batman: { hop_penalty: 255 }\n`)))).toBe(255);
    expect(() => loadPolicy(writePolicy(`${base}batman: { hop_penalty: 40, normal_hop_penalty: 60 }\n`))).toThrow(/batman\.hop_penalty/);
    expect(() => loadPolicy(writePolicy(`${base}batman: { hop_penalty: 40, typo: 1 }\n`))).toThrow(/typo/);
  });

  test("policy - omitted sections take their defaults", () => {
    const policy = loadPolicy(writePolicy("version: 2\nkinds:\n  link_down:\n    alternatives: [{ name: reroute-around }]\n"));
    expect(policy.kinds.link_down?.alternatives).toEqual([{ name: "reroute-around", approval: "auto" }]);
    expect(policy.link_cost.degraded_factor).toBe(4);
    expect(policy.flapping.downs).toBe(3);
    expect(policy.fallback).toEqual([]);
  });

  test("policy - every opened kind gets a fallback plan, filled from the anomaly", () => {
    const policy = loadPolicy(shippedPolicy);
    for (const kind of ["link_down", "link_degraded", "node_unreachable", "traffic_spike", "retransmit_storm"] as const) {
      expect(Plan.safeParse(decideFallback(policy.fallback, { ...anomaly, kind })).success).toBe(true);
    }
    const plan = decideFallback(policy.fallback, anomaly, { now: 42, planId: "11111111-1111-4111-8111-111111111111" });
    expect(plan).toMatchObject({
      rule: "no-topology-notify",
      approval: "auto",
      created_at: 42,
      anomaly_update: 0,
      actions: [{ type: "notify", params: { incident_id: anomaly.incident_id, message: "link_down on n1/eth0 (operstate): no topology to plan on" } }],
    });
    expect(decideFallback(policy.fallback, { ...anomaly, state: "updated", update: 1 })).toBeUndefined();
    expect(decideFallback(policy.fallback, { ...anomaly, state: "resolved", update: 1 })?.rule).toBe("notify-resolved");
  });

  test("policy - an alternative that does not fit its kind is refused with its path", () => {
    const path = writePolicy("version: 2\nkinds:\n  link_down:\n    alternatives: [{ name: quarantine }]\n");
    expect(() => loadPolicy(path)).toThrow(PolicyError);
    expect(() => loadPolicy(path)).toThrow(/quarantine does not apply to link_down/);
    expect(() => loadPolicy(path)).toThrow(/kinds\.link_down\.alternatives\[0\]\.name/);
  });

  test("policy - unknown keys, old versions, duplicate alternatives and duplicate fallback names are refused", () => {
    expect(() => loadPolicy(writePolicy("version: 2\nkinds: {}\ncooldown: 5\n"))).toThrow(/cooldown/);
    expect(() => loadPolicy(writePolicy("version: 1\nrules: []\n"))).toThrow(PolicyError);
    expect(() => loadPolicy(writePolicy("version: 2\nkinds:\n  link_down:\n    alternatives: [{ name: notify }, { name: notify }]\n"))).toThrow(
      /duplicate alternative notify/,
    );
    const rule = "  - name: same\n    match: { kinds: [link_down] }\n    approval: auto\n    actions: [{ type: notify, params: {}, reason: r }]\n";
    expect(() => loadPolicy(writePolicy(`version: 2\nkinds: {}\nfallback:\n${rule}${rule}`))).toThrow(/duplicate rule name same/);
  });
});
