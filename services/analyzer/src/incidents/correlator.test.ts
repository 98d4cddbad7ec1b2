import { describe, expect, test } from "bun:test";
import type { Anomaly, IncidentTarget } from "@x0/shared";
import { announce } from "../testing/mesh-sim.ts";
import { PeerDirectory } from "../topology/peers.ts";
import { Correlator } from "./correlator.ts";
import { type Detection, IncidentBook } from "./incident.ts";

// A star: x has links to a, b and c; a and b are also linked, so x is the only node with three links.
function setup() {
  const directory = new PeerDirectory();
  directory.upsert(
    announce(
      "x",
      [
        ["x-a", "10.200.0.1/30"],
        ["x-b", "10.200.0.5/30"],
        ["x-c", "10.200.0.9/30"],
      ],
      "10.255.0.1",
    ),
  );
  directory.upsert(
    announce(
      "a",
      [
        ["a-x", "10.200.0.2/30"],
        ["a-b", "10.200.0.13/30"],
      ],
      "10.255.0.2",
    ),
  );
  directory.upsert(
    announce(
      "b",
      [
        ["b-x", "10.200.0.6/30"],
        ["b-a", "10.200.0.14/30"],
      ],
      "10.255.0.3",
    ),
  );
  directory.upsert(announce("c", [["c-x", "10.200.0.10/30"]], "10.255.0.4"));
  let n = 0;
  const book = new IncidentBook(5000);
  const correlator = new Correlator(book, directory, { windowMs: 300, newId: () => `00000000-0000-4000-8000-${String(++n).padStart(12, "0")}` });
  const states: Anomaly[] = [];
  const link = (peer: string): IncidentTarget => directory.resolveInterface("x", `x-${peer}`).target;
  const down = (peer: string, at: number, status: "down" | "ok" = "down") => {
    const detection: Detection = {
      observer: peer,
      onsetAt: at - 20,
      reading: { metric: "phi", observed: 12, mean: 20, stddev: 20, score: 6, ts: at },
      evidence: [{ node: peer, metric: "phi", observed: 12, threshold: 8, ts: at }],
    };
    correlator.link(link(peer), status, status === "ok" ? undefined : detection, at);
    states.push(...book.drain());
  };
  const tick = (at: number) => {
    correlator.tick(at);
    states.push(...book.drain());
  };
  return { correlator, states, down, tick, book };
}

describe("correlator", () => {
  test("correlator - a link failing within the window of another on the same node is held, then opened when the node is still reachable", () => {
    const { states, down, tick } = setup();
    down("a", 1000);
    expect(states.map((s) => [s.state, s.target?.id])).toEqual([["opened", "link:a|x"]]);
    down("b", 1100);
    expect(states).toHaveLength(1);
    tick(1299);
    expect(states).toHaveLength(1);
    tick(1300);
    expect(states.map((s) => [s.state, s.target?.id])).toEqual([
      ["opened", "link:a|x"],
      ["opened", "link:b|x"],
    ]);
  });

  test("correlator - a blip that ends inside the window is never published", () => {
    const { states, down, tick } = setup();
    down("a", 1000);
    down("b", 1100);
    down("b", 1200, "ok");
    tick(2000);
    expect(states.map((s) => s.target?.id)).toEqual(["link:a|x"]);
  });

  test("correlator - every link of a node down is one node_unreachable; the published link incident is merged into it", () => {
    const { states, down, tick, book } = setup();
    down("a", 1000);
    down("b", 1050);
    down("c", 1100);
    tick(2000);
    const node = states.find((s) => s.kind === "node_unreachable");
    expect(states.map((s) => [s.state, s.kind, s.target?.id])).toEqual([
      ["opened", "link_down", "link:a|x"],
      ["opened", "node_unreachable", "node:x"],
      ["resolved", "link_down", "link:a|x"],
    ]);
    expect(states[2]).toMatchObject({ resolution: "merged", merged_into: node?.incident_id });
    expect(node?.onset_at).toBe(980);
    expect(new Set(node?.evidence?.map((e) => e.node))).toEqual(new Set(["a", "b", "c"]));
    expect(book.size).toBe(1);

    // One link back: the node's other links get a grace period to come back as well (they recover one by one).
    down("a", 3000, "ok");
    tick(3500);
    expect(states.slice(3)).toEqual([]);
    // Past the grace, the node is reachable and the links still down are faults of their own.
    tick(4600);
    expect(states.slice(3).map((s) => [s.state, s.kind, s.target?.id])).toEqual([
      ["resolved", "node_unreachable", "node:x"],
      ["opened", "link_down", "link:b|x"],
      ["opened", "link_down", "link:c|x"],
    ]);
  });

  test("correlator - a node coming back with every link within the grace resolves once, with no link incident after it", () => {
    const { states, down, tick } = setup();
    down("a", 1000);
    down("b", 1050);
    down("c", 1100);
    tick(2000);
    down("b", 3000, "ok");
    down("a", 3200, "ok");
    down("c", 3400, "ok");
    tick(5000);
    expect(states.slice(3).map((s) => [s.state, s.kind, s.target?.id])).toEqual([["resolved", "node_unreachable", "node:x"]]);
  });

  test("correlator - both ends of one link make one incident; the second end is an update", () => {
    const { states, correlator, book } = setup();
    const target: IncidentTarget = { type: "link", id: "link:a|b", nodes: ["a", "b"] };
    const detection = (observer: string): Detection => ({
      observer,
      onsetAt: 900,
      reading: { metric: "phi", observed: 9, mean: 20, stddev: 20, score: 6, ts: 1000 },
      evidence: [{ node: observer, metric: "phi", observed: 9, threshold: 8, ts: 1000 }],
    });
    correlator.link(target, "down", detection("a"), 1000);
    correlator.link(target, "down", detection("b"), 1010);
    correlator.link(target, "down", detection("b"), 1110);
    states.push(...book.drain());
    expect(states.map((s) => [s.state, s.node, s.peer])).toEqual([
      ["opened", "a", "b"],
      ["updated", "a", "b"],
    ]);
  });
});
