import { describe, expect, test } from "bun:test";
import type { Telemetry } from "@x0/shared";
import { Detector } from "./detector.ts";

const zero = { rx_bytes: 0, tx_bytes: 0, rx_packets: 0, tx_packets: 0, rx_errors: 0, tx_errors: 0, rx_dropped: 0, tx_dropped: 0 };

/** Builds a telemetry stream for one interface whose rx_bytes grow by `rates[i]` per 1 s sample. */
function stream(rates: number[], { node = "n1", operstates }: { node?: string; operstates?: string[] } = {}): Telemetry[] {
  let rxBytes = 0;
  return [0, ...rates].map((rate, i) => {
    rxBytes += rate;
    return {
      v: 1,
      node,
      ts: 1_000_000 + i * 1000,
      seq: i,
      interval_ms: 1000,
      source: "sysfs",
      ebpf: false,
      interfaces: [{ name: "eth0", operstate: (operstates?.[i] ?? "up") as "up", counters: { ...zero, rx_bytes: rxBytes } }],
    };
  });
}

let counter = 0;
const ids = () => `00000000-0000-4000-8000-${String(++counter).padStart(12, "0")}`;

describe("detector", () => {
  test("detector - a steady series raises nothing", () => {
    const detector = new Detector({ newId: ids, warmupSamples: 10 });
    const out = stream(Array(100).fill(1000)).flatMap((sample) => detector.ingest(sample));
    expect(out).toEqual([]);
  });

  test("detector - a spike opens one traffic_spike incident, updates it, and resolves it", () => {
    const detector = new Detector({ newId: ids, warmupSamples: 10, updateEveryMs: 2000, resolveAfter: 3 });
    const rates = [...Array(20).fill(1000), ...Array(5).fill(50_000), ...Array(5).fill(1000)];
    const out = stream(rates).flatMap((sample) => detector.ingest(sample));
    expect(out.map((a) => a.state)).toEqual(["opened", "updated", "updated", "resolved"]);
    expect(new Set(out.map((a) => a.incident_id)).size).toBe(1);
    expect(out.map((a) => a.update)).toEqual([0, 1, 2, 3]);
    const [opened] = out;
    expect(opened?.kind).toBe("traffic_spike");
    expect(opened?.metric).toBe("rx_bytes_per_s");
    expect(opened?.observed).toBe(50_000);
    expect(opened?.baseline_mean).toBeCloseTo(1000, 5);
    expect(opened?.score).toBeGreaterThan(6);
    expect(detector.openIncidents).toBe(0);
  });

  test("detector - nothing breaches during warm-up", () => {
    const detector = new Detector({ newId: ids, warmupSamples: 10 });
    const out = stream([1000, 1000, 90_000, 1000]).flatMap((sample) => detector.ingest(sample));
    expect(out).toEqual([]);
  });

  test("detector - the baseline is frozen while an incident is open", () => {
    const detector = new Detector({ newId: ids, warmupSamples: 10, resolveAfter: 2 });
    const rates = [...Array(20).fill(1000), ...Array(200).fill(50_000)];
    const out = stream(rates).flatMap((sample) => detector.ingest(sample));
    expect(out[0]?.state).toBe("opened");
    expect(out.some((a) => a.state === "resolved")).toBe(false);
    expect(detector.snapshot().n1?.eth0?.rx_bytes?.mean).toBeCloseTo(1000, 5);
  });

  test("detector - operstate up to down opens link_down, back up resolves it", () => {
    const detector = new Detector({ newId: ids, warmupSamples: 10 });
    const out = stream([10, 10, 10, 10], { operstates: ["up", "up", "down", "down", "up"] }).flatMap((sample) => detector.ingest(sample));
    expect(out.map((a) => [a.kind, a.state, a.update])).toEqual([
      ["link_down", "opened", 0],
      ["link_down", "resolved", 1],
    ]);
    expect(out[0]?.severity).toBe("critical");
  });

  test("detector - a silent node becomes unreachable once, and resolves when it speaks", () => {
    const detector = new Detector({ newId: ids, warmupSamples: 10, silenceIntervals: 3 });
    const samples = stream([10, 10]);
    for (const sample of samples.slice(0, 2)) detector.ingest(sample);
    const last = samples[1]?.ts ?? 0;
    expect(detector.checkSilence(last + 2000)).toEqual([]);
    const opened = detector.checkSilence(last + 3000);
    expect(opened.map((a) => [a.kind, a.state])).toEqual([["node_unreachable", "opened"]]);
    expect(detector.checkSilence(last + 9000)).toEqual([]);
    const back = detector.ingest({ ...(samples[2] as Telemetry), ts: last + 10_000 });
    expect(back.map((a) => [a.kind, a.state, a.incident_id])).toEqual([["node_unreachable", "resolved", opened[0]?.incident_id as string]]);
  });

  test("detector - a counter reset gives no rate and no false alarm", () => {
    const detector = new Detector({ newId: ids, warmupSamples: 10 });
    const samples = stream(Array(30).fill(1000));
    // The interface is re-created before sample 25: its counters start again from a small value.
    const reset = samples.map((sample, i) =>
      i < 25
        ? sample
        : { ...sample, interfaces: sample.interfaces.map((iface) => ({ ...iface, counters: { ...iface.counters, rx_bytes: (i - 25) * 1000 + 5 } })) },
    );
    const out = reset.flatMap((sample) => detector.ingest(sample));
    expect(out).toEqual([]);
  });

  test("detector - baselines restored from a snapshot detect without a new warm-up", () => {
    const first = new Detector({ newId: ids, warmupSamples: 10 });
    for (const sample of stream(Array(20).fill(1000))) first.ingest(sample);
    const second = new Detector({ newId: ids, warmupSamples: 10 });
    second.restore(JSON.parse(JSON.stringify(first.snapshot())));
    const out = stream([1000, 80_000]).flatMap((sample) => second.ingest(sample));
    expect(out.map((a) => a.state)).toEqual(["opened"]);
    expect(out[0]?.baseline_mean).toBeCloseTo(1000, 5);
  });

  test("detector - restored nodes are not called unreachable before they speak again", () => {
    const first = new Detector({ newId: ids, warmupSamples: 10 });
    for (const sample of stream([1000, 1000])) first.ingest(sample);
    const second = new Detector({ newId: ids, warmupSamples: 10 });
    second.restore(first.snapshot());
    expect(second.checkSilence(Date.now() + 3_600_000)).toEqual([]);
  });
});
