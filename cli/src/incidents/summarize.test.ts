import { describe, expect, test } from "bun:test";
import type { ActionResult, Anomaly, Plan } from "@x0/shared";
import { renderIncidents, summarizeIncidents } from "./summarize.ts";

const incident = "00000000-0000-4000-8000-000000000001";
const base: Anomaly = {
  v: 1,
  incident_id: incident,
  state: "opened",
  update: 0,
  kind: "link_down",
  severity: "critical",
  node: "n2",
  interface: "n2-n1",
  metric: "phi",
  observed: 9,
  baseline_mean: 0,
  baseline_stddev: 0,
  score: 9,
  opened_at: 1_000_180,
  ts: 1_000_150,
  onset_at: 1_000_000,
  detected_at: 1_000_180,
  target: { type: "link", id: "link:n1|n2", nodes: ["n1", "n2"] },
};
const plan = { v: 1, plan_id: "00000000-0000-4000-8000-000000000002", incident_id: incident, node: "n2", created_at: 1_000_190 } as Plan;
const result = {
  v: 1,
  result_id: "00000000-0000-4000-8000-000000000003",
  plan_id: plan.plan_id,
  incident_id: incident,
  node: "n2",
  status: "verified",
  dry_run: false,
  steps: [],
  started_at: 1_000_200,
  finished_at: 1_000_400,
  verified_at: 1_000_390,
} as ActionResult;

describe("incidents", () => {
  test("incidents - time to detect runs from onset to decision, time to repair to the first verified result", () => {
    const [summary] = summarizeIncidents({
      anomalies: [base, { ...base, state: "resolved", update: 1, ts: 1_005_000, resolution: "cleared" }],
      plans: [plan],
      results: [result],
    });
    expect(summary).toMatchObject({ target: "link:n1|n2", state: "resolved", mttd_ms: 180, mttr_ms: 390, plans: 1, results: { verified: 1 } });
    expect(renderIncidents([summary as NonNullable<typeof summary>])).toContain("link:n1|n2");
  });

  test("incidents - no verified result: no time to repair; rolled back results are counted", () => {
    const [summary] = summarizeIncidents({ anomalies: [base], plans: [plan], results: [{ ...result, status: "rolled_back", verified_at: undefined }] });
    expect(summary).toMatchObject({ state: "open", mttr_ms: null, results: { rolled_back: 1 } });
  });
});
