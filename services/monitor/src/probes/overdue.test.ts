import { describe, expect, test } from "bun:test";
import { ConfigError, ProbeOverdue } from "@x0/shared";
import { overdueAfterMs, overdueReport } from "./overdue.ts";

describe("overdue reports", () => {
  test("overdue - unset is 3 hello intervals, off and 0 turn reports off, a number is taken as ms", () => {
    expect(overdueAfterMs(undefined, 100)).toBe(300);
    expect(overdueAfterMs("", 20)).toBe(60);
    expect(overdueAfterMs("off", 100)).toBe(0);
    expect(overdueAfterMs("0", 100)).toBe(0);
    expect(overdueAfterMs("450", 100)).toBe(450);
  });

  test("overdue - less than 2 hello intervals, or not a number, stops the monitor naming the variable", () => {
    for (const bad of ["150", "-5", "2s", "1e3"]) {
      expect(() => overdueAfterMs(bad, 100)).toThrow(ConfigError);
      expect(() => overdueAfterMs(bad, 100)).toThrow(/X0_MONITOR_PROBE_OVERDUE_MS/);
    }
    expect(() => overdueAfterMs("150", 100)).toThrow(/less than 2 hello intervals/);
  });

  test("overdue - a report holds the overdue peers as telemetry would, and fits the contract", () => {
    const report = overdueReport("n1", 1_700_000_000_500, 100, [
      {
        peer: "10.0.0.2:7471",
        host: "10.0.0.2",
        sent: 50,
        received: 47,
        loss: 0.06,
        rttMs: 0.4,
        rttAvgMs: 0.5,
        lastReplyTs: 1_700_000_000_100,
        replyIntervalMeanMs: 101,
        replyIntervalStddevMs: 3,
      },
    ]);
    expect(ProbeOverdue.parse(report)).toEqual(report);
    expect(report.probes[0]).toMatchObject({ peer: "10.0.0.2:7471", last_reply_ts: 1_700_000_000_100, reply_interval_mean_ms: 101, sent: 50 });
  });
});
