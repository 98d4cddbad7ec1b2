import { describe, expect, test } from "bun:test";
import type { ActionResult, Anomaly, Plan, RagCase } from "@x0/shared";
import { incidentEvents } from "@x0/shared/testing";
import { CaseStore } from "./case-store.ts";
import { CaseBook, type CaseEvent } from "./casebook.ts";

/** The generated events of one incident as stream events, numbered from `from`. */
function eventsOf(incident: Parameters<typeof incidentEvents>[0], from = 1): CaseEvent[] {
  return incidentEvents(incident).map(({ subject, message }, i) => {
    const type = subject.startsWith("x0.anomaly") ? "anomaly" : subject.startsWith("x0.plan") ? "plan" : "result";
    return { type, seq: from + i, message } as CaseEvent;
  });
}

describe("case book", () => {
  test("casebook - an incident becomes one case: states, plan, result and timings; it is ready to index only once resolved", () => {
    const book = new CaseBook(new CaseStore(":memory:"));
    const events = eventsOf({ kind: "link_down", link: ["n6", "n3"], alternative: "reroute-around", outcome: "verified", at: 1_000_000 });
    const applied = events.map((event) => book.apply(event));
    expect(applied.map((a) => a?.index)).toEqual([false, false, false, true]);
    const item = applied.at(-1)?.case;
    expect(item).toMatchObject({
      kind: "link_down",
      target: { id: "link:n3|n6", nodes: ["n3", "n6"] },
      states: 2,
      outcome: "verified",
      alternative: "reroute-around",
      mttd_ms: 40,
      mttr_ms: 190,
      resolution: "cleared",
      flags: [],
      first_seq: 1,
      last_seq: 4,
    });
    expect(item?.plans[0]?.actions).toEqual(["route_replace", "route_replace"]);
    expect([...book.store.all()]).toHaveLength(1);
  });

  test("casebook - a rolled-back repair is the outcome, with no repair time; a later verified one replaces it", () => {
    const book = new CaseBook(new CaseStore(":memory:"));
    const [opened, plan, rolledBack] = eventsOf({ kind: "link_degraded", link: ["n1", "n2"], alternative: "raise-cost", outcome: "rolled_back", at: 0 });
    for (const event of [opened, plan, rolledBack] as CaseEvent[]) book.apply(event);
    const id = (opened as CaseEvent).message.incident_id;
    expect(book.get(id)).toMatchObject({ outcome: "rolled_back", mttr_ms: null });
    const second = { ...(plan as { message: Plan }).message, plan_id: crypto.randomUUID(), rule: "link_degraded/reroute-around" };
    second.alternatives = [{ name: "reroute-around", chosen: true, score: 0.5, attempts: 0, success_rate: null, median_ttr_ms: null }];
    book.apply({ type: "plan", seq: 10, message: second });
    const verified: ActionResult = { ...(rolledBack as { message: ActionResult }).message, plan_id: second.plan_id, status: "verified", verified_at: 900 };
    book.apply({ type: "result", seq: 11, message: verified });
    expect(book.get(id)).toMatchObject({ outcome: "verified", alternative: "reroute-around", mttr_ms: 900 });
  });

  test("casebook - inconsistent events are kept and flagged, never dropped; a result of an unknown incident is no case", () => {
    const book = new CaseBook(new CaseStore(":memory:"));
    const [opened, plan, result, resolved] = eventsOf({ kind: "link_down", link: ["n1", "n2"], alternative: "reroute-around", outcome: "verified", at: 0 });
    // The plan comes first (its incident's opening state lost), then a result of a plan never seen.
    book.apply(plan as CaseEvent);
    const stray = { ...(result as { message: ActionResult }).message, plan_id: crypto.randomUUID() };
    book.apply({ type: "result", seq: 3, message: stray });
    book.apply(resolved as CaseEvent);
    const item = book.get((opened as CaseEvent).message.incident_id);
    expect(item?.flags).toEqual(["plan seen before any state of its incident", `result for plan ${stray.plan_id} that was not seen`]);
    expect(item?.resolved_at).toBeDefined();
    expect(book.apply({ type: "result", seq: 9, message: { ...stray, incident_id: crypto.randomUUID() } })).toBeUndefined();
  });

  test("casebook - a kind change and a second resolution are flagged; a repeated result counts once", () => {
    const book = new CaseBook(new CaseStore(":memory:"));
    const [opened, plan, result, resolved] = eventsOf({ kind: "link_down", link: ["n1", "n2"], alternative: "reroute-around", outcome: "verified", at: 0 });
    for (const event of [opened, plan, result, result] as CaseEvent[]) book.apply(event);
    const updated: Anomaly = { ...(opened as { message: Anomaly }).message, state: "updated", update: 1, kind: "node_unreachable" };
    book.apply({ type: "anomaly", seq: 5, message: updated });
    const resolvedAs: CaseEvent = { type: "anomaly", seq: 6, message: { ...(resolved as { message: Anomaly }).message, kind: "node_unreachable" } };
    book.apply(resolvedAs);
    book.apply({ ...resolvedAs, seq: 7 });
    const item = book.get((opened as CaseEvent).message.incident_id);
    expect(item?.results).toHaveLength(1);
    expect(item?.kind).toBe("node_unreachable");
    expect(item?.flags).toEqual(["kind changed from link_down to node_unreachable", "resolved twice"]);
  });

  test("casebook - an open case whose events stopped long ago is handed out flagged as never resolved", () => {
    const book = new CaseBook(new CaseStore(":memory:"));
    const [opened] = eventsOf({ kind: "link_down", link: ["n1", "n2"], alternative: "reroute-around", outcome: "verified", at: 1000, resolve: false });
    book.apply(opened as CaseEvent);
    expect(book.stale(1000)).toEqual([]);
    const stale = book.stale(10_000);
    expect(stale.map((item) => item.flags)).toEqual([["never resolved: indexed as it stood when its events stopped"]]);
    book.store.put(stale[0] as RagCase, true);
    expect(book.stale(10_000)).toEqual([]);
  });
});
