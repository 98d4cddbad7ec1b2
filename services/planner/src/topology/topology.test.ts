import { describe, expect, test } from "bun:test";
import { LinkRecord, routeTables } from "@x0/shared";
import { gridAnnouncements } from "../testing.ts";
import { DEFAULT_LINK_COST } from "./linkCost.ts";
import { ProbeIntake } from "./telemetry.ts";
import { TopologyState } from "./topology.ts";

const flap = { downs: 3, windowMs: 60_000, stableMs: 30_000 };

function grid(): TopologyState {
  const topology = new TopologyState(DEFAULT_LINK_COST, flap);
  for (const announcement of gridAnnouncements(3, 3)) topology.announce(announcement);
  return topology;
}

const A = "7f1c3a52-5a8e-4c3e-9a57-0d3c2b1e4f60";
const B = "11111111-1111-4111-8111-111111111111";

describe("topology", () => {
  test("topology - a 3x3 grid has 12 links; the management /16 is not one", () => {
    const topology = grid();
    expect(topology.linkCount()).toBe(12);
    expect(topology.linksOf("n5")).toEqual(["link:n2|n5", "link:n4|n5", "link:n5|n6", "link:n5|n8"]);
    expect(routeTables(topology.hopCountGraph())).toHaveLength(72);
  });

  test("topology - probes map to the link whose far end has the probed address, from the probing end", () => {
    const topology = grid();
    expect(topology.observeProbes("n1", [{ peer: "10.200.0.2:7471", loss: 0.5, rtt_ms: 1, rtt_avg_ms: 1 }])).toEqual(["link:n1|n2"]);
    expect(topology.observeProbes("n1", [{ peer: "10.200.0.99:7471", loss: 0.5, rtt_ms: 1, rtt_avg_ms: null }])).toEqual([]);
    const record = topology.record("link:n1|n2", 5) as LinkRecord;
    expect(record.loss).toEqual({ a_to_b: 0.5, b_to_a: null });
    expect(record.rtt_ms).toBe(1);
    expect(record.routing_cost).toBe(4);
  });

  test("topology - a link back from an outage has its pre-outage cost, and the outage's lost hellos are not held against it", () => {
    const topology = grid();
    const now = Date.now();
    topology.markDown(A, ["link:n1|n2"], now);
    // During the cut both ends' probes lose every hello: the measured cost soars.
    for (let i = 0; i < 10; i++) topology.observeProbes("n1", [{ peer: "10.200.0.2:7471", loss: 1, rtt_ms: null, rtt_avg_ms: null }]);
    expect((topology.record("link:n1|n2", now) as LinkRecord).routing_cost).toBeGreaterThan(4);
    topology.clear(A, now);
    expect(topology.graph().links.find((l) => l.id === "link:n1|n2")?.cost).toBe(1);
    // The monitors' windows still report the outage for a while: ignored.
    expect(topology.observeProbes("n1", [{ peer: "10.200.0.2:7471", loss: 0.6, rtt_ms: 0.1, rtt_avg_ms: 0.1 }])).toEqual([]);
    expect(topology.graph().links.find((l) => l.id === "link:n1|n2")?.cost).toBe(1);
  });

  test("topology - down marks take a link out; a node's incident marks all its links; clearing returns them", () => {
    const topology = grid();
    topology.markDown(A, ["link:n1|n2"], 0);
    topology.markDown(B, topology.linksOf("n2"), 0);
    expect(
      topology
        .graph()
        .links.filter((link) => !Number.isFinite(link.cost))
        .map((link) => link.id),
    ).toEqual(["link:n1|n2", "link:n2|n3", "link:n2|n5"]);
    expect(topology.clear(B, 10)).toEqual(["link:n1|n2", "link:n2|n3", "link:n2|n5"]);
    expect(topology.stateOf("link:n1|n2")).toBe("down");
    expect(topology.stateOf("link:n2|n3")).toBe("up");
  });

  test("topology - degraded marks raise the cost to at least the factor; avoid marks take the link out without a flap", () => {
    const topology = grid();
    topology.markDegraded(A, ["link:n1|n2"], 4);
    expect(topology.graph().links.find((link) => link.id === "link:n1|n2")?.cost).toBe(4);
    topology.markAvoid(B, ["link:n2|n3"]);
    expect(topology.stateOf("link:n2|n3")).toBe("degraded");
    expect(topology.record("link:n2|n3", 0)).toMatchObject({ cost: null, downs: [] });
  });

  test("topology - three downs within the window hold a link until it has been up for the stable time", () => {
    const topology = grid();
    const ids = ["link:n1|n2"];
    for (const [i, at] of [0, 10_000, 20_000].entries()) {
      const incident = `${String(i).repeat(8)}-1111-4111-8111-111111111111`;
      const { held } = topology.markDown(incident, ids, at);
      expect(held).toEqual(i === 2 ? ids : []);
      topology.clear(incident, at + 1000);
    }
    expect(topology.stateOf("link:n1|n2")).toBe("held");
    expect(topology.heldCount()).toBe(1);
    expect(topology.releaseStable(30_000)).toEqual([]);
    expect(topology.releaseStable(51_000)).toEqual([{ id: "link:n1|n2", incidentId: "22222222-1111-4111-8111-111111111111" }]);
    expect(topology.stateOf("link:n1|n2")).toBe("up");
  });

  test("topology - downs outside the window do not count", () => {
    const topology = grid();
    for (const at of [0, 70_000, 140_000]) topology.markDown(`${String(at / 70_000).repeat(8)}-1111-4111-8111-111111111111`, ["link:n1|n2"], at);
    expect(topology.heldCount()).toBe(0);
  });

  test("topology - records round-trip: a restored state has the same marks, holds and costs, also when restored before announcements", () => {
    const topology = grid();
    topology.markDown(A, ["link:n1|n2"], 5);
    topology.observeProbes("n2", [{ peer: "10.200.0.1:7471", loss: 0.2, rtt_ms: 2, rtt_avg_ms: 2 }]);
    const records = topology.takeDue(6, 1000);
    expect(records.map((record) => record.id)).toEqual(["link:n1|n2"]);
    expect(topology.takeDue(7, 1000)).toEqual([]);
    const restored = new TopologyState(DEFAULT_LINK_COST, flap);
    for (const record of records) restored.restore(LinkRecord.parse(JSON.parse(JSON.stringify(record))));
    for (const announcement of gridAnnouncements(3, 3)) restored.announce(announcement);
    expect(restored.record("link:n1|n2", 6)).toEqual(records[0] as LinkRecord);
  });

  test("topology - measurement changes are written at most every write interval, state changes at once", () => {
    const topology = grid();
    topology.observeProbes("n1", [{ peer: "10.200.0.2:7471", loss: 0.01, rtt_ms: 1, rtt_avg_ms: 1 }]);
    expect(topology.takeDue(0, 1000)).toEqual([]);
    expect(topology.takeDue(1000, 1000)).toHaveLength(1);
    topology.observeProbes("n1", [{ peer: "10.200.0.2:7471", loss: 0.02, rtt_ms: 1, rtt_avg_ms: 1 }]);
    expect(topology.takeDue(1500, 1000)).toEqual([]);
    topology.markDown(A, ["link:n1|n2"], 1600);
    expect(topology.takeDue(1600, 1000).map((record) => record.state)).toEqual(["down"]);
  });

  test("topology - the probe intake reads a node's samples at most every interval and ignores invalid ones", () => {
    const intake = new ProbeIntake(200);
    const sample = new TextEncoder().encode(
      JSON.stringify({ v: 1, node: "n1", ts: 1, seq: 0, interval_ms: 100, source: "sysfs", ebpf: false, interfaces: [], probes: [] }),
    );
    expect(intake.read("n1", sample, 0)).toEqual({ node: "n1", probes: [] });
    expect(intake.read("n1", sample, 100)).toBeUndefined();
    expect(intake.read("n2", sample, 100)).toBeUndefined();
    expect(intake.read("n1", new TextEncoder().encode("{nope"), 300)).toBeUndefined();
    expect(intake.invalid).toBe(2);
  });
});
