import { describe, expect, test } from "bun:test";
import type { NodeAnnouncement, Plan, Telemetry, TopologyAnalysis } from "@x0/shared";
import { incidentEvents, type LabIncident } from "@x0/shared/testing";
import { ConsoleModel, movedLinks, traceIdOf } from "./model.ts";

const encoder = new TextEncoder();
const json = (value: unknown) => encoder.encode(JSON.stringify(value));

/** A triangle n1–n2–n3 on /30 links, as the monitors announce it. */
function announcement(node: string, links: [string, string][]): NodeAnnouncement {
  return {
    node,
    interfaces: links.map(([name, cidr]) => ({ name, operstate: "up", xdp: "generic", ipv4: [cidr] })),
    service_address: `10.0.0.${node.slice(1)}`,
    ebpf: true,
    updated_at: 1,
  };
}
const TRIANGLE: Record<string, [string, string][]> = {
  n1: [
    ["n1-n2", "10.1.0.1/30"],
    ["n1-n3", "10.1.0.5/30"],
  ],
  n2: [
    ["n2-n1", "10.1.0.2/30"],
    ["n2-n3", "10.1.0.9/30"],
  ],
  n3: [
    ["n3-n1", "10.1.0.6/30"],
    ["n3-n2", "10.1.0.10/30"],
  ],
};

function triangle(): ConsoleModel {
  const model = new ConsoleModel();
  for (const [node, links] of Object.entries(TRIANGLE)) model.applyTopologyKey(`node.${node}`, json(announcement(node, links)));
  return model;
}

function telemetry(node: string, iface: string, peer: string, sample: { loss?: number; rtt_ms?: number; tq?: number }, operstate = "up"): Telemetry {
  return {
    v: 1,
    node,
    ts: 1,
    seq: 1,
    interval_ms: 100,
    source: "ebpf",
    ebpf: true,
    interfaces: [
      {
        name: iface,
        operstate: operstate as "up",
        counters: { rx_bytes: 0, tx_bytes: 0, rx_packets: 0, tx_packets: 0, rx_errors: 0, tx_errors: 0, rx_dropped: 0, tx_dropped: 0 },
        neighbours: [
          {
            mac: "02:00:00:00:00:02",
            ipv4: peer,
            packets: 10,
            bytes: 1000,
            dropped: 0,
            packets_delta: 1,
            bytes_delta: 100,
            dropped_delta: 0,
            packets_per_s: 10,
            bytes_per_s: 1000,
            dropped_per_s: 0,
            last_seen_ts: 1,
            alive: true,
            denied: false,
            fault_probability: 0,
            ...sample,
          },
        ],
      },
    ],
  } as Telemetry;
}

describe("console model", () => {
  test("console model - nodes and links come from the announcements, health from telemetry", () => {
    const model = triangle();
    const snapshot = model.snapshot();
    expect(snapshot.nodes.map((node) => node.id)).toEqual(["n1", "n2", "n3"]);
    expect(snapshot.links.map((link) => link.id)).toEqual(["link:n1|n2", "link:n1|n3", "link:n2|n3"]);
    expect(snapshot.links.every((link) => link.status === "healthy")).toBe(true);
    model.takeChanges();
    model.applyTelemetry(json(telemetry("n1", "n1-n2", "10.1.0.2", { loss: 0.25, rtt_ms: 1.5 })));
    const changes = model.takeChanges();
    expect(model.snapshot().malformed).toEqual([]);
    expect(changes?.links?.map((link) => link.id)).toEqual(["link:n1|n2"]);
    expect(changes?.links?.[0]?.a_to_b).toEqual({ loss: 0.25, rtt_ms: 1.5, tq: null, operstate: "up" });
    expect(changes?.links?.[0]?.b_to_a.loss).toBeNull();
    // The same telemetry again changes nothing a page would draw.
    model.applyTelemetry(json(telemetry("n1", "n1-n2", "10.1.0.2", { loss: 0.25, rtt_ms: 1.5 })));
    expect(model.takeChanges()).toBeUndefined();
    // An interface reported down draws the link cut even before an incident opens.
    model.applyTelemetry(json(telemetry("n2", "n2-n1", "10.1.0.1", {}, "down")));
    expect(model.takeChanges()?.links?.[0]).toMatchObject({ id: "link:n1|n2", status: "cut" });
  });

  test("console model - a link is cut while its incident is open; the plan's paths are marked until verified", () => {
    const model = triangle();
    model.takeChanges();
    const incident: LabIncident = { kind: "link_down", link: ["n1", "n2"], alternative: "reroute-around", outcome: "verified", at: 1000 };
    const [opened, plan, result, resolved] = incidentEvents(incident);
    if (!opened || !plan || !result || !resolved) throw new Error("incidentEvents gave fewer events");
    model.applyEvent(opened.subject, json(opened.message), "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    let changes = model.takeChanges();
    expect(changes?.links?.find((link) => link.id === "link:n1|n2")).toMatchObject({ status: "cut", incident: { id: incident.id, kind: "link_down" } });
    expect(changes?.incidents?.[0]).toMatchObject({ incident_id: incident.id, state: "open", target: "link:n1|n2", plan: null, result: null });
    // The detour n1 → n3 → n2 is planned: marked while the plan is in flight, repaired once verified.
    const detour: Plan = {
      ...(plan.message as Plan),
      actions: [{ type: "route_replace", params: { node: "n1", destination: "n2", path: "n3,n2" }, reason: "detour" }],
    };
    model.applyEvent(plan.subject, json(detour));
    changes = model.takeChanges();
    expect(changes?.links?.filter((link) => link.moved === "planned").map((link) => link.id)).toEqual(["link:n1|n3", "link:n2|n3"]);
    model.applyEvent(result.subject, json(result.message));
    changes = model.takeChanges();
    expect(changes?.links?.filter((link) => link.moved === "repaired").map((link) => link.id)).toEqual(["link:n1|n3", "link:n2|n3"]);
    expect(changes?.incidents?.[0]).toMatchObject({ result: "verified", mttr_ms: 190 });
    model.applyEvent(resolved.subject, json(resolved.message));
    const links = model.snapshot().links;
    expect(links.map((link) => [link.id, link.status, link.moved])).toEqual([
      ["link:n1|n2", "healthy", null],
      ["link:n1|n3", "healthy", null],
      ["link:n2|n3", "healthy", null],
    ]);
    const detail = model.incident(incident.id as string);
    expect(detail?.anomalies.map((anomaly) => anomaly.state)).toEqual(["opened", "resolved"]);
    expect(detail?.anomalies[0]?.trace_id).toBe("0af7651916cd43dd8448eb211c80319c");
    expect(detail?.plans[0]?.actions[0]?.params.path).toBe("n3,n2");
    expect(detail?.results[0]?.status).toBe("verified");
    expect(model.incident("00000000-0000-4000-8000-000000000000")).toBeUndefined();
  });

  test("console model - the same event twice (history and live) counts once", () => {
    const model = triangle();
    const events = incidentEvents({ kind: "link_down", link: ["n1", "n2"], alternative: "reroute-around", outcome: "verified", at: 1000 });
    for (const event of [...events, ...events]) model.applyEvent(event.subject, json(event.message));
    const detail = model.incident(events[0]?.message.incident_id as string);
    expect([detail?.anomalies.length, detail?.plans.length, detail?.results.length]).toEqual([2, 1, 1]);
  });

  test("console model - malformed records and messages are shown as such and change nothing else", () => {
    const model = triangle();
    model.takeChanges();
    model.applyTopologyKey("node.n4", encoder.encode("{not json"), 5);
    model.applyTopologyKey("analysis.current", json({ v: 2 }), 6);
    model.applyEvent("x0.plan.n1", json({ v: 1, plan_id: "nope" }), undefined, 7);
    const snapshot = model.snapshot();
    expect(snapshot.nodes).toHaveLength(3);
    expect(snapshot.malformed.map((item) => item.source)).toEqual(["x0.plan.n1", "x0_topology analysis.current", "x0_topology node.n4"]);
    expect(snapshot.malformed[2]?.reason).toStartWith("not JSON");
    expect(snapshot.malformed[1]?.reason).toContain("v:");
    expect(model.takeChanges()?.malformed).toHaveLength(3);
  });

  test("console model - the analysis marks bridges and single points of failure", () => {
    const model = triangle();
    const analysis: TopologyAnalysis = {
      v: 1,
      computed_at: 1,
      nodes: 3,
      links: 2,
      components: 1,
      bridges: ["link:n1|n3", "link:n2|n3"],
      articulation_points: ["n3"],
      cut_offs: [],
      edge_connectivity: 1,
      pairs_by_disjoint_paths: { "1": 3 },
      single_point_of_failure_nodes: ["n1", "n2"],
      per_node: [],
    } as unknown as TopologyAnalysis;
    model.applyTopologyKey("analysis.current", json(analysis));
    const snapshot = model.snapshot();
    expect(snapshot.malformed).toEqual([]);
    expect(snapshot.links.filter((link) => link.bridge).map((link) => link.id)).toEqual(["link:n1|n3", "link:n2|n3"]);
    expect(snapshot.nodes.filter((node) => node.articulation_point).map((node) => node.id)).toEqual(["n3"]);
    expect(snapshot.nodes.filter((node) => node.single_point_of_failure).map((node) => node.id)).toEqual(["n1", "n2"]);
  });

  test("console model - only the most recently changed incidents are kept", () => {
    const model = new ConsoleModel({ maxIncidents: 2 });
    const ids: string[] = [];
    for (let index = 0; index < 3; index++) {
      const events = incidentEvents({ kind: "node_unreachable", node: "n5", alternative: "notify", outcome: "applied", at: 1000 * index });
      for (const event of events) model.applyEvent(event.subject, json(event.message));
      ids.push(events[0]?.message.incident_id as string);
    }
    expect(model.snapshot().incidents.map((row) => row.incident_id)).toEqual([ids[2] as string, ids[1] as string]);
  });

  test("console model - trace ids and moved links are read strictly", () => {
    expect(traceIdOf("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")).toBe("0af7651916cd43dd8448eb211c80319c");
    expect(traceIdOf("garbage")).toBeNull();
    expect(traceIdOf(undefined)).toBeNull();
    const plan = {
      actions: [
        { type: "route_replace", params: { node: "n4", path: "n3,n2,n1" } },
        { type: "notify", params: {} },
      ],
    } as unknown as Plan;
    expect(movedLinks(plan)).toEqual(["link:n3|n4", "link:n2|n3", "link:n1|n2"]);
  });
});
