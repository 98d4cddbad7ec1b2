import { describe, expect, test } from "bun:test";
import type { BatmanSample } from "@x0/shared";
import { BatmanLink, type BatmanLinkOptions, type NeighbourRead, oneHopNeighbours, readsFingerprint, TQ_RAMP_MS } from "./batman-link.ts";

// n2's tables in the recorded 4-node lab (fixtures/batctl/real-4node.txt, `oj` and `nj` as the monitor parses them).
const n2: BatmanSample = {
  mesh_interface: "bat0",
  originators: [
    { originator: "1e:a9:2d:ea:81:f5", next_hop: "1e:a9:2d:ea:81:f5", interface: "v21", tq: 147, last_seen_ms: 296, best: true },
    { originator: "c2:2d:43:4d:db:f3", next_hop: "c2:2d:43:4d:db:f3", interface: "v24", tq: 110, last_seen_ms: 776, best: true },
    { originator: "2a:36:58:d8:91:4f", next_hop: "c2:2d:43:4d:db:f3", interface: "v24", tq: 51, last_seen_ms: 376, best: false },
    { originator: "2a:36:58:d8:91:4f", next_hop: "2a:36:58:d8:91:4f", interface: "v23", tq: 133, last_seen_ms: 376, best: true },
    { originator: "c2:73:38:cf:1a:fe", next_hop: "c2:2d:43:4d:db:f3", interface: "v24", tq: 110, last_seen_ms: 60, best: true },
    { originator: "c2:73:38:cf:1a:fe", next_hop: "2a:36:58:d8:91:4f", interface: "v23", tq: 63, last_seen_ms: 60, best: false },
  ],
  neighbours: [
    { neighbour: "1e:a9:2d:ea:81:f5", interface: "v21", last_seen_ms: 928 },
    { neighbour: "2a:36:58:d8:91:4f", interface: "v23", last_seen_ms: 96 },
    { neighbour: "c2:2d:43:4d:db:f3", interface: "v24", last_seen_ms: 384 },
  ],
};

const OPTIONS: BatmanLinkOptions = { batmanLastSeenMs: 3500, batmanTqDrop: 0.3, batmanTqFloor: 64, batmanTqSamples: 3, resolveAfter: 3 };
const MAC = "1e:a9:2d:ea:81:f5";
const read = (lastSeenMs: number, tq?: number): NeighbourRead => ({ interface: "v21", mac: MAC, lastSeenMs, ...(tq === undefined ? {} : { tq }) });

/** A link fed one read a second from `start` (node clock, telemetry every 100 ms). */
function feeder(link: BatmanLink, start = 1_000_000) {
  let ts = start;
  return {
    get ts() {
      return ts;
    },
    feed(entry: NeighbourRead | undefined): boolean {
      ts += 1000;
      return link.observe({ ts, intervalMs: 100 }, entry);
    },
  };
}

/** A link whose TQ baseline is 50 reads of `tq`, fed one normal read of it. */
function learnt(tq: number) {
  const link = new BatmanLink("n2", "v21", MAC, OPTIONS, Array(50).fill(tq));
  const clock = feeder(link);
  clock.feed(read(300, tq));
  return { link, clock };
}

describe("batman-link", () => {
  test("batman-link - one-hop neighbours carry the TQ of their own originator entry, not of routes through them", () => {
    const reads = oneHopNeighbours(n2);
    expect([...reads.values()]).toEqual([
      { interface: "v21", mac: "1e:a9:2d:ea:81:f5", lastSeenMs: 928, tq: 147 },
      { interface: "v23", mac: "2a:36:58:d8:91:4f", lastSeenMs: 96, tq: 133 },
      { interface: "v24", mac: "c2:2d:43:4d:db:f3", lastSeenMs: 384, tq: 110 },
    ]);
    // The same read repeated is the same fingerprint; a new batctl run (ages moved) is another.
    expect(readsFingerprint(oneHopNeighbours(structuredClone(n2)))).toBe(readsFingerprint(reads));
    const later = structuredClone(n2);
    (later.neighbours[0] as { last_seen_ms: number }).last_seen_ms = 12;
    expect(readsFingerprint(oneHopNeighbours(later))).not.toBe(readsFingerprint(reads));
  });

  test("batman-link - last-seen over the threshold is down from the last OGM heard; recovery needs three fresh reads", () => {
    const link = new BatmanLink("n2", "v21", MAC, OPTIONS);
    const clock = feeder(link);
    for (const age of [300, 900, 400]) expect(clock.feed(read(age))).toBe(false);
    for (const age of [1300, 2300, 3300]) expect(clock.feed(read(age))).toBe(false);
    expect(clock.feed(read(4300))).toBe(true);
    expect(link.status()).toBe("down");
    // Heard 4300 ms before the read's sample, which came at most one telemetry interval after batctl ran.
    expect(link.onsetAt).toBe(clock.ts - 4300 - 100);
    expect(link.verdictReading()).toMatchObject({ metric: "batman_last_seen_ms", observed: 4300, mean: 3500 });
    expect(link.verdictEvidence()).toEqual([
      { node: "n2", interface: "v21", peer: MAC, metric: "batman_last_seen_ms", observed: 4300, threshold: 3500, ts: clock.ts },
    ]);
    // Hysteresis: fresh means within half the threshold, in reads in a row; one older read starts over.
    expect(clock.feed(read(200))).toBe(false);
    expect(clock.feed(read(300))).toBe(false);
    expect(clock.feed(read(2000))).toBe(false);
    expect(clock.feed(read(100))).toBe(false);
    expect(clock.feed(read(200))).toBe(false);
    expect(clock.feed(read(300))).toBe(true);
    expect(link.status()).toBe("ok");
  });

  test("batman-link - a neighbour that vanishes keeps ageing from when it was last heard", () => {
    const link = new BatmanLink("n2", "v21", MAC, OPTIONS);
    const clock = feeder(link);
    clock.feed(read(500));
    const heardAt = clock.ts - 500;
    expect(clock.feed(undefined)).toBe(false);
    expect(clock.feed(undefined)).toBe(false);
    expect(clock.feed(undefined)).toBe(false);
    expect(clock.feed(undefined)).toBe(true);
    expect(link.onsetAt).toBe(heardAt - 100);
    expect(link.verdictReading()).toMatchObject({ metric: "batman_neighbour_present", observed: 0 });
    expect(link.verdictEvidence().map((e) => [e.metric, e.observed])).toEqual([
      ["batman_last_seen_ms", clock.ts - heardAt],
      ["batman_neighbour_present", 0],
    ]);
    // A neighbour never listed, or listed only before a withdrawal, is not missed.
    const fresh = new BatmanLink("n2", "v21", MAC, OPTIONS);
    expect(feeder(fresh).feed(undefined)).toBe(false);
    expect(link.withdraw()).toBe(true);
    for (let i = 0; i < 10; i++) expect(clock.feed(undefined)).toBe(false);
    expect(link.status()).toBe("ok");
  });

  test("batman-link - TQ is not judged while it ramps up, nor without a baseline", () => {
    const link = new BatmanLink("n2", "v21", MAC, OPTIONS);
    const clock = feeder(link);
    // A fresh link's TQ climbs from nothing for a minute; nothing is learnt or judged meanwhile.
    for (let i = 0; i < 60; i++) clock.feed(read(300, 4 * i));
    expect(link.tq.count).toBe(0);
    for (let i = 0; i < 30; i++) clock.feed(read(300, 250));
    expect(link.tq.count).toBeGreaterThan(20);
    expect(link.status()).toBe("ok");
  });

  test("batman-link - a TQ drop of over 30 % for three reads is degraded, with TQ and baseline; clearing needs it back within 15 %", () => {
    const link = new BatmanLink("n2", "v21", MAC, OPTIONS, Array(50).fill(250));
    const clock = feeder(link);
    expect(clock.feed(read(300, 250))).toBe(false);
    expect(clock.feed(read(300, 150))).toBe(false);
    expect(clock.feed(read(300, 150))).toBe(false);
    const lastNormal = clock.ts - 2000;
    expect(clock.feed(read(300, 150))).toBe(true);
    expect(link.status()).toBe("degraded");
    expect(link.onsetAt).toBe(lastNormal);
    expect(link.verdictReading()).toMatchObject({ metric: "batman_tq", observed: 150, mean: 250 });
    expect(link.verdictEvidence()).toEqual([
      { node: "n2", interface: "v21", peer: MAC, metric: "batman_tq", observed: 150, threshold: 175, ts: clock.ts },
      { node: "n2", interface: "v21", peer: MAC, metric: "batman_tq_baseline", observed: 250, threshold: 175, ts: clock.ts },
    ]);
    // Above the breach line but more than 15 % under the baseline: still degraded, and not learnt.
    for (let i = 0; i < 5; i++) expect(clock.feed(read(300, 200))).toBe(false);
    expect(link.tq.stats().median).toBe(250);
    expect(clock.feed(read(300, 240))).toBe(false);
    expect(clock.feed(read(300, 240))).toBe(false);
    expect(clock.feed(read(300, 240))).toBe(true);
    expect(link.status()).toBe("ok");
  });

  test("batman-link - the absolute floor applies only to links whose baseline is above it", () => {
    const { link: above, clock: a } = learnt(80);
    // 60 is a 25 % drop (under 30 %) but below the floor of 64.
    for (let i = 0; i < 3; i++) a.feed(read(300, 60));
    expect(above.status()).toBe("degraded");
    const { link: below, clock: b } = learnt(50);
    for (let i = 0; i < 10; i++) b.feed(read(300, 40));
    expect(below.status()).toBe("ok");
  });

  test("batman-link - a neighbour back from the dead is judged on TQ once its TQ is back near its baseline, or after the ramp", () => {
    const { link, clock } = learnt(250);
    clock.feed(read(5000, 250));
    expect(link.status()).toBe("down");
    // batman-adv relearns the link: low TQ, rising, is not a degradation...
    for (let i = 0; i < 30; i++) clock.feed(read(300, 20 + 7 * i));
    expect(link.status()).toBe("ok");
    // ...and once back near the baseline, a new drop is.
    for (let i = 0; i < 3; i++) clock.feed(read(300, 100));
    expect(link.status()).toBe("degraded");

    // A link that comes back lossy and stays low is judged once the ramp is over.
    const { link: lossy, clock: l } = learnt(250);
    l.feed(read(5000, 250));
    // Back at the third fresh read, but at 100 for good: judged from 64 reads after that, degraded two reads later.
    const back = 2 + TQ_RAMP_MS / 1000 + 2;
    for (let i = 0; i < back; i++) l.feed(read(300, 100));
    expect(lossy.status()).toBe("ok");
    l.feed(read(300, 100));
    expect(lossy.status()).toBe("degraded");
  });

  test("batman-link - down dominates degraded, and ends it", () => {
    const { link, clock } = learnt(250);
    for (let i = 0; i < 3; i++) clock.feed(read(300, 100));
    expect(link.status()).toBe("degraded");
    clock.feed(read(3600, 100));
    expect(link.status()).toBe("down");
    expect(link.degraded).toBe(false);
    expect(link.verdictEvidence().map((e) => e.metric)).toEqual(["batman_last_seen_ms"]);
  });
});
