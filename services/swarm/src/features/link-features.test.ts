import { describe, expect, test } from "bun:test";
import type { Telemetry } from "@x0/shared";
import { FEATURE_COUNT, LINK_FEATURES, observationsOf, type PairObservation, PairWindow } from "./link-features.ts";

const feature = (values: Float32Array, name: (typeof LINK_FEATURES)[number]) => values[LINK_FEATURES.indexOf(name)] as number;

function healthy(ts: number, sent: number): PairObservation {
  return {
    ts,
    loss: 0,
    sent,
    received: sent,
    rttMs: 2,
    lastReplyTs: ts - 20,
    replyIntervalMeanMs: 100,
    replyIntervalStddevMs: 5,
    rxPacketsPerS: 50,
    tq: 250,
  };
}

describe("link features", () => {
  test("link-features - a healthy pair reads quiet: no loss, no silence, no misses, RTT and rate at their baselines", () => {
    const window = new PairWindow();
    let features: Float32Array = new Float32Array(FEATURE_COUNT);
    for (let i = 1; i <= 20; i++) features = window.observe(healthy(i * 1000, i * 10));
    expect(features).toHaveLength(FEATURE_COUNT);
    expect(feature(features, "loss")).toBe(0);
    expect(feature(features, "loss_max")).toBe(0);
    expect(feature(features, "silence")).toBeCloseTo(Math.tanh(20 / 400), 5);
    expect(feature(features, "misses")).toBe(0);
    expect(feature(features, "rtt_ratio")).toBeCloseTo(0, 5);
    expect(feature(features, "rx_change")).toBeCloseTo(0, 5);
    expect(feature(features, "jitter")).toBeCloseTo(Math.tanh(0.05), 5);
    expect(feature(features, "tq")).toBeCloseTo(250 / 255, 5);
    expect(feature(features, "tq_known")).toBe(1);
  });

  test("link-features - a cut shows as silence and misses, loss stays in the window's maximum, the baselines do not learn it", () => {
    const window = new PairWindow();
    for (let i = 1; i <= 20; i++) window.observe(healthy(i * 1000, i * 10));
    // Cut at 20 s: replies stop, 10 hellos a second go unanswered, frames from the peer stop.
    let cut: Float32Array = new Float32Array();
    for (let i = 21; i <= 23; i++)
      cut = window.observe({
        ...healthy(i * 1000, i * 10),
        received: 200,
        loss: Math.min(1, (i - 20) / 3),
        lastReplyTs: 20_000 - 20,
        rttMs: null,
        rxPacketsPerS: 0,
      });
    expect(feature(cut, "silence")).toBeCloseTo(Math.tanh(3020 / 400), 5);
    expect(feature(cut, "misses")).toBeCloseTo(Math.tanh(30 / 5), 5);
    // log(1 / 51) is below the clip at -2: the strongest drop the feature shows.
    expect(feature(cut, "rx_change")).toBe(-1);
    // Back: the loss window still remembers the cut, RTT is measured against the healthy baseline (2 ms).
    const back = window.observe({ ...healthy(24_000, 240), received: 201, loss: 0.5, rttMs: 4 });
    expect(feature(back, "misses")).toBe(0);
    expect(feature(back, "loss_max")).toBe(1);
    expect(feature(back, "rtt_ratio")).toBeCloseTo(Math.log(2) / 2, 4);
  });

  test("link-features - telemetry joins each probe with the XDP neighbour of its address and its TQ", () => {
    const telemetry = {
      v: 1,
      node: "n1",
      ts: 5000,
      seq: 3,
      interval_ms: 1000,
      source: "ebpf",
      ebpf: true,
      interfaces: [
        {
          name: "veth1",
          operstate: "up",
          counters: {},
          neighbours: [
            { mac: "02:00:00:00:00:02", ipv4: "10.0.0.2", packets_per_s: 40, tq: 200 },
            { mac: "02:00:00:00:00:03", ipv4: null, packets_per_s: 7 },
          ],
        },
      ],
      probes: [
        { peer: "10.0.0.2:7946", sent: 50, received: 48, loss: 0.04, rtt_ms: 1.5, rtt_avg_ms: 1.4, last_reply_ts: 4990 },
        { peer: "10.0.0.9:7946", sent: 50, received: 0, loss: 1, rtt_ms: null, rtt_avg_ms: null, last_reply_ts: null },
      ],
    } as unknown as Telemetry;
    const observations = observationsOf(telemetry);
    expect(observations.get("10.0.0.2")).toMatchObject({ ts: 5000, loss: 0.04, rttMs: 1.5, lastReplyTs: 4990, rxPacketsPerS: 40, tq: 200 });
    const silent = observations.get("10.0.0.9");
    expect(silent?.rxPacketsPerS).toBeUndefined();
    expect(feature(new PairWindow().observe(silent as PairObservation), "silence")).toBe(1);
  });
});
