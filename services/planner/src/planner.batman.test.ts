import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { BATMAN_KEY, BatmanCurrent, createLogger, type NodeAnnouncement, Plan } from "@x0/shared";
import { Registry } from "prom-client";
import { MemoryStore } from "./kv.ts";
import { createMetrics } from "./metrics.ts";
import { OutcomeStore } from "./outcomes/store.ts";
import { Planner } from "./planner.ts";
import { loadPolicy, type Policy } from "./policy/policy.ts";
import { routeKey } from "./routing/routes.ts";
import { announcementsOf, batmanIdentity, gridAnnouncements, incident, later, linkTarget, result, withBatman } from "./testing.ts";

const shipped = loadPolicy(join(import.meta.dir, "..", "policy.yaml"));
const orig = (node: string) => batmanIdentity(node).originator;
const NINE = Array.from({ length: 9 }, (_, i) => `n${i + 1}`);
const bat0 = (node: string) => batmanIdentity(node).address;

function setup({
  policy = shipped,
  announcements = withBatman(gridAnnouncements(3, 3)),
  topologyStore = new MemoryStore(),
  start = 1_000_000,
}: {
  policy?: Policy;
  announcements?: NodeAnnouncement[];
  topologyStore?: MemoryStore;
  start?: number;
} = {}) {
  let now = start;
  const plans: Plan[] = [];
  const planner = new Planner({
    policy,
    topologyStore,
    outcomes: new OutcomeStore(new MemoryStore()),
    publish: async (plan) => {
      plans.push(Plan.parse(plan));
    },
    logger: createLogger({ service: "planner-test", node: "test", level: "error" }),
    metrics: createMetrics(new Registry()),
    now: () => now,
  });
  for (const announcement of announcements) planner.announce(announcement);
  return { planner, plans, topologyStore, advance: (ms: number) => (now += ms), now: () => now };
}

/** The grid's batman announcements with one hard interface left out per node named (`{ n1: "n1-n2" }`). */
function withoutHardInterfaces(gone: Record<string, string>): NodeAnnouncement[] {
  return withBatman(gridAnnouncements(3, 3)).map((announcement) => {
    const left = gone[announcement.node];
    if (left === undefined || !announcement.batman) return announcement;
    return { ...announcement, batman: { ...announcement.batman, hard_interfaces: announcement.batman.hard_interfaces.filter((name) => name !== left) } };
  });
}

/** Steps acting on the mesh's settings, not on one hard interface's (the orig_interval, mesh hop penalty and aggregation of every node). */
const meshWide = (action: Plan["actions"][number]) =>
  action.type === "batman_orig_interval" ||
  action.type === "batman_aggregation" ||
  (action.type === "batman_hop_penalty" && action.params.interface === undefined);
const steps = (plan: Plan | undefined, type?: string) =>
  (plan?.actions ?? []).filter((action) => (type ? action.type === type : !meshWide(action))).map((action) => action.params);
const ogm = (plan: Plan | undefined) => steps(plan, "batman_orig_interval").map((params) => `${params.node}:${params.value}`);
const meshPenalty = (plan: Plan | undefined) =>
  (plan?.actions ?? [])
    .filter((action) => meshWide(action) && action.type === "batman_hop_penalty")
    .map((action) => `${action.params.node}:${action.params.value}`);
const probes = (plan: Plan | undefined) =>
  (plan?.expected_effect?.verify ?? []).map((check) => (check.type === "probe" ? `${check.from}>${check.to}:${check.port}` : check.type));

describe("planner on batman-adv", () => {
  test("planner on batman-adv - a cut link's hard interfaces leave the mesh at both ends, verified by the far originators and bat0 probes", async () => {
    const { planner, plans, topologyStore } = setup();
    const plan = await planner.handleAnomaly(incident("link_down", linkTarget("n1", "n2")));
    expect(plans).toHaveLength(1);
    expect(plan?.rule).toBe("link_down/batman-deactivate");
    // Only the batman alternatives compete on a batman mesh.
    expect(plan?.alternatives?.map((alternative) => alternative.name)).toEqual(["batman-deactivate"]);
    // The ends first, then OGMs every 100 ms, a lower hop penalty and no aggregation on every mesh node, so the others
    // switch on the first fresh OGM, forwarded at once.
    expect(plan?.actions.map((action) => action.type)).toEqual([
      "batman_interface",
      "batman_interface",
      ...NINE.map(() => "batman_orig_interval" as const),
      ...NINE.map(() => "batman_hop_penalty" as const),
      ...NINE.map(() => "batman_aggregation" as const),
    ]);
    expect(ogm(plan)).toEqual(NINE.map((node) => `${node}:100`));
    expect(meshPenalty(plan)).toEqual(NINE.map((node) => `${node}:10`));
    expect(steps(plan, "batman_aggregation").map((params) => `${params.node}:${params.enabled}`)).toEqual(NINE.map((node) => `${node}:false`));
    expect(steps(plan)).toEqual([
      { node: "n1", mesh_interface: "bat0", interface: "n1-n2", state: "inactive", verify_originator: orig("n2"), verify_within_ms: 2000 },
      { node: "n2", mesh_interface: "bat0", interface: "n2-n1", state: "inactive", verify_originator: orig("n1"), verify_within_ms: 2000 },
    ]);
    // The static planner's checks, addressed to bat0: the longest crossing path both ways, then the link's own ends.
    const checks = probes(plan);
    expect(checks).toHaveLength(4);
    expect(checks).toContain(`n1>${bat0("n2")}:7471`);
    expect(checks).toContain(`n2>${bat0("n1")}:7471`);
    expect(checks.every((check) => check.includes(">10.99."))).toBe(true);
    expect(plan?.expected_effect?.deadline_ms).toBe(8000);
    expect(plan?.expected_effect?.summary).toBe(
      "link_down on link n1|n2: batman-deactivate: 2 hard interfaces leave the mesh on 2 nodes; OGMs every 100 ms on 9 nodes; hop penalty 10 on 9 nodes; OGM aggregation disabled on 9 nodes",
    );
    // No static route was planned or believed changed; the batman change is recorded for restarts.
    expect(planner.installed().get(routeKey("n1", "n2"))?.dev).toBe("n1-n2");
    expect(BatmanCurrent.parse((await topologyStore.get(BATMAN_KEY))?.value).settings).toEqual([
      { node: "n1", mesh_interface: "bat0", interface: "n1-n2", link: "link:n1|n2", active: false, hop_penalty: null },
      { node: "n2", mesh_interface: "bat0", interface: "n2-n1", link: "link:n1|n2", active: false, hop_penalty: null },
    ]);
  });

  test("planner on batman-adv - a link whose interfaces an announcement briefly lacks (re-attached since the monitor's last read) is still a batman link", async () => {
    const { planner } = setup();
    // Someone else detached n1-n2 and n2-n1 (a rollback in flight, an operator): the next announcements lack them.
    for (const announcement of withoutHardInterfaces({ n1: "n1-n2", n2: "n2-n1" })) planner.announce(announcement);
    const plan = await planner.handleAnomaly(incident("link_down", linkTarget("n1", "n2")));
    // Batman steps, never static /32 routes over the veths of a batman mesh.
    expect(plan?.rule).toBe("link_down/batman-deactivate");
    expect(plan?.actions.some((action) => action.type === "route_replace")).toBe(false);
    expect(steps(plan).map((params) => `${params.node}:${params.interface}`)).toEqual(["n1:n1-n2", "n2:n2-n1"]);
  });

  test("planner on batman-adv - a node that never announced an interface as a hard interface keeps it out of the mesh (mixed node)", async () => {
    // n1's announcements never list n1-n2: the link is not a batman link, and its repair is static routes.
    const { planner } = setup({ announcements: withoutHardInterfaces({ n1: "n1-n2" }) });
    const plan = await planner.handleAnomaly(incident("link_down", linkTarget("n1", "n2")));
    expect(plan?.actions.every((action) => action.type === "route_replace")).toBe(true);
  });

  test("planner on batman-adv - the incident's end returns both interfaces, even once the announcements no longer list them", async () => {
    const { planner, topologyStore } = setup();
    const down = incident("link_down", linkTarget("n1", "n2"));
    await planner.handleAnomaly(down);
    // The monitors announce attached hard interfaces only: after the detach, n1-n2 and n2-n1 are gone from them.
    for (const announcement of withoutHardInterfaces({ n1: "n1-n2", n2: "n2-n1" })) planner.announce(announcement);
    expect(await planner.handleAnomaly(later(down, "updated"))).toBeUndefined();
    const back = await planner.handleAnomaly(later(down, "resolved", { update: 2 }));
    expect(back?.rule).toBe("link_down/restore");
    expect(steps(back)).toEqual([
      { node: "n1", mesh_interface: "bat0", interface: "n1-n2", state: "active", verify_originator: orig("n2"), verify_within_ms: 2000 },
      { node: "n2", mesh_interface: "bat0", interface: "n2-n1", state: "active", verify_originator: orig("n1"), verify_within_ms: 2000 },
    ]);
    expect(probes(back)).toContain(`n1>${bat0("n2")}:7471`);
    // Nothing is detached any more: the mesh's configured OGM interval comes back.
    expect(ogm(back)).toEqual(NINE.map((node) => `${node}:1000`));
    expect(planner.batmanSettings().size).toBe(0);
    expect(BatmanCurrent.parse((await topologyStore.get(BATMAN_KEY))?.value).settings).toEqual([]);
  });

  test("planner on batman-adv - a bridge is not detached: the plan notifies, and its end changes nothing", async () => {
    const { planner, plans } = setup({
      announcements: withBatman(
        announcementsOf(3, [
          ["n1", "n2"],
          ["n2", "n3"],
        ]),
      ),
    });
    const down = incident("link_down", linkTarget("n2", "n3"));
    const plan = await planner.handleAnomaly(down);
    expect(plan?.rule).toBe("link_down/batman-deactivate");
    expect(plan?.actions.map((action) => action.type)).toEqual(["notify"]);
    expect(plan?.expected_effect?.summary).toContain("link:n2|n3 stays in the mesh: no other path joins its sides (a bridge)");
    expect(planner.batmanSettings().size).toBe(0);
    expect(await planner.handleAnomaly(later(down, "resolved"))).toBeUndefined();
    expect(plans).toHaveLength(1);
  });

  test("planner on batman-adv - a degraded link gets the hop penalty at both ends, and the configured one back at its end", async () => {
    const { planner } = setup();
    const degraded = incident("link_degraded", linkTarget("n1", "n2"));
    const plan = await planner.handleAnomaly(degraded);
    expect(plan?.rule).toBe("link_degraded/batman-hop-penalty");
    expect(plan?.alternatives?.map((alternative) => alternative.name)).toEqual(["batman-hop-penalty", "batman-deactivate"]);
    expect(plan?.actions.map((action) => action.type)).toEqual(["batman_hop_penalty", "batman_hop_penalty"]);
    expect(steps(plan)).toEqual([
      { node: "n1", mesh_interface: "bat0", interface: "n1-n2", value: 80 },
      { node: "n2", mesh_interface: "bat0", interface: "n2-n1", value: 80 },
    ]);
    // The link stays usable: its own ends are probed too.
    expect(probes(plan)).toContain(`n1>${bat0("n2")}:7471`);
    expect(planner.topology.stateOf("link:n1|n2")).toBe("degraded");
    const back = await planner.handleAnomaly(later(degraded, "resolved"));
    expect(back?.rule).toBe("link_degraded/restore");
    expect(steps(back)).toEqual([
      { node: "n1", mesh_interface: "bat0", interface: "n1-n2", value: 0 },
      { node: "n2", mesh_interface: "bat0", interface: "n2-n1", value: 0 },
    ]);
    expect(planner.batmanSettings().size).toBe(0);
  });

  test("planner on batman-adv - a degraded link that goes down is detached; its end attaches it before setting the penalty back", async () => {
    const { planner, advance } = setup();
    const degraded = incident("link_degraded", linkTarget("n1", "n2"));
    await planner.handleAnomaly(degraded);
    advance(500);
    const escalated = await planner.handleAnomaly(later(degraded, "updated", { kind: "link_down" }));
    expect(escalated?.rule).toBe("link_down/batman-deactivate");
    expect(steps(escalated).map((params) => `${params.node}/${params.interface}:${params.state}`)).toEqual(["n1/n1-n2:inactive", "n2/n2-n1:inactive"]);
    const back = await planner.handleAnomaly(later(degraded, "resolved", { kind: "link_down", update: 2 }));
    expect(
      back?.actions.filter((action) => !meshWide(action)).map((action) => `${action.type}:${action.params.node}:${action.params.state ?? action.params.value}`),
    ).toEqual(["batman_interface:n1:active", "batman_hop_penalty:n1:0", "batman_interface:n2:active", "batman_hop_penalty:n2:0"]);
    // Nothing is detached any more: the mesh's own hop penalty comes back on every node.
    expect(meshPenalty(back)).toEqual(NINE.map((node) => `${node}:30`));
  });

  test("planner on batman-adv - a dead node's neighbours detach the interfaces facing it; nothing is asked of the node itself", async () => {
    const { planner } = setup();
    const plan = await planner.handleAnomaly(incident("node_unreachable", { type: "node", id: "node:n5", nodes: ["n5"] }, { node: "n2" }));
    expect(plan?.rule).toBe("node_unreachable/batman-deactivate");
    expect(steps(plan).map((params) => `${params.node}/${params.interface}:${params.state}`)).toEqual([
      "n2/n2-n5:inactive",
      "n4/n4-n5:inactive",
      "n6/n6-n5:inactive",
      "n8/n8-n5:inactive",
    ]);
    // Every node but the dead one sends OGMs faster.
    expect(ogm(plan)).toEqual(NINE.filter((node) => node !== "n5").map((node) => `${node}:100`));
    // n2's traffic to n8 crossed n5 (n2-n5-n8): n8 must stay reachable, over another path.
    expect(steps(plan)[0]?.verify_originator).toBe(orig("n8"));
    expect(steps(plan).some((params) => params.verify_originator === orig("n5"))).toBe(false);
    for (const check of plan?.expected_effect?.verify ?? []) expect(check.type === "probe" && (check.from === "n5" || check.to === bat0("n5"))).toBe(false);
  });

  test("planner on batman-adv - a node with a link to one node without batman-adv is repaired with static routes there", async () => {
    const { planner } = setup({ announcements: withBatman(gridAnnouncements(3, 3), { without: ["n3"] }) });
    const mixed = await planner.handleAnomaly(incident("link_down", linkTarget("n2", "n3")));
    expect(mixed?.rule).toBe("link_down/reroute-around");
    expect(mixed?.alternatives?.map((alternative) => alternative.name)).toEqual(["reroute-around"]);
    expect(mixed?.actions.every((action) => action.type === "route_replace")).toBe(true);
    expect(mixed?.actions.find((action) => action.params.node === "n2" && action.params.destination === "n3")?.params.dev).toBe("n2-n5");
    expect(planner.batmanSettings().size).toBe(0);
    // A link between two batman nodes of the same mesh is still a batman link.
    const batman = await planner.handleAnomaly(incident("link_down", linkTarget("n7", "n8"), { incident_id: crypto.randomUUID(), node: "n7" }));
    expect(batman?.rule).toBe("link_down/batman-deactivate");
  });

  test("planner on batman-adv - a link whose interfaces returned less than 30 s ago is not detached again (batman-adv's reset protection); after that it is", async () => {
    const { planner, advance } = setup();
    const first = incident("link_down", linkTarget("n1", "n2"));
    expect((await planner.handleAnomaly(first))?.actions.filter((action) => action.type === "batman_interface")).toHaveLength(2);
    advance(6000);
    const back = await planner.handleAnomaly(later(first, "resolved"));
    expect(steps(back).map((params) => params.state)).toEqual(["active", "active"]);
    // 3 s after the return: a second return would come inside the neighbours' 30 s sequence number reset protection.
    advance(3000);
    const again = incident("link_down", linkTarget("n1", "n2"));
    const notified = await planner.handleAnomaly(again);
    expect(notified?.actions.map((action) => action.type)).toEqual(["notify"]);
    expect(notified?.expected_effect?.summary).toContain("link:n1|n2 stays in the mesh: its hard interfaces returned less than 30 s ago");
    expect(planner.batmanSettings().size).toBe(0);
    expect(await planner.handleAnomaly(later(again, "resolved"))).toBeUndefined();
    // Another link is detached as usual meanwhile; the same link once the 30 s have passed.
    const other = await planner.handleAnomaly(incident("link_down", linkTarget("n5", "n6"), { node: "n5" }));
    expect(steps(other).map((params) => `${params.node}:${params.state}`)).toEqual(["n5:inactive", "n6:inactive"]);
    advance(27_001);
    const later30 = await planner.handleAnomaly(incident("link_down", linkTarget("n1", "n2")));
    expect(steps(later30).map((params) => `${params.node}:${params.state}`)).toEqual(["n1:inactive", "n2:inactive"]);
  });

  test("planner on batman-adv - a rolled-back detach is a return too: the link is not detached again within 30 s", async () => {
    const { planner, advance, now } = setup();
    const plan = await planner.handleAnomaly(incident("link_down", linkTarget("n1", "n2")));
    await planner.handleResult(result(plan as Plan, "rolled_back", now()));
    advance(5000);
    const again = await planner.handleAnomaly(incident("link_down", linkTarget("n1", "n2")));
    expect(again?.actions.map((action) => action.type)).toEqual(["notify"]);
    expect(again?.expected_effect?.summary).toContain("returned less than 30 s ago");
  });

  test("planner on batman-adv - a flapping link stays detached after its end; the stable timer's release attaches it", async () => {
    const { planner, advance } = setup();
    for (let i = 0; i < 2; i++) {
      const down = incident("link_down", linkTarget("n1", "n2"));
      await planner.handleAnomaly(down);
      advance(6000);
      await planner.handleAnomaly(later(down, "resolved"));
      advance(6000);
    }
    const third = incident("link_down", linkTarget("n1", "n2"));
    await planner.handleAnomaly(third);
    expect(planner.topology.stateOf("link:n1|n2")).toBe("held");
    expect(await planner.handleAnomaly(later(third, "resolved"))).toBeUndefined();
    expect([...planner.batmanSettings().values()].map((setting) => setting.active)).toEqual([false, false]);
    advance(30_000);
    const [release] = await planner.tick();
    expect(release?.rule).toBe("hold-down-release");
    expect(steps(release).map((params) => `${params.node}/${params.interface}:${params.state}`)).toEqual(["n1/n1-n2:active", "n2/n2-n1:active"]);
    expect(planner.batmanSettings().size).toBe(0);
  });

  test("planner on batman-adv - a rolled-back detach is what the nodes have again; a manual one counts once it ran", async () => {
    const first = setup();
    const plan = await first.planner.handleAnomaly(incident("link_down", linkTarget("n1", "n2")));
    await first.planner.handleResult(result(plan as Plan, "rolled_back", first.now()));
    expect(first.planner.batmanSettings().size).toBe(0);

    const manual: Policy = { ...shipped, kinds: { ...shipped.kinds, link_down: { alternatives: [{ name: "batman-deactivate", approval: "manual" }] } } };
    const second = setup({ policy: manual });
    const cut = incident("link_down", linkTarget("n1", "n2"));
    const waiting = await second.planner.handleAnomaly(cut);
    expect(waiting?.approval).toBe("manual");
    expect(second.planner.batmanSettings().size).toBe(0);
    await second.planner.handleResult(result(waiting as Plan, "verified", second.now()));
    expect(second.planner.batmanSettings().size).toBe(2);
    // A manual restore that ran is a return too: the link is not detached again within 30 s.
    const back = await second.planner.handleAnomaly(later(cut, "resolved"));
    await second.planner.handleResult(result(back as Plan, "verified", second.now()));
    expect(second.planner.batmanSettings().size).toBe(0);
    second.advance(6000);
    const again = await second.planner.handleAnomaly(incident("link_down", linkTarget("n1", "n2")));
    expect(again?.expected_effect?.summary).toContain("returned less than 30 s ago");
  });

  test("planner on batman-adv - a restarted planner knows what it detached and returns it at the incident's end", async () => {
    const first = setup();
    const down = incident("link_down", linkTarget("n4", "n5"));
    await first.planner.handleAnomaly(down);
    const second = setup({ topologyStore: first.topologyStore, start: first.now() });
    await second.planner.restore();
    expect(second.planner.batmanSettings().size).toBe(2);
    const back = await second.planner.handleAnomaly(later(down, "resolved"));
    expect(steps(back).map((params) => `${params.node}/${params.interface}:${params.state}`)).toEqual(["n4/n4-n5:active", "n5/n5-n4:active"]);
  });

  test("planner on batman-adv - a restarted planner remembers recent returns: a link back less than 30 s ago is not detached again", async () => {
    const first = setup();
    const down = incident("link_down", linkTarget("n1", "n2"));
    await first.planner.handleAnomaly(down);
    first.advance(6000);
    await first.planner.handleAnomaly(later(down, "resolved"));
    first.advance(4000);
    const second = setup({ topologyStore: first.topologyStore, start: first.now() });
    await second.planner.restore();
    const again = await second.planner.handleAnomaly(incident("link_down", linkTarget("n1", "n2")));
    expect(again?.actions.map((action) => action.type)).toEqual(["notify"]);
    expect(again?.expected_effect?.summary).toContain("returned less than 30 s ago");
    // The record keeps returns only while they matter: 30 s after it, a further save drops it, and the link is detached.
    second.advance(26_001);
    const later30 = await second.planner.handleAnomaly(incident("link_down", linkTarget("n1", "n2")));
    expect(steps(later30).map((params) => `${params.node}:${params.state}`)).toEqual(["n1:inactive", "n2:inactive"]);
    const saved = BatmanCurrent.parse((await first.topologyStore.get(BATMAN_KEY))?.value);
    expect(saved.returned).toEqual([]);
    // Any setting key fits: the longest node id and interface name.
    const longest = `${"n".repeat(64)}/${"i".repeat(15)}`;
    expect(BatmanCurrent.safeParse({ ...saved, returned: [{ key: longest, at: 1 }] }).success).toBe(true);
    // A record written before returns were saved still restores.
    const old = setup();
    await old.topologyStore.put(BATMAN_KEY, { v: 1, settings: [], updated_at: old.now(), plan_id: null });
    await old.planner.restore();
    expect(old.planner.batmanSettings().size).toBe(0);
  });

  test("planner on batman-adv - a policy without batman alternatives notifies instead of planning static routes on the mesh", async () => {
    const staticOnly: Policy = { ...shipped, kinds: { ...shipped.kinds, link_down: { alternatives: [{ name: "reroute-around", approval: "auto" }] } } };
    const { planner } = setup({ policy: staticOnly });
    const plan = await planner.handleAnomaly(incident("link_down", linkTarget("n1", "n2")));
    expect(plan?.rule).toBe("link_down/no-alternative");
    expect(plan?.actions.map((action) => action.type)).toEqual(["notify"]);
  });
});
