import { describe, expect, test } from "bun:test";
import type { ProbeEvent } from "@x0/lab";
import { lastingRestore, restoredAfter } from "./restore.ts";

const outage = (ts: number): ProbeEvent => ({ event: "outage", from: "n1", to: "n16", last_reply_ts: ts - 30, ts });
const restored = (ts: number): ProbeEvent => ({ event: "restored", from: "n1", to: "n16", ts, outage_ms: 50 });

describe("bench restore", () => {
  test("bench restore - the first restoration that lasts the hold time counts, not one followed by a second outage", () => {
    const events = [outage(1030), restored(1200), outage(1400), restored(1500)];
    expect(lastingRestore(events, 1000, 2400)).toEqual({ state: "waiting" });
    expect(lastingRestore(events, 1000, 2500)).toEqual({ state: "restored", ms: 500 });
    expect(lastingRestore([outage(1030), restored(1200)], 1000, 2200)).toEqual({ state: "restored", ms: 200 });
  });

  test("bench restore - events before the fault are ignored; no outage yet is said so", () => {
    expect(lastingRestore([outage(500), restored(600)], 1000, 5000)).toEqual({ state: "no_outage" });
    expect(lastingRestore([outage(1030)], 1000, 5000)).toEqual({ state: "waiting" });
  });

  test("bench restore - polling ends at the lasting restoration, at the timeout, or when no outage came (off the path)", async () => {
    const now = Date.now();
    expect(await restoredAfter([outage(now - 1900), restored(now - 1500)], now - 2000, { timeoutMs: 200 })).toEqual({ repaired: 500, interrupted: true });
    expect(await restoredAfter([outage(now)], now, { timeoutMs: 60, pollMs: 10 })).toEqual({ repaired: null, interrupted: true });
    expect(await restoredAfter([], now - 100, { timeoutMs: 1000, noOutageMs: 50, pollMs: 10 })).toEqual({ repaired: null, interrupted: false });
  });
});
