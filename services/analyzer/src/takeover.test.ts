// Analyzer.takeOver with a simulated lab: a leader and a hot standby fed the same telemetry; the leader dies mid-incident.
import { describe, expect, test } from "bun:test";
import type { Anomaly } from "@x0/shared";
import { anomalyFixture } from "@x0/shared/testing";
import { Analyzer } from "./analyzer.ts";
import { PublishedIncidents } from "./incidents/published.ts";
import { MeshSim } from "./testing/mesh-sim.ts";

const GRACE_MS = 2000;
const triangle: [string, string][] = [
  ["n1", "n2"],
  ["n2", "n3"],
  ["n1", "n3"],
];

function ids(prefix: string): () => string {
  let n = 0;
  return () => `00000000-0000-4000-${prefix}-${String(++n).padStart(12, "0")}`;
}

/**
 * Two analyzers on one simulated lab. What the one publishing emits lands in `stream` (and is followed by the other),
 * the other's states are dropped, as a standby's are. `failOver()` kills the publishing one: the standby takes over.
 */
function pair() {
  const sim = new MeshSim({ links: triangle, seed: 3 });
  const leader = new Analyzer({ newId: ids("8aaa"), warmupSamples: 10 });
  const standby = new Analyzer({ newId: ids("8bbb"), warmupSamples: 10 });
  for (const announcement of sim.announcements()) for (const analyzer of [leader, standby]) analyzer.announce(announcement);
  const published = new PublishedIncidents();
  const stream: Anomaly[] = [];
  let active: Analyzer | undefined = leader;
  const emit = (from: Analyzer, states: Anomaly[]) => {
    if (from !== active) return;
    for (const state of states) {
      stream.push(state);
      published.observe(state, sim.now);
    }
  };
  const alive = new Set([leader, standby]);
  const run = (ms: number) =>
    sim.run(
      ms,
      (sample) => {
        for (const analyzer of alive) emit(analyzer, analyzer.ingest(sample, sim.now));
      },
      (now) => {
        if (now % 25 === 0) for (const analyzer of alive) emit(analyzer, analyzer.tick(now));
      },
      (report) => {
        for (const analyzer of alive) emit(analyzer, analyzer.overdue(report, sim.now));
      },
    );
  const failOver = () => {
    alive.delete(leader);
    active = standby;
    emit(standby, standby.takeOver(published, sim.now, GRACE_MS));
  };
  return { sim, stream, run, failOver, standby };
}

describe("analyzer takeover", () => {
  test("analyzer takeover - an incident open at the failover continues under its id and is resolved once when the fault ends", () => {
    const { sim, stream, run, failOver } = pair();
    run(3000);
    sim.fault("n1", "n2", 1);
    run(1000);
    const [opened] = stream;
    expect(opened).toMatchObject({ state: "opened", kind: "link_down", target: { id: "link:n1|n2" } });
    expect(opened?.incident_id).toContain("8aaa");
    const before = stream.length;
    failOver();
    // Nothing to say at the takeover itself: the standby saw the same fault.
    expect(stream.length).toBe(before);
    run(6000);
    sim.heal();
    run(2000);
    const after = stream.slice(before);
    expect(after.filter((state) => state.state === "opened")).toEqual([]);
    const resolved = stream.filter((state) => state.state === "resolved");
    expect(resolved).toHaveLength(1);
    expect(resolved[0]).toMatchObject({ incident_id: opened?.incident_id, resolution: "cleared", opened_at: opened?.opened_at });
    // Update numbers go on from the leader's: every message id is new.
    const msgIDs = stream.map((state) => `${state.incident_id}:${state.update}`);
    expect(new Set(msgIDs).size).toBe(msgIDs.length);
    expect(stream.filter((state) => state.incident_id === opened?.incident_id).map((state) => state.update)).toEqual([
      ...Array(stream.filter((state) => state.incident_id === opened?.incident_id).length).keys(),
    ]);
  });

  test("analyzer takeover - a new fault after the failover is opened by the new leader", () => {
    const { sim, stream, run, failOver } = pair();
    run(3000);
    failOver();
    run(500);
    sim.fault("n2", "n3", 1);
    run(1000);
    const opened = stream.filter((state) => state.state === "opened");
    expect(opened).toHaveLength(1);
    expect(opened[0]).toMatchObject({ kind: "link_down", target: { id: "link:n2|n3" } });
    expect(opened[0]?.incident_id).toContain("8bbb");
  });

  test("analyzer takeover - an incident the new leader does not see is resolved after the grace, one it finds in time is continued", () => {
    const { sim, stream, run, standby } = pair();
    run(3000);
    // Two incidents the standby never saw (published by the leader only): one about a link that is healthy, one about
    // a link that fails just after the takeover.
    const ghost = (id: string, a: string, b: string): Anomaly =>
      anomalyFixture({
        incident_id: id,
        node: a,
        interface: `${a}-${b}`,
        metric: "phi",
        opened_at: sim.now - 100,
        ts: sim.now - 100,
        target: { type: "link", id: `link:${a}|${b}`, nodes: [a, b], interfaces: [`${a}-${b}`, `${b}-${a}`] },
      });
    const healthy = ghost("00000000-0000-4000-8ccc-000000000001", "n1", "n3");
    const failing = ghost("00000000-0000-4000-8ccc-000000000002", "n2", "n3");
    const published = new PublishedIncidents();
    published.observe(healthy, sim.now);
    published.observe(failing, sim.now);
    const states = standby.takeOver(published, sim.now, GRACE_MS);
    expect(states).toEqual([]);
    const out: Anomaly[] = [];
    sim.fault("n2", "n3", 1);
    sim.run(
      GRACE_MS + 500,
      (sample) => out.push(...standby.ingest(sample, sim.now)),
      (now) => {
        if (now % 25 === 0) out.push(...standby.tick(now));
      },
    );
    expect(out.filter((state) => state.state === "opened")).toEqual([]);
    expect(out.find((state) => state.incident_id === failing.incident_id)).toMatchObject({ state: "updated", update: 1, kind: "link_down" });
    expect(out.find((state) => state.incident_id === healthy.incident_id)).toMatchObject({ state: "resolved", update: 1, resolution: "cleared" });
    expect(stream).toEqual([]);
  });

  test("analyzer takeover - a standby's incident the leader had already resolved is never published", () => {
    const { sim, stream, run, standby } = pair();
    run(3000);
    sim.fault("n1", "n2", 1);
    run(1000);
    sim.heal();
    // The leader resolved it, and died; the standby's own incident is still open at the takeover.
    const published = new PublishedIncidents();
    for (const state of stream) published.observe(state, sim.now);
    published.observe({ ...(stream[0] as Anomaly), state: "resolved", update: 99, resolution: "cleared" }, sim.now);
    const out = standby.takeOver(published, sim.now, GRACE_MS);
    sim.run(
      2000,
      (sample) => out.push(...standby.ingest(sample, sim.now)),
      (now) => {
        if (now % 25 === 0) out.push(...standby.tick(now));
      },
    );
    expect(out).toEqual([]);
  });
});
