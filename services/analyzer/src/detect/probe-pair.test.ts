import { describe, expect, test } from "bun:test";
import type { ProbeSample } from "@x0/shared";
import { DEFAULT_ANALYZER_OPTIONS } from "../analyzer.ts";
import { ProbePair } from "./probe-pair.ts";

const probe = (sent: number, received: number, lastReply: number | null): ProbeSample => ({
  peer: "10.200.0.2:7471",
  sent,
  received,
  loss: 0,
  rtt_ms: 0.3,
  rtt_avg_ms: 0.3,
  last_reply_ts: lastReply,
  reply_interval_mean_ms: 20,
  reply_interval_stddev_ms: 0.5,
});
const clock = (ts: number, receivedAt = ts) => ({ node: "n1", ts, intervalMs: 100, receivedAt });
/** Armed by its first sample, so a test can start from one healthy observation. */
const ARMED_AT_ONCE = { ...DEFAULT_ANALYZER_OPTIONS, armSamples: 1 };

describe("probe-pair", () => {
  test("probe-pair - between healthy samples the timer does not suspect: it allows for the telemetry interval", () => {
    const pair = new ProbePair("n1", "10.200.0.2:7471", "n1-n2", DEFAULT_ANALYZER_OPTIONS);
    for (let i = 1; i <= 20; i++) {
      const ts = i * 100;
      pair.observe(clock(ts), probe(i * 5, i * 5, ts - 19));
      // Just before the next sample is due, the last reply known is ~120 ms old: normal.
      expect(pair.tick(ts + 99).down).toBe(false);
    }
  });

  test("probe-pair - a stalled telemetry stream still accrues phi on the timer", () => {
    const pair = new ProbePair("n1", "10.200.0.2:7471", "n1-n2", ARMED_AT_ONCE);
    pair.observe(clock(1000), probe(5, 5, 995));
    expect(pair.tick(1200).down).toBe(false);
    const change = pair.tick(1400);
    expect(change).toEqual({ down: true, degraded: false, changed: true });
    expect(pair.onsetAt).toBe(995);
    expect(pair.verdictEvidence()[0]).toMatchObject({ metric: "phi", threshold: 8, interface: "n1-n2", peer: "10.200.0.2:7471" });
  });

  test("probe-pair - down ends after fresh replies; lossy replies make it degraded instead of healthy", () => {
    const pair = new ProbePair("n1", "10.200.0.2:7471", undefined, ARMED_AT_ONCE);
    pair.observe(clock(1000), probe(50, 50, 995));
    expect(pair.observe(clock(1200), probe(60, 50, 995)).down).toBe(true);
    // Replies again, but only half of them: three fresh samples end `down` and leave the link degraded.
    pair.observe(clock(1300), probe(65, 52, 1290));
    pair.observe(clock(1400), probe(70, 54, 1390));
    const change = pair.observe(clock(1500), probe(75, 57, 1490));
    expect(change).toEqual({ down: false, degraded: true, changed: true });
    expect(pair.verdictReading()).toMatchObject({ metric: "probe_loss", observed: 0.5 });
  });

  test("probe-pair - hellos lost before the peer answered (start-up) are never a fault; judging starts after steady replies", () => {
    const pair = new ProbePair("n1", "10.200.0.2:7471", "n1-n2", DEFAULT_ANALYZER_OPTIONS);
    // The peer's monitor is not up yet: 2 s of hellos, no reply, and the timer running.
    for (let i = 1; i <= 20; i++) {
      expect(pair.observe(clock(i * 100), probe(i * 5, 0, null)).changed).toBe(false);
      expect(pair.tick(i * 100 + 90).down).toBe(false);
    }
    // Then it answers: the pair arms after armSamples fresh samples, with an empty loss window.
    let received = 0;
    for (let i = 21; i <= 21 + DEFAULT_ANALYZER_OPTIONS.armSamples + 15; i++) {
      received += 5;
      const change = pair.observe(clock(i * 100), probe(i * 5, received, i * 100 - 5));
      expect(change.down || change.degraded).toBe(false);
    }
    // Armed: silence is now a fault.
    const last = (22 + DEFAULT_ANALYZER_OPTIONS.armSamples + 15) * 100;
    expect(pair.tick(last + 300).down).toBe(true);
  });

  test("probe-pair - an overdue report turns a silent pair down at once, without the next sample or the telemetry lag", () => {
    // Telemetry every second: between samples the timer allows one reply interval plus one telemetry interval.
    const slow = (ts: number) => ({ node: "n1", ts, intervalMs: 1000, receivedAt: ts });
    const pair = new ProbePair("n1", "10.200.0.2:7471", "n1-n2", ARMED_AT_ONCE);
    pair.observe(slow(1000), probe(50, 50, 995));
    pair.observe(slow(2000), probe(100, 100, 1995));
    // Replies every 20 ms stop after 1995. 150 ms later the timer is nowhere near suspicion ...
    expect(pair.tick(2150).down).toBe(false);
    // ... but the monitor's report at 2150 judges the silence as it is: 155 ms against replies every 20 ms.
    expect(pair.overdue(2150, probe(107, 100, 1995))).toEqual({ down: true, degraded: false, changed: true });
    expect(pair.onsetAt).toBe(1995);
    // Expected: the 20 ms reply interval with no telemetry lag added (the timer would have used 1020 ms).
    expect(pair.verdictReading()).toMatchObject({ metric: "phi", mean: 20, score: (2150 - 1995 - 20) / 20 });
    expect(pair.verdictEvidence()[0]).toMatchObject({ metric: "phi", ts: 2150 });
    // The next regular sample keeps it down, and fresh replies end it as always.
    expect(pair.observe(slow(3000), probe(150, 100, 1995)).down).toBe(true);
  });

  test("probe-pair - an overdue report within phi's tolerance, stale, for an unarmed or degraded pair changes nothing", () => {
    const pair = new ProbePair("n1", "10.200.0.2:7471", "n1-n2", ARMED_AT_ONCE);
    // Not armed yet: no judgement at all.
    expect(pair.overdue(1000, probe(50, 50, 500)).changed).toBe(false);
    pair.observe(clock(1000), probe(50, 50, 995));
    pair.observe(clock(1100), probe(55, 55, 1095));
    // 40 ms of silence against 20 ms ± 5 (the ratio floor) is well within phi's tolerance.
    expect(pair.overdue(1135, probe(57, 55, 1095)).down).toBe(false);
    // A report older than what the samples already told (a reply since then) is stale.
    expect(pair.overdue(2000, probe(57, 55, 1000)).down).toBe(false);
    expect(pair.down).toBe(false);
    // Degraded links have long gaps by nature: reports leave them to the samples.
    const lossy = new ProbePair("n1", "10.200.0.2:7471", "n1-n2", ARMED_AT_ONCE);
    lossy.degraded = true;
    lossy.observe(clock(1000), probe(50, 50, 995));
    expect(lossy.overdue(1500, probe(75, 50, 995)).down).toBe(false);
  });
});
