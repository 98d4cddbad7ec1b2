import { describe, expect, test } from "bun:test";
import type { AnomalyKind, RagCase } from "@x0/shared";
import { incidentEvents, type LabIncident } from "@x0/shared/testing";
import { CaseStore } from "../cases/case-store.ts";
import type { CaseEvent } from "../cases/casebook.ts";
import { lexical } from "../embed/text-embedders.ts";
import { NotFound } from "./errors.ts";
import { caseText, Knowledge } from "./knowledge.ts";

/** Feeds incidents to a knowledge as stream events. */
async function feed(knowledge: Knowledge, incidents: LabIncident[]): Promise<void> {
  let seq = knowledge.lastSeq + 1;
  for (const incident of incidents) {
    for (const { subject, message } of incidentEvents(incident)) {
      const type = subject.startsWith("x0.anomaly") ? "anomaly" : subject.startsWith("x0.plan") ? "plan" : "result";
      await knowledge.apply({ type, seq: seq++, message } as CaseEvent);
    }
  }
}

/** The labelled set: three incidents of every (kind, element) of a small lab; similar means same kind on the same element. */
function labelledIncidents(): LabIncident[] {
  const links: [string, string][] = [
    ["n1", "n2"],
    ["n2", "n3"],
    ["n3", "n4"],
    ["n4", "n1"],
    ["n1", "n3"],
  ];
  const nodes = ["n1", "n2", "n3", "n4"];
  const incidents: LabIncident[] = [];
  for (let round = 0; round < 3; round++) {
    const at = round * 60_000;
    for (const link of links) incidents.push({ kind: "link_down", link, alternative: "reroute-around", outcome: "verified", at });
    for (const link of links)
      incidents.push({
        kind: "link_degraded",
        link,
        alternative: "raise-cost",
        outcome: round === 1 ? "rolled_back" : "verified",
        loss: 0.2 + round * 0.1,
        at,
      });
    for (const node of nodes) incidents.push({ kind: "node_unreachable", node, alternative: "reroute-around", outcome: "verified", at });
    for (const node of nodes) incidents.push({ kind: "traffic_spike", node, alternative: "quarantine", outcome: "verified", at });
  }
  return incidents;
}

const labelOf = (item: RagCase) => `${item.kind} ${item.target?.id}`;

describe("knowledge", () => {
  test("knowledge - on a labelled set of lab incidents, every similar case ranks above every dissimilar one", async () => {
    const knowledge = new Knowledge(lexical, new CaseStore(":memory:"));
    await feed(knowledge, labelledIncidents());
    expect(knowledge.counts()).toMatchObject({ cases: 54, open: 0, flagged: 0 });
    let misranked = 0;
    const failures: string[] = [];
    for (const item of knowledge.store.all()) {
      const { hits } = await knowledge.search({ incident_id: item.incident_id, k: 10, include: ["cases"], min_score: -1 });
      const labels = hits.map((hit) => (hit.type === "case" ? labelOf(hit.case) : ""));
      // Two other incidents share its label: they must be the first two hits.
      if (!(labels[0] === labelOf(item) && labels[1] === labelOf(item))) {
        misranked++;
        failures.push(
          `${labelOf(item)}: ${labels.slice(0, 3).join(", ")} ${hits
            .slice(0, 3)
            .map((h) => h.score)
            .join(" ")}`,
        );
      }
      // Then the same kind elsewhere, before any other kind.
      const kinds = hits.slice(2).map((hit) => (hit.type === "case" ? hit.case.kind : ("" as AnomalyKind)));
      const firstOther = kinds.findIndex((kind) => kind !== item.kind);
      if (firstOther >= 0 && kinds.slice(firstOther).includes(item.kind)) {
        misranked++;
        failures.push(`${labelOf(item)}: kinds ${kinds.join(" ")}`);
      }
    }
    expect(misranked, failures.slice(0, 5).join("\n")).toBe(0);
  });

  test("knowledge - a text question finds the cases of its element and the runbook about its fault", async () => {
    const knowledge = new Knowledge(lexical, new CaseStore(":memory:"));
    await feed(knowledge, labelledIncidents());
    await knowledge.setRunbooks([
      { file: "link-cut.md", heading: "Link cut", anchor: "link-cut", text: "A link stops carrying frames: link_down, probes silent, reroute around it." },
      { file: "flood.md", heading: "Traffic flood", anchor: "traffic-flood", text: "A neighbour floods: traffic_spike, quarantine it in the XDP deny map." },
    ]);
    const { hits } = await knowledge.search({ text: "n3 and n4 lost their link", k: 3, include: ["cases", "runbooks"], min_score: 0 });
    const cases = hits.flatMap((hit) => (hit.type === "case" ? [hit.case] : []));
    expect(cases.every((item) => item.target?.id === "link:n3|n4")).toBe(true);
    expect(hits.find((hit) => hit.type === "runbook")?.type === "runbook" && hits.find((hit) => hit.type === "runbook")).toMatchObject({
      runbook: { file: "link-cut.md" },
    });
  });

  test("knowledge - an event at or below the last sequence is skipped; an unknown incident is NotFound; the case text reads", async () => {
    const knowledge = new Knowledge(lexical, new CaseStore(":memory:"));
    const incident: LabIncident = { kind: "link_down", link: ["n1", "n2"], alternative: "reroute-around", outcome: "verified", at: 0 };
    await feed(knowledge, [incident]);
    const [first] = incidentEvents({ ...incident, id: crypto.randomUUID() });
    expect(await knowledge.apply({ type: "anomaly", seq: 4, message: first?.message } as CaseEvent)).toBe("skipped");
    expect(knowledge.search({ incident_id: crypto.randomUUID(), k: 1, include: ["cases"], min_score: 0 })).rejects.toThrow(NotFound);
    expect(caseText(knowledge.book.get(incident.id as string) as RagCase)).toStartWith("link down (link_down) on link link:n1|n2 (n1, n2)");
    expect(caseText(knowledge.book.get(incident.id as string) as RagCase)).toContain("outcome: verified by reroute-around in 190 ms");
  });
});
