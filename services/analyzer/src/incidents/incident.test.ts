import { describe, expect, test } from "bun:test";
import { Anomaly, type Evidence } from "@x0/shared";
import { type Detection, Incident, IncidentBook, type IncidentInit } from "./incident.ts";
import { PublishedIncidents } from "./published.ts";

const ID = "00000000-0000-4000-8000-000000000001";
const OTHER = "00000000-0000-4000-8000-000000000002";

function detection(observer: string, onsetAt: number, extra: Partial<Detection> = {}): Detection {
  return {
    observer,
    onsetAt,
    reading: { metric: "phi", observed: 12, mean: 20, stddev: 5, score: Number.POSITIVE_INFINITY, ts: onsetAt + 100.4 },
    evidence: [{ node: observer, interface: `${observer}-x`, metric: "phi", observed: 12, threshold: 8, ts: onsetAt + 100 }],
    ...extra,
  };
}

function incident(overrides: Partial<IncidentInit> = {}): Incident {
  return new Incident({
    id: ID,
    kind: "link_down",
    severity: "critical",
    target: { type: "link", id: "link:n1|n2", nodes: ["n1", "n2"] },
    node: "n1",
    peer: "n2",
    detection: detection("n1", 1000),
    ...overrides,
  });
}

describe("incident", () => {
  test("incident - the opened state is a valid anomaly with the detection's reading, evidence and onset, and infinities made finite", () => {
    const opened = incident().state("opened", 1500);
    expect(Anomaly.parse(opened)).toEqual(opened);
    expect(opened).toMatchObject({
      incident_id: ID,
      state: "opened",
      update: 0,
      node: "n1",
      interface: "*",
      peer: "n2",
      metric: "phi",
      observed: 12,
      baseline_mean: 20,
      baseline_stddev: 5,
      score: 1e9,
      opened_at: 1500,
      ts: 1100,
      onset_at: 1000,
      detected_at: 1500,
    });
    expect(opened.evidence).toHaveLength(1);
    expect(opened).not.toHaveProperty("resolution");
    // An onset later than the decision (node clocks ahead of the analyzer's) is published as the decision time.
    expect(incident({ detection: detection("n1", 9000) }).state("opened", 1500).onset_at).toBe(1500);
  });

  test("incident - a second end is news once; its evidence joins, the earliest onset wins, and later states count up", () => {
    const link = incident();
    link.state("opened", 1500);
    expect(link.absorb(detection("n2", 800))).toBe(true);
    expect(link.absorb(detection("n2", 900))).toBe(false);
    const updated = link.state("updated", 1600);
    expect(updated).toMatchObject({ update: 1, opened_at: 1500, onset_at: 800, detected_at: 1600 });
    // One entry per (node, interface, peer, metric): n2's second observation (at 1000) replaced its first; oldest first.
    expect(updated.evidence?.map((e) => [e.node, e.ts])).toEqual([
      ["n2", 1000],
      ["n1", 1100],
    ]);
    const resolved = link.state("resolved", 1700, { resolution: "merged", merged_into: OTHER });
    expect(Anomaly.parse(resolved)).toMatchObject({ update: 2, resolution: "merged", merged_into: OTHER });
    expect(link.state("resolved", 1800).resolution).toBe("cleared");
  });

  test("incident - evidence folded in from elsewhere keeps the headline reading, and only the newest 32 entries are published", () => {
    const link = incident();
    const many: Evidence[] = Array.from({ length: 40 }, (_, i) => ({ node: "n3", metric: `m${i}`, observed: i, ts: 2000 + i }));
    link.addEvidence(many, 500, ["n3"]);
    expect(link.observers).toEqual(new Set(["n1", "n3"]));
    const state = link.state("opened", 3000);
    expect(state).toMatchObject({ metric: "phi", observed: 12, onset_at: 500 });
    expect(state.evidence).toHaveLength(32);
    expect(state.evidence?.at(-1)?.metric).toBe("m39");
    expect(state.evidence?.map((e) => e.ts)).toEqual([...(state.evidence?.map((e) => e.ts) ?? [])].sort((a, b) => a - b));
  });
});

describe("incident book", () => {
  test("incident book - opened, updated and resolved states come out in order, and nothing about an incident no longer open", () => {
    const book = new IncidentBook(5000);
    const link = book.open(incident(), 1000);
    expect(book.size).toBe(1);
    book.update(link, 1100);
    book.resolve(link, 1200, "cleared");
    book.resolve(link, 1300);
    book.update(link, 1400);
    expect(book.drain().map((s) => [s.state, s.update])).toEqual([
      ["opened", 0],
      ["updated", 1],
      ["resolved", 2],
    ]);
    expect(book.size).toBe(0);
    expect(book.drain()).toEqual([]);
  });

  test("incident book - an incident not reported for updateEveryMs gets a keep-alive update, others do not", () => {
    const book = new IncidentBook(5000);
    const quiet = book.open(incident(), 1000);
    const busy = book.open(incident({ id: OTHER }), 1000);
    book.update(busy, 4000);
    book.drain();
    book.refresh(5999);
    expect(book.drain()).toEqual([]);
    book.refresh(6000);
    expect(book.drain().map((s) => [s.incident_id, s.state])).toEqual([[quiet.id, "updated"]]);
    book.refresh(9000);
    expect(book.drain().map((s) => s.incident_id)).toEqual([busy.id]);
  });

  test("incident book - at a takeover, the previous leader's incident of another kind on the same target is resolved merged into this one's", () => {
    const book = new IncidentBook(5000);
    const degraded = incident({ kind: "link_degraded", severity: "warning" });
    book.open(degraded, 1000);
    book.drain(); // a standby's states are not published
    const last = { ...incident({ id: OTHER }).state("opened", 900), update: 3 };
    const published = new PublishedIncidents();
    published.observe(last, 950);
    book.takeOver(published, 2000, 1000);
    expect(book.drain().map((s) => [s.incident_id, s.state, s.update, s.resolution, s.merged_into])).toEqual([
      [OTHER, "resolved", 4, "merged", ID],
      [ID, "opened", 0, undefined, undefined],
    ]);
  });

  test("incident book - a published incident nobody sees here is resolved once its grace ends, after its last update", () => {
    const book = new IncidentBook(5000);
    const published = new PublishedIncidents();
    published.observe(incident({ id: OTHER }).state("opened", 900), 900);
    published.observe({ ...incident({ id: OTHER }).state("opened", 900), state: "updated", update: 2 }, 950);
    published.observe(incident({ id: OTHER }).state("opened", 900), 960); // an older state arriving late changes nothing
    book.takeOver(published, 1000, 500);
    book.refresh(1499);
    expect(book.drain()).toEqual([]);
    book.refresh(1500);
    const [resolved] = book.drain();
    expect(Anomaly.parse(resolved)).toMatchObject({ incident_id: OTHER, state: "resolved", update: 3, resolution: "cleared", detected_at: 1500 });
    book.refresh(3000);
    expect(book.drain()).toEqual([]);
  });
});
