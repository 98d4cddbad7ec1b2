import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Telemetry } from "@x0/shared";
import { neighbourFixture } from "@x0/shared/testing";
import { evaluate } from "../model/evaluate.ts";
import { Mlp, seededRandom, train } from "../model/mlp.ts";
import { RecordingError, type RecordingMeta, readRecording, samplesOf } from "./dataset.ts";
import { FEATURE_COUNT } from "./link-features.ts";

const root = mkdtempSync(join(tmpdir(), "x0-swarm-dataset-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const HELLO_MS = 20;
const SAMPLE_MS = 100;
const zeroCounters = { rx_bytes: 0, tx_bytes: 0, rx_packets: 0, tx_packets: 0, rx_errors: 0, tx_errors: 0, rx_dropped: 0, tx_dropped: 0 };

/**
 * n1's telemetry from a simulated prober: hellos every 20 ms to n2 and n3, each answered unless its link is cut or a
 * loss fault drops it, a loss window of the last 50 hellos, and the frames per second the XDP counters would see.
 */
function simulate(meta: RecordingMeta, seed: number): Telemetry[] {
  const random = seededRandom(seed);
  const peers = [
    { address: "10.0.0.2", node: "n2", sent: 0, received: 0, lastReply: null as number | null, history: [] as boolean[] },
    { address: "10.0.0.3", node: "n3", sent: 0, received: 0, lastReply: null as number | null, history: [] as boolean[] },
  ];
  const messages: Telemetry[] = [];
  for (let ts = meta.started_at; ts < meta.ended_at; ts += SAMPLE_MS) {
    const probes = peers.map((peer) => {
      let answered = 0;
      for (let t = ts - SAMPLE_MS + HELLO_MS; t <= ts; t += HELLO_MS) {
        const faults = meta.faults.filter((f) => f.kind !== "node-down" && f.link.includes(peer.node) && t >= f.start && t < f.end);
        const cut = faults.some((f) => f.kind === "cut");
        const loss = faults.reduce((p, f) => (f.kind === "loss" ? Math.max(p, f.loss) : p), 0);
        const ok = !cut && random() >= loss;
        peer.sent++;
        peer.history.push(ok);
        if (peer.history.length > 50) peer.history.shift();
        if (ok) {
          peer.received++;
          answered++;
          peer.lastReply = t;
        }
      }
      const loss = peer.history.filter((ok) => !ok).length / peer.history.length;
      return {
        probe: {
          peer: `${peer.address}:7946`,
          sent: peer.sent,
          received: peer.received,
          loss,
          rtt_ms: answered > 0 ? 1 + random() * 0.2 : null,
          rtt_avg_ms: answered > 0 ? 1.1 : null,
          last_reply_ts: peer.lastReply,
          reply_interval_mean_ms: HELLO_MS / Math.max(0.05, 1 - loss),
          reply_interval_stddev_ms: 2 + 20 * loss,
        },
        neighbour: { address: peer.address, rate: answered * 10 + random() * 5 },
      };
    });
    messages.push(
      Telemetry.parse({
        v: 1,
        node: "n1",
        ts,
        seq: messages.length,
        interval_ms: SAMPLE_MS,
        source: "ebpf",
        ebpf: true,
        interfaces: [
          {
            name: "n1-n2",
            operstate: "up",
            counters: zeroCounters,
            neighbours: probes.map(({ neighbour }, i) => neighbourFixture(`02:00:00:00:00:0${i + 2}`, neighbour.address, neighbour.rate, { last_seen_ts: ts })),
          },
        ],
        probes: probes.map(({ probe }) => probe),
      }),
    );
  }
  return messages;
}

function recording(name: string, seed: number, faults: RecordingMeta["faults"]): string {
  const meta: RecordingMeta = {
    v: 1,
    topology: "line:3",
    started_at: 1_000_000,
    ended_at: 1_000_000 + 120_000,
    hello_interval_ms: HELLO_MS,
    nodes: ["n1"],
    addresses: { "10.0.0.2": "n2", "10.0.0.3": "n3" },
    faults,
  };
  const dir = join(root, name);
  mkdirSync(join(dir, "telemetry"), { recursive: true });
  writeFileSync(join(dir, "recording.json"), JSON.stringify(meta));
  writeFileSync(
    join(dir, "telemetry", "n1.jsonl"),
    `${simulate(meta, seed)
      .map((m) => JSON.stringify(m))
      .join("\n")}\n`,
  );
  return dir;
}

/** Cuts and lossy spells on both links, 5–10 s each, with quiet time between. */
function faultsFrom(offset: number): RecordingMeta["faults"] {
  const at = (s: number) => 1_000_000 + (s + offset) * 1000;
  return [
    { kind: "cut", link: ["n1", "n2"], start: at(10), end: at(15) },
    { kind: "loss", link: ["n1", "n3"], loss: 0.3, start: at(25), end: at(35) },
    { kind: "cut", link: ["n3", "n1"], start: at(45), end: at(50) },
    { kind: "loss", link: ["n2", "n1"], loss: 0.2, start: at(60), end: at(70) },
    { kind: "cut", link: ["n1", "n2"], start: at(80), end: at(86) },
    { kind: "loss", link: ["n1", "n3"], loss: 0.4, start: at(95), end: at(105) },
  ];
}

describe("dataset", () => {
  test("dataset - a recording becomes the node's labelled samples: one per probed peer and sample, settling time left out", () => {
    const { meta, telemetry } = readRecording(recording("one", 1, faultsFrom(0)));
    const samples = samplesOf(meta, "n1", telemetry.get("n1") ?? []);
    expect(samples.every((sample) => sample.x.length === FEATURE_COUNT)).toBe(true);
    const counts = [0, 1, 2].map((y) => samples.filter((sample) => sample.y === y).length);
    // 1,200 samples of two peers, less 2 s of settling after each of the six faults (20 samples each).
    expect(counts.reduce((a, b) => a + b, 0)).toBe(2 * 1200 - 6 * 20);
    expect(counts[2]).toBe(10 * (5 + 5 + 6));
    expect(counts[1]).toBe(10 * (10 + 10 + 10));
  });

  test("dataset - on simulated recordings, a model trained on one classifies another: cuts as down, lossy spells as degraded", () => {
    const trainOn = readRecording(recording("train", 2, faultsFrom(0)));
    const testOn = readRecording(recording("test", 3, faultsFrom(3)));
    const samples = samplesOf(trainOn.meta, "n1", trainOn.telemetry.get("n1") ?? []);
    const model = Mlp.init({ inputs: FEATURE_COUNT, hidden: [16], outputs: 3 }, seededRandom(4));
    // Rare classes weigh more: about 1,900 healthy samples for 160 down ones.
    train(model, samples, { epochs: 40, learningRate: 0.3, batchSize: 32, random: seededRandom(5), classWeights: [1, 3, 6] });
    const result = evaluate(model, samplesOf(testOn.meta, "n1", testOn.telemetry.get("n1") ?? []));
    expect(result.classes[2]?.recall).toBeGreaterThan(0.9);
    expect(result.classes[0]?.precision).toBeGreaterThan(0.95);
    expect(result.macroF1).toBeGreaterThan(0.8);
  });

  test("dataset - a missing file or an invalid telemetry line is refused, naming the file and line", () => {
    const dir = recording("broken", 1, []);
    writeFileSync(join(dir, "telemetry", "n1.jsonl"), `${JSON.stringify({ v: 1, node: "n1" })}\n`);
    expect(() => readRecording(dir)).toThrow(/n1\.jsonl:1 is not valid telemetry/);
    expect(() => readRecording(join(root, "nothing"))).toThrow(RecordingError);
  });
});
