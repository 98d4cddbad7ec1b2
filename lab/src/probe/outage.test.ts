import { describe, expect, test } from "bun:test";
import { OutageTracker } from "./outage.ts";

describe("lab outage", () => {
  test("lab outage - three silent intervals make an outage; the first reply restores it with its length", () => {
    const tracker = new OutageTracker({ from: "n1", to: "n9", intervalMs: 10, startedAt: 1000 });
    tracker.sent();
    expect(tracker.reply(1001, 0.5)).toBeUndefined();
    expect(tracker.tick(1030)).toBeUndefined();
    expect(tracker.tick(1031)).toEqual({ event: "outage", from: "n1", to: "n9", last_reply_ts: 1001, ts: 1031 });
    expect(tracker.tick(1100)).toBeUndefined();
    expect(tracker.reply(1250, 1.5)).toEqual({ event: "restored", from: "n1", to: "n9", ts: 1250, outage_ms: 249 });
    tracker.sent();
    tracker.sent();
    tracker.sent();
    expect(tracker.summary(1300)).toEqual({
      event: "summary",
      from: "n1",
      to: "n9",
      ts: 1300,
      sent: 4,
      received: 2,
      loss: 0.5,
      rtt_avg_ms: 1,
      rtt_max_ms: 1.5,
      outages: 1,
      outage_ms_total: 249,
      in_outage: false,
    });
  });

  test("lab outage - no reply since the start is an outage with last_reply_ts null", () => {
    const tracker = new OutageTracker({ from: "n1", to: "n2", intervalMs: 10, startedAt: 0, missedIntervals: 5 });
    expect(tracker.tick(49)).toBeUndefined();
    expect(tracker.tick(50)).toMatchObject({ event: "outage", last_reply_ts: null });
    expect(tracker.summary(60)).toMatchObject({ sent: 0, loss: 0, rtt_avg_ms: null, in_outage: true });
    expect(tracker.reply(70, 1)).toMatchObject({ event: "restored", outage_ms: 70 });
  });
});
