import { describe, expect, test } from "bun:test";

import { join } from "node:path";

import { BATMAN_KEY, BatmanCurrent, createLogger, type NodeAnnouncement, type Plan } from "@x0/shared";

import { MemoryStore } from "../kv.ts";

import { loadPolicy } from "../policy/policy.ts";

import { gridAnnouncements, withBatman } from "../testing.ts";

import { linkElement } from "../topology/element.ts";

import { topologyOf } from "../topology/synthetic.ts";

import { BatmanStrategy } from "./batman.ts";

import type { HealingRequest } from "./strategy.ts";

import { strategyRun } from "./testing.ts";

const policy = loadPolicy(join(import.meta.dir, "..", "..", "policy.yaml"));
const INCIDENT = "7f1c3a52-5a8e-4c3e-9a57-0d3c2b1e4f60";

/** batman-adv on a 3x3 grid (every node but `without`) at a fixed time, with the detach of link n1|n2 as a request. */
function setup({ store = new MemoryStore(), without = [] as string[] } = {}) {
  const now = 1_000_000;
  const topology = topologyOf([]);
  const batman = new BatmanStrategy({ topology, store, logger: createLogger({ service: "planner-test", node: "test", level: "error" }), policy });
  const announce = (announcements: NodeAnnouncement[]) => {
    for (const announcement of announcements) {
      topology.announce(announcement);
      batman.announce(announcement);
    }
  };
  announce(withBatman(gridAnnouncements(3, 3), { without }));
  const link = topology.link("link:n1|n2");
  if (!link) throw new Error("expected link n1|n2");
  const detach: HealingRequest = { purpose: "repair", effect: "detach", element: linkElement(link), what: "link_down on link n1|n2" };
  return { topology, batman, store, announce, detach, run: strategyRun(batman, () => now) };
}

const interfaceSteps = (plan: Plan | undefined) =>
  (plan?.actions ?? []).filter((action) => action.type === "batman_interface").map((action) => `${action.params.node}:${action.params.state}`);

describe("batman-adv strategy", () => {
  test("batman-adv strategy - it covers an element only when every link is a batman link", () => {
    const { batman } = setup({ without: ["n3"] });
    expect(batman.covers(["link:n1|n2"])).toBe(true);
    expect(batman.covers(["link:n1|n2", "link:n2|n3"])).toBe(false);
    expect(batman.covers([])).toBe(false);
  });

  test("batman-adv strategy - an interface once announced stays a hard interface until its node is forgotten", () => {
    const { batman, announce } = setup();
    const lacking = withBatman(gridAnnouncements(3, 3)).map((announcement) =>
      announcement.node === "n1" && announcement.batman
        ? { ...announcement, batman: { ...announcement.batman, hard_interfaces: announcement.batman.hard_interfaces.filter((name) => name !== "n1-n2") } }
        : announcement,
    );
    announce(lacking);
    expect(batman.covers(["link:n1|n2"])).toBe(true);
    batman.forget("n1");
    announce(lacking);
    expect(batman.covers(["link:n1|n2"])).toBe(false);
  });

  test("batman-adv strategy - a detach is believed once published and written to batman.current; a restore returns it", async () => {
    const { topology, batman, store, detach, run } = setup();
    topology.markDown(INCIDENT, ["link:n1|n2"], 1_000_000);
    const proposal = batman.plan(detach, 1_000_000);
    expect(proposal.record.batman).toHaveLength(2);
    expect(proposal.deadlineMs).toBe(Math.max(policy.verify.deadline_ms, policy.batman.verify_within_ms, policy.batman.converge_within_ms));
    expect(batman.settings().size).toBe(0);
    const { plan } = await run.publish(detach);
    expect(interfaceSteps(plan)).toEqual(["n1:inactive", "n2:inactive"]);
    expect(batman.settings().size).toBe(2);
    expect(BatmanCurrent.parse((await store.get(BATMAN_KEY))?.value).plan_id).toBe(plan?.plan_id as string);
    topology.clear(INCIDENT, 1_000_000);
    const back = await run.publish({ ...detach, purpose: "restore" });
    expect(interfaceSteps(back.plan)).toEqual(["n1:active", "n2:active"]);
    expect(batman.settings().size).toBe(0);
  });

  test("batman-adv strategy - a rolled-back detach is a return: the link rests for 30 s before it may leave again", async () => {
    const { topology, batman, detach, run } = setup();
    topology.markDown(INCIDENT, ["link:n1|n2"], 1_000_000);
    const { plan } = await run.publish(detach);
    await run.settle(plan as Plan, "rolled_back");
    expect(batman.settings().size).toBe(0);
    const resting = batman.plan(detach, 1_029_999);
    expect(resting.actions).toEqual([]);
    expect(resting.unchanged).toContain("link:n1|n2 stays in the mesh: its hard interfaces returned less than 30 s ago");
    expect(batman.plan(detach, 1_030_000).actions.length).toBeGreaterThan(0);
  });

  test("batman-adv strategy - batman.current is read back at start with its recent returns; an invalid record is ignored", async () => {
    const first = setup();
    first.topology.markDown(INCIDENT, ["link:n1|n2"], 1_000_000);
    const { plan } = await first.run.publish(first.detach);
    await first.run.settle(plan as Plan, "rolled_back");
    const second = setup({ store: first.store });
    await second.batman.restore();
    second.topology.markDown(INCIDENT, ["link:n1|n2"], 1_000_000);
    expect(second.batman.plan(second.detach, 1_010_000).unchanged).toContain("returned less than 30 s ago");

    const broken = new MemoryStore();
    await broken.put(BATMAN_KEY, { v: 2 });
    const third = setup({ store: broken });
    await third.batman.restore();
    expect(third.batman.settings().size).toBe(0);
  });
});
