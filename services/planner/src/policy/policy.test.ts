import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Plan } from "@x0/shared";
import { anomalyFixture } from "@x0/shared/testing";
import { decide, loadPolicy, PolicyError } from "./policy.ts";

const shippedPolicy = join(import.meta.dir, "..", "..", "policy.yaml");

const anomaly = anomalyFixture({ incident_id: "7f1c3a52-5a8e-4c3e-9a57-0d3c2b1e4f60", interface: "eth0", opened_at: 1, ts: 1 });

function writePolicy(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), "x0-policy-")), "policy.yaml");
  writeFileSync(path, text);
  return path;
}

describe("policy", () => {
  test("policy - the shipped policy is valid and plans every kind when opened", () => {
    const policy = loadPolicy(shippedPolicy);
    for (const kind of ["link_down", "link_degraded", "node_unreachable", "traffic_spike"] as const) {
      const plan = decide(policy, { ...anomaly, kind });
      expect(plan).toBeDefined();
      expect(Plan.safeParse(plan).success).toBe(true);
    }
  });

  test("policy - placeholders are filled from the anomaly", () => {
    const plan = decide(loadPolicy(shippedPolicy), anomaly, { now: 42, planId: "11111111-1111-4111-8111-111111111111" });
    expect(plan).toEqual({
      v: 1,
      plan_id: "11111111-1111-4111-8111-111111111111",
      incident_id: anomaly.incident_id,
      node: "n1",
      kind: "link_down",
      rule: "link-down-reroute",
      approval: "auto",
      actions: [{ type: "reroute", params: { node: "n1", avoid_interface: "eth0" }, reason: "link_down on n1/eth0: move routes off the failed element" }],
      created_at: 42,
    });
  });

  test("policy - traffic spikes wait for manual approval", () => {
    expect(decide(loadPolicy(shippedPolicy), { ...anomaly, kind: "traffic_spike" })?.approval).toBe("manual");
  });

  test("policy - updated states match no shipped rule, so they make no plan", () => {
    expect(decide(loadPolicy(shippedPolicy), { ...anomaly, state: "updated", update: 1 })).toBeUndefined();
  });

  test("policy - the first matching rule wins and severities filter", () => {
    const path = writePolicy(`
version: 1
rules:
  - name: only-warning
    match: { kinds: [link_down], severities: [warning] }
    approval: manual
    actions: [{ type: notify, params: {}, reason: w }]
  - name: any
    match: { kinds: [link_down] }
    approval: auto
    actions: [{ type: notify, params: {}, reason: a }]
`);
    expect(decide(loadPolicy(path), anomaly)?.rule).toBe("any");
    expect(decide(loadPolicy(path), { ...anomaly, severity: "warning" })?.rule).toBe("only-warning");
  });

  test("policy - an unknown action type is refused with its path", () => {
    const path = writePolicy(
      "version: 1\nrules:\n  - name: x\n    match: { kinds: [link_down] }\n    approval: auto\n    actions: [{ type: reboot_everything, params: {}, reason: r }]\n",
    );
    expect(() => loadPolicy(path)).toThrow(PolicyError);
    expect(() => loadPolicy(path)).toThrow(/rules\[0\]\.actions\[0\]\.type/);
  });

  test("policy - duplicate rule names are refused", () => {
    const rule = "  - name: same\n    match: { kinds: [link_down] }\n    approval: auto\n    actions: [{ type: notify, params: {}, reason: r }]\n";
    expect(() => loadPolicy(writePolicy(`version: 1\nrules:\n${rule}${rule}`))).toThrow(/duplicate rule name same/);
  });
});
