import { describe, expect, test } from "bun:test";
import type { Anomaly } from "@x0/shared";
import type { AnalyzerOptions } from "./analyzer.ts";
import { BatmanSim } from "./testing/batman-sim.ts";
import { MeshSim } from "./testing/mesh-sim.ts";
import { analyzerOn, onlyOpened, opened } from "./testing/sim-analyzer.ts";

// The recorded lab's topology (fixtures/batctl/real-4node.txt): n1-n2, n2-n3, n3-n4, n2-n4.
const fourNodes: [string, string][] = [
  ["n1", "n2"],
  ["n2", "n3"],
  ["n3", "n4"],
  ["n2", "n4"],
];

/** An analyzer fed by a simulated batman-adv lab: telemetry as taken, its timer every 25 ms. */
function batmanLab(options: { probes?: boolean; analyzer?: Partial<AnalyzerOptions> } = {}) {
  const sim = new MeshSim({ links: fourNodes, seed: 3 });
  const batman = new BatmanSim(sim, { links: fourNodes, probes: options.probes ?? false });
  const fed = analyzerOn(sim, {
    analyzer: options.analyzer,
    announcements: batman.announcements(),
    decorate: (sample) => batman.decorate(sample),
    onMs: (now) => batman.step(now),
  });
  return { sim, batman, ...fed };
}

const evidenceOf = (states: Anomaly[], id: string | undefined) => states.filter((s) => s.incident_id === id).flatMap((s) => s.evidence ?? []);

describe("analyzer - batman-adv", () => {
  test("analyzer - a fresh batman-adv network, TQ ramping up from nothing, opens nothing", () => {
    const { analyzer, states, run } = batmanLab();
    run(100_000);
    expect(states).toEqual([]);
    expect(analyzer.openIncidents).toBe(0);
    // The TQ baselines learnt once the ramp was over are kept with the others.
    expect(Object.keys(analyzer.snapshot().series).filter((key) => key.startsWith("batman_tq|"))).toHaveLength(8);
  });

  test("analyzer - a neighbour whose last-seen grows past 3.5 s is one link_down incident for its link, from both ends", () => {
    const { sim, states, run } = batmanLab();
    // Long enough for the TQ baselines to be learnt (a minute of ramp, then 10 reads).
    run(90_000);
    const faultAt = sim.now;
    sim.fault("n2", "n3", 1);
    // Over a minute: batman-adv's TQ window of the link is all lost OGMs by then, so its TQ starts from nothing on return.
    run(70_000);
    const incident = onlyOpened(states);
    expect(incident).toMatchObject({
      kind: "link_down",
      severity: "critical",
      metric: "batman_last_seen_ms",
      target: { type: "link", id: "link:n2|n3", nodes: ["n2", "n3"], interfaces: ["n2-n3", "n3-n2"] },
    });
    // Not before 3.5 s without an OGM (the last one came up to an OGM interval before the cut); at most one batctl read
    // interval and one telemetry interval later.
    expect((incident.detected_at as number) - (incident.onset_at as number)).toBeGreaterThan(3500);
    expect((incident.detected_at as number) - faultAt).toBeLessThan(3500 + 1000 + 100);
    expect(incident.onset_at).toBeLessThanOrEqual(faultAt);
    const evidence = evidenceOf(states, incident.incident_id).filter((e) => e.metric === "batman_last_seen_ms");
    expect(new Set(evidence.map((e) => e.node))).toEqual(new Set(["n2", "n3"]));
    expect(evidence.every((e) => e.observed > 3500 && e.threshold === 3500)).toBe(true);

    sim.heal();
    run(6000);
    const resolved = states.filter((s) => s.state === "resolved");
    expect(resolved).toHaveLength(1);
    expect(resolved[0]).toMatchObject({ incident_id: incident.incident_id, resolution: "cleared" });
    // The returning neighbour's TQ ramps up from nothing again: batman-adv relearning the link, not a degradation.
    run(80_000);
    expect(opened(states)).toHaveLength(1);
    expect(states.filter((s) => s.state !== "updated")).toHaveLength(2);
  });

  test("analyzer - hellos and batman-adv on the same cut make one incident: batman's evidence joins the hellos' one", () => {
    const { sim, states, run } = batmanLab({ probes: true });
    run(5000);
    sim.fault("n1", "n2", 1);
    run(8000);
    const incident = onlyOpened(states);
    // The hellos see it first (phi), batman-adv a few seconds later, on the same link id.
    expect(incident).toMatchObject({ kind: "link_down", metric: "phi", target: { id: "link:n1|n2" } });
    const metrics = new Set(evidenceOf(states, incident.incident_id).map((e) => e.metric));
    expect(metrics.has("phi")).toBe(true);
    expect(metrics.has("batman_last_seen_ms")).toBe(true);
    expect(states.filter((s) => s.incident_id !== incident.incident_id)).toEqual([]);

    sim.heal();
    run(6000);
    expect(states.filter((s) => s.state === "resolved")).toHaveLength(1);
    expect(states.at(-1)).toMatchObject({ incident_id: incident.incident_id, state: "resolved", resolution: "cleared" });
  });

  test("analyzer - a dead node is one node_unreachable; its neighbours' batman-adv evidence folds into it; it heals clean", () => {
    const { sim, states, analyzer, run } = batmanLab();
    run(90_000);
    sim.nodeDown("n4");
    sim.muted.add("n4");
    run(10_000);
    expect(opened(states).map((s) => s.kind)).toEqual(["node_unreachable"]);
    const node = opened(states)[0];
    const evidence = evidenceOf(states, node?.incident_id).filter((e) => e.metric === "batman_last_seen_ms");
    expect(new Set(evidence.map((e) => e.node))).toEqual(new Set(["n2", "n3"]));
    sim.heal();
    sim.muted.clear();
    // Its links come back within the correlator's recovery grace of each other: no link incident of their own.
    run(80_000);
    expect(states.filter((s) => s.state !== "updated").map((s) => [s.kind, s.state, s.resolution])).toEqual([
      ["node_unreachable", "opened", undefined],
      ["node_unreachable", "resolved", "cleared"],
    ]);
    expect(analyzer.openIncidents).toBe(0);
  });

  test("analyzer - a neighbour vanishing from the table counts from when it was last heard", () => {
    const { sim, batman, states, run } = batmanLab();
    run(5000);
    const faultAt = sim.now;
    // n4's hard interface towards n3 goes down: n4's entry vanishes at its next read, n3's ages.
    batman.down.add("n4/n4-n3");
    run(1500);
    expect(states).toEqual([]);
    run(5000);
    const open = opened(states);
    expect(open).toHaveLength(1);
    expect(open[0]).toMatchObject({ kind: "link_down", target: { id: "link:n3|n4" } });
    expect((open[0]?.detected_at as number) - (open[0]?.onset_at as number)).toBeGreaterThan(3500);
    expect((open[0]?.detected_at as number) - faultAt).toBeLessThan(3500 + 1000 + 100);
    const evidence = evidenceOf(states, open[0]?.incident_id);
    expect(evidence).toContainEqual(expect.objectContaining({ node: "n4", interface: "n4-n3", metric: "batman_neighbour_present", observed: 0 }));
    batman.down.clear();
    run(6000);
    expect(states.at(-1)).toMatchObject({ incident_id: open[0]?.incident_id, state: "resolved", resolution: "cleared" });
  });

  test("analyzer - a leaf's only hard interface going down: its table stays empty read after read, and still counts", () => {
    const { batman, states, run } = batmanLab();
    run(5000);
    batman.down.add("n1/n1-n2");
    run(6000);
    const open = opened(states);
    expect(open).toHaveLength(1);
    // n1's evidence comes from repeats of one empty read: the vanished neighbour aged with n1's clock.
    expect(evidenceOf(states, open[0]?.incident_id)).toContainEqual(
      expect.objectContaining({ node: "n1", interface: "n1-n2", metric: "batman_neighbour_present", observed: 0 }),
    );
    batman.down.clear();
    run(6000);
    expect(states.at(-1)).toMatchObject({ incident_id: open[0]?.incident_id, state: "resolved", resolution: "cleared" });
  });

  test("analyzer - a hard interface detached from the mesh (announced) is not a fault", () => {
    const { analyzer, batman, states, run } = batmanLab();
    run(5000);
    batman.down.add("n4/n4-n3");
    for (const announcement of batman.announcements(new Set(["n4/n4-n3"]))) analyzer.announce(announcement);
    run(10_000);
    expect(states).toEqual([]);
  });

  test("analyzer - errored, missing and repeated batman samples open nothing", () => {
    const { sim, batman, analyzer, states, run } = batmanLab();
    run(5000);
    // batctl failing (empty tables, error set), no batman sample at all, and a stalled read repeated: 20 s each.
    batman.errored.add("n1");
    batman.missing.add("n3");
    batman.frozen.add("n4");
    run(20_000);
    expect(states).toEqual([]);
    batman.errored.clear();
    batman.missing.clear();
    batman.frozen.clear();
    run(10_000);
    expect(states).toEqual([]);
    expect(analyzer.openIncidents).toBe(0);

    // A node's telemetry stopping is the silence logic's: one node_unreachable, nothing from its stale batman view.
    sim.muted.add("n1");
    run(3000);
    expect(opened(states).map((s) => s.kind)).toEqual(["node_unreachable"]);
  });

  test("analyzer - a blind batman view withdraws its verdict; the other end keeps the incident open", () => {
    const { sim, batman, analyzer, states, run } = batmanLab();
    run(5000);
    sim.fault("n3", "n4", 1);
    run(8000);
    expect(opened(states)).toHaveLength(1);
    // n4's batctl fails for longer than X0_ANALYZER_BATMAN_BLIND_MS: its verdict goes, n3's still holds the incident.
    batman.errored.add("n4");
    run(15_000);
    expect(states.filter((s) => s.state === "resolved")).toEqual([]);
    expect(analyzer.openIncidents).toBe(1);
    // With both views blind, nothing confirms the fault any more: the incident ends, 10 s after the last fresh read.
    batman.errored.add("n3");
    run(9000);
    expect(analyzer.openIncidents).toBe(1);
    run(2500);
    expect(states.at(-1)).toMatchObject({ state: "resolved", resolution: "cleared" });
    // Fresh reads of a link still dead open it again (the errored reads' empty tables never counted as vanished neighbours).
    batman.errored.clear();
    run(3000);
    expect(opened(states)).toHaveLength(2);
    sim.heal();
    run(6000);
    expect(analyzer.openIncidents).toBe(0);
  });

  test("analyzer - a TQ drop opens link_degraded with the TQ and its baseline; recovery resolves it", () => {
    const { batman, states, run } = batmanLab();
    // TQ ramps up for a minute, then the baseline needs 10 reads.
    run(90_000);
    expect(states).toEqual([]);
    batman.tqScale.set("n2>n4", 0.5);
    run(6000);
    const incident = onlyOpened(states);
    expect(incident).toMatchObject({ kind: "link_degraded", severity: "warning", metric: "batman_tq", target: { type: "link", id: "link:n2|n4" } });
    expect(incident).toMatchObject({ node: "n2", interface: "n2-n4" });
    expect(incident.observed).toBeLessThan(0.7 * incident.baseline_mean);
    // Three batctl reads, a second apart, from the last normal one: the repeats in between count for nothing.
    expect((incident.detected_at as number) - (incident.onset_at as number)).toBeGreaterThanOrEqual(2900);
    const tq = incident.evidence?.find((e) => e.metric === "batman_tq");
    const baseline = incident.evidence?.find((e) => e.metric === "batman_tq_baseline");
    expect(tq).toMatchObject({ node: "n2", interface: "n2-n4", peer: batman.macOf("n4", "n4-n2") });
    expect(baseline?.observed).toBeGreaterThan(240);
    expect(tq?.observed).toBeLessThan(0.7 * (baseline?.observed as number));
    expect(tq?.threshold).toBeCloseTo(0.7 * (baseline?.observed as number), 5);

    batman.tqScale.clear();
    run(6000);
    expect(states.at(-1)).toMatchObject({ incident_id: incident.incident_id, state: "resolved", resolution: "cleared" });
    expect(opened(states)).toHaveLength(1);
  });
});
