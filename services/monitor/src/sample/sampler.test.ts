import { describe, expect, test } from "bun:test";
import { type InterfaceSample, Telemetry } from "@x0/shared";
import { Registry } from "prom-client";
import { createMonitorMetrics } from "../metrics.ts";
import type { KnownNeighbour, XdpTotals } from "../xdp/attach.ts";
import { keyId } from "../xdp/layout.ts";
import { type DataplaneSource, Sampler } from "./sampler.ts";

/** A neighbour in the fake XDP map, with its cumulative counters. */
interface FakeNeighbour {
  key: KnownNeighbour;
  packets: number;
  bytes: number;
  dropped: number;
}

const neighbour = (mac: string, ipv4: string | null, packets = 0, bytes = 0): FakeNeighbour => ({
  key: { mac, ipv4, id: keyId({ mac, ipv4 }) },
  packets,
  bytes,
  dropped: 0,
});

/** A data plane whose map, policy and attach state the test sets. */
function fakeDataplane() {
  const state = {
    attached: true,
    neighbours: [] as FakeNeighbour[],
    denied: new Set<string>(),
    faults: new Map<string, number>(),
    totals: { packets: 0, bytes: 0, passed: 0, droppedDeny: 0, droppedFault: 0 } as XdpTotals,
  };
  const dataplane: DataplaneSource = {
    sync: () => {},
    state: () => (state.attached ? { mode: "native" } : { mode: "off", error: "gone" }),
    read: () =>
      state.attached
        ? {
            totals: { ...state.totals },
            neighbours: state.neighbours.map((n) => ({ neighbour: n.key, packets: n.packets, bytes: n.bytes, droppedPackets: n.dropped })),
            denied: state.denied,
            faults: state.faults,
          }
        : undefined,
    takeEvents: () => [],
    get active() {
      return state.attached;
    },
  };
  return { state, dataplane };
}

function sampler({ maxNeighbours = 256 } = {}) {
  const registry = new Registry();
  const metrics = createMonitorMetrics(registry, { maxNeighbourLabels: 64 });
  const counters = { rx_bytes: 0, tx_bytes: 0, rx_packets: 0, tx_packets: 0, rx_errors: 0, tx_errors: 0, rx_dropped: 0, tx_dropped: 0 };
  const { state, dataplane } = fakeDataplane();
  const s = new Sampler({
    node: "n1",
    intervalMs: 100,
    readInterfaces: (): InterfaceSample[] => [{ name: "mesh0", operstate: "up", counters: { ...counters } }],
    ebpfState: () => ({ available: true, missing: [], tracepoints: false }),
    dataplane,
    metrics,
    maxNeighbours,
    livenessMs: 1000,
  });
  return { s, state, counters, registry };
}

const A = "02:00:00:00:00:0a";
const B = "02:00:00:00:00:0b";
const C = "02:00:00:00:00:0c";

/** A sampler whose map holds neighbours A and B with `packets` each, sampled once at 1000. */
function sampledWithAB(packets: number) {
  const { s, state } = sampler();
  const a = neighbour(A, "10.0.0.1", packets);
  const b = neighbour(B, "10.0.0.2", packets);
  state.neighbours = [a, b];
  s.sample(1_000);
  return { s, state, a, b };
}

describe("sampler", () => {
  test("sampler - the first sample has neighbours without deltas, the next their deltas and per-second rates", () => {
    const { s, state, counters } = sampler();
    const a = neighbour(A, "10.0.0.1", 10, 1000);
    state.neighbours = [a];
    const first = s.sample(1_000);
    expect(first.interfaces[0]?.deltas).toBeUndefined();
    expect(first.interfaces[0]?.neighbours).toEqual([
      {
        mac: A,
        ipv4: "10.0.0.1",
        packets: 10,
        bytes: 1000,
        dropped: 0,
        packets_delta: 0,
        bytes_delta: 0,
        dropped_delta: 0,
        packets_per_s: 0,
        bytes_per_s: 0,
        dropped_per_s: 0,
        last_seen_ts: 1_000,
        alive: true,
        denied: false,
        fault_probability: 0,
      },
    ]);
    a.packets = 15;
    a.bytes = 1500;
    counters.rx_packets = 40;
    const second = s.sample(1_200);
    expect(second.interfaces[0]?.deltas?.rx_packets).toBe(40);
    expect(second.interfaces[0]?.rates?.rx_packets).toBe(200);
    expect(second.interfaces[0]?.neighbours?.[0]).toMatchObject({
      packets_delta: 5,
      bytes_delta: 500,
      packets_per_s: 25,
      bytes_per_s: 2500,
      last_seen_ts: 1_200,
    });
    expect(Telemetry.safeParse(second).success).toBe(true);
  });

  test("sampler - a silent neighbour keeps its last-seen time, sorts after active ones and stops being alive", () => {
    const { s, b } = sampledWithAB(1);
    b.packets = 2;
    const second = s.sample(1_100);
    expect(second.interfaces[0]?.neighbours?.map((n) => [n.mac, n.last_seen_ts])).toEqual([
      [B, 1_100],
      [A, 1_000],
    ]);
    b.packets = 3;
    const late = s.sample(2_050);
    expect(late.interfaces[0]?.neighbours?.map((n) => [n.mac, n.alive])).toEqual([
      [B, true],
      [A, false],
    ]);
  });

  test("sampler - an evicted neighbour is forgotten: back in the map, its first reading has no delta", () => {
    const { s, state, a, b } = sampledWithAB(5);
    state.neighbours = [a];
    a.packets = 6;
    expect(s.sample(1_100).interfaces[0]?.neighbours?.map((n) => n.mac)).toEqual([A]);
    b.packets = 9;
    state.neighbours = [a, b];
    a.packets = 7;
    const back = s.sample(1_200).interfaces[0]?.neighbours;
    expect(back?.find((n) => n.mac === B)).toMatchObject({ packets: 9, packets_delta: 0, packets_per_s: 0 });
    expect(back?.find((n) => n.mac === A)).toMatchObject({ packets_delta: 1 });
  });

  test("sampler - exact and MAC-wide deny and fault entries apply to the neighbour", () => {
    const { s, state } = sampler();
    state.neighbours = [neighbour(A, "10.0.0.1", 1), neighbour(B, "10.0.0.2", 1), neighbour(C, null, 1)];
    state.denied.add(keyId({ mac: A, ipv4: "10.0.0.1" }));
    state.denied.add(`${C}/any`);
    state.faults.set(`${B}/any`, 0.25);
    state.faults.set(keyId({ mac: C, ipv4: null }), 0.5);
    const byMac = new Map(s.sample(1_000).interfaces[0]?.neighbours?.map((n) => [n.mac, [n.denied, n.fault_probability]]));
    expect(byMac).toEqual(
      new Map([
        [A, [true, 0]],
        [B, [false, 0.25]],
        [C, [true, 0.5]],
      ]),
    );
  });

  test("sampler - neighbours are capped, most recently active first", () => {
    const { s, state } = sampler({ maxNeighbours: 2 });
    const all = [neighbour(A, "10.0.0.1", 1), neighbour(B, "10.0.0.2", 1), neighbour(C, "10.0.0.3", 1)];
    state.neighbours = all;
    s.sample(1_000);
    (all[2] as FakeNeighbour).packets = 2;
    expect(s.sample(1_100).interfaces[0]?.neighbours?.map((n) => n.mac)).toEqual([C, A]);
  });

  test("sampler - while XDP is off the interface reports zeros, and counting restarts without deltas", () => {
    const { s, state } = sampler();
    const a = neighbour(A, "10.0.0.1", 5);
    state.neighbours = [a];
    state.totals = { packets: 5, bytes: 500, passed: 5, droppedDeny: 0, droppedFault: 0 };
    s.sample(1_000);
    state.attached = false;
    const off = s.sample(1_100);
    expect(off.interfaces[0]?.xdp).toMatchObject({ mode: "off", error: "gone", packets: 0, packets_delta: 0 });
    expect(off.interfaces[0]?.neighbours).toBeUndefined();
    state.attached = true;
    a.packets = 8;
    expect(s.sample(1_200).interfaces[0]?.neighbours?.[0]).toMatchObject({ packets: 8, packets_delta: 0 });
  });

  test("sampler - neighbour traffic reaches the Prometheus counters at scrape time, each packet once", async () => {
    const { s, state, registry } = sampler();
    const a = neighbour(A, "10.0.0.1", 10, 1000);
    state.neighbours = [a];
    s.sample(1_000);
    a.packets = 25;
    a.bytes = 2500;
    s.sample(1_100);
    const metric = await registry.getSingleMetric("x0_monitor_neighbour_packets_total")?.get();
    expect(metric?.values).toEqual([{ labels: { interface: "mesh0", neighbour: keyId({ mac: A, ipv4: "10.0.0.1" }) }, value: 25 }]);
  });
});
