import { describe, expect, test } from "bun:test";
import { type BatmanSetting, linksFromAnnouncements, type MeshGraph, type NodeAnnouncement } from "@x0/shared";
import { announcementsOf, batmanIdentity, gridAnnouncements, withBatman } from "../testing.ts";
import { type BatmanLink, batmanLinkOf, meshAddress, meshGraph, meshNodesOf, PathCache } from "./mesh.ts";
import {
  aggregationActions,
  batmanActions,
  batmanPlanParts,
  crossingPairs,
  degradedHopPenalty,
  describeBatman,
  meshPenaltyActions,
  ogmActions,
  repairChanges,
  restoreChanges,
} from "./plan.ts";
import { applySettings, revertSettings, type SettingMap, settingKey, toSettingMap, untouched } from "./settings.ts";

const PARAMS = {
  hopPenalty: 80,
  normalHopPenalty: 0,
  verifyWithinMs: 2000,
  repairOrigIntervalMs: 100,
  origIntervalMs: 1000,
  repairMeshHopPenalty: 10,
  meshHopPenalty: 30,
  repairOgmAggregation: false,
  ogmAggregation: true,
};

/** The batman mesh of announcements, with `down` links out of routing (cost Infinity). */
function mesh(announcements: NodeAnnouncement[], down: string[] = [], detached: (node: string, iface: string) => boolean = () => false) {
  const byNode = new Map(announcements.map((announcement) => [announcement.node, announcement]));
  const links = linksFromAnnouncements(announcements);
  const batman = new Map<string, BatmanLink>();
  for (const link of links) {
    const found = batmanLinkOf(link, (node) => byNode.get(node), detached);
    if (found) batman.set(link.id, found);
  }
  const graph = (out: string[]): MeshGraph => ({
    nodes: [...byNode.keys()].sort(),
    links: links.map((link) => ({ ...link, cost: out.includes(link.id) ? Number.POSITIVE_INFINITY : 1 })),
    serviceAddress: {},
  });
  const addressOf = (node: string) => meshAddress(byNode.get(node));
  return {
    batman,
    before: new PathCache(meshGraph(graph([]), batman, addressOf)),
    after: new PathCache(meshGraph(graph(down), batman, addressOf)),
    originatorOf: (node: string) => byNode.get(node)?.batman?.originator,
  };
}

const setting = (node: string, iface: string, link: string, changes: Partial<BatmanSetting> = {}): BatmanSetting => ({
  ...untouched({ node, mesh_interface: "bat0", interface: iface, link }),
  ...changes,
});

/** The mesh-wide steps' fixtures: three mesh nodes, a detach, a return, and the cut of link n1|n2 (both ends detached). */
const meshNodes = ["n1", "n2", "n3"].map((node) => ({ node, mesh_interface: "bat0" }));
const detach = (node: string, iface: string, link: string) => ({ next: setting(node, iface, link, { active: false }), previous: undefined });
const attach = (node: string, iface: string, link: string) => ({ next: setting(node, iface, link), previous: setting(node, iface, link, { active: false }) });
const FIRST_CUT = [detach("n1", "n1-n2", "link:n1|n2"), detach("n2", "n2-n1", "link:n1|n2")];

describe("batman plans", () => {
  test("batman plans - a link is a batman link only when both ends' interfaces are hard interfaces of their meshes", () => {
    const announcements = withBatman(gridAnnouncements(2, 2), { without: ["n4"] });
    const { batman } = mesh(announcements);
    expect([...batman.keys()]).toEqual(["link:n1|n2", "link:n1|n3"]);
    expect(batman.get("link:n1|n2")).toEqual({
      id: "link:n1|n2",
      a: { node: "n1", mesh_interface: "bat0", interface: "n1-n2", originator: batmanIdentity("n1").originator },
      b: { node: "n2", mesh_interface: "bat0", interface: "n2-n1", originator: batmanIdentity("n2").originator },
    });
    // An interface missing from the announcement is a batman end only when the planner detached it.
    const dropped = announcements.map((announcement) =>
      announcement.node === "n1" && announcement.batman
        ? { ...announcement, batman: { ...announcement.batman, hard_interfaces: ["primary0", "n1-n3"] } }
        : announcement,
    );
    expect(mesh(dropped).batman.has("link:n1|n2")).toBe(false);
    expect(mesh(dropped, [], (node, iface) => node === "n1" && iface === "n1-n2").batman.has("link:n1|n2")).toBe(true);
    expect(meshAddress(announcements[0])).toBe("10.99.0.1");
  });

  test("batman plans - the degraded hop penalty weighs the link as degraded_factor hops and is never 255", () => {
    expect(degradedHopPenalty(4, 30)).toBe(80);
    expect(degradedHopPenalty(2, 30)).toBe(30);
    expect(degradedHopPenalty(1, 30)).toBe(1);
    expect(degradedHopPenalty(100, 30)).toBe(254);
  });

  test("batman plans - a detach changes both ends, each verified by the other end's originator", () => {
    const { batman, before, after, originatorOf } = mesh(withBatman(gridAnnouncements(3, 3)), ["link:n1|n2"]);
    const repair = repairChanges({
      effect: "detach",
      links: [batman.get("link:n1|n2") as BatmanLink],
      before,
      after,
      current: new Map(),
      hopPenalty: 80,
      originatorOf,
    });
    expect(repair.kept).toEqual([]);
    expect(repair.changes).toEqual([
      { next: setting("n1", "n1-n2", "link:n1|n2", { active: false }), previous: undefined },
      { next: setting("n2", "n2-n1", "link:n1|n2", { active: false }), previous: undefined },
    ]);
    expect(repair.verifyOriginators).toEqual(
      new Map([
        ["n1/n1-n2", batmanIdentity("n2").originator],
        ["n2/n2-n1", batmanIdentity("n1").originator],
      ]),
    );
    // Already detached (by an earlier incident): nothing to change.
    const current = toSettingMap(repair.changes.map((change) => change.next));
    expect(
      repairChanges({ effect: "detach", links: [batman.get("link:n1|n2") as BatmanLink], before, after, current, hopPenalty: 80, originatorOf }).changes,
    ).toEqual([]);
  });

  test("batman plans - a bridge is kept, and a dead node's neighbour with no other link is too", () => {
    const line = mesh(
      withBatman(
        announcementsOf(3, [
          ["n1", "n2"],
          ["n2", "n3"],
        ]),
      ),
      ["link:n2|n3"],
    );
    const link = line.batman.get("link:n2|n3") as BatmanLink;
    expect(repairChanges({ effect: "detach", links: [link], ...line, current: new Map(), hopPenalty: 80 })).toEqual({
      changes: [],
      verifyOriginators: new Map(),
      kept: ["link:n2|n3"],
      resting: [],
    });
    // n2 dead: n1 and n3 have no other link, so neither detaches.
    const dead = mesh(
      withBatman(
        announcementsOf(3, [
          ["n1", "n2"],
          ["n2", "n3"],
        ]),
      ),
      ["link:n1|n2", "link:n2|n3"],
    );
    const links = [...dead.batman.values()];
    expect(repairChanges({ effect: "detach", links, node: "n2", ...dead, current: new Map(), hopPenalty: 80 }).kept).toEqual(["link:n1|n2", "link:n2|n3"]);
  });

  test("batman plans - a penalty changes attached interfaces only; a restore returns what is on links that are up", () => {
    const { batman, before, after, originatorOf } = mesh(withBatman(gridAnnouncements(3, 3)));
    const link = batman.get("link:n1|n2") as BatmanLink;
    const current: SettingMap = toSettingMap([setting("n2", "n2-n1", link.id, { active: false })]);
    const repair = repairChanges({ effect: "penalty", links: [link], before, after, current, hopPenalty: 80, originatorOf });
    expect(repair.changes).toEqual([{ next: setting("n1", "n1-n2", link.id, { hop_penalty: 80 }), previous: undefined }]);
    applySettings(current, repair.changes);
    current.set(settingKey("n5", "n5-n6"), setting("n5", "n5-n6", "link:n5|n6", { active: false }));
    const restore = restoreChanges(current, (id) => id === "link:n1|n2");
    expect(restore.map((change) => [change.next, change.previous?.active, change.previous?.hop_penalty])).toEqual([
      [setting("n1", "n1-n2", link.id), true, 80],
      [setting("n2", "n2-n1", link.id), false, null],
    ]);
  });

  test("batman plans - steps: an interface is attached before its penalty is set back, and a penalty set before a detach", () => {
    const back = batmanActions(
      [{ next: setting("n1", "n1-n2", "link:n1|n2"), previous: setting("n1", "n1-n2", "link:n1|n2", { active: false, hop_penalty: 80 }) }],
      "why",
      PARAMS,
      () => "02:ba:00:00:00:02",
    );
    expect(back.map((action) => [action.type, action.params])).toEqual([
      [
        "batman_interface",
        { node: "n1", mesh_interface: "bat0", interface: "n1-n2", state: "active", verify_originator: "02:ba:00:00:00:02", verify_within_ms: 2000 },
      ],
      ["batman_hop_penalty", { node: "n1", mesh_interface: "bat0", interface: "n1-n2", value: 0 }],
    ]);
    const away = batmanActions(
      [{ next: setting("n1", "n1-n2", "l", { active: false, hop_penalty: 90 }), previous: undefined }],
      "why",
      PARAMS,
      () => undefined,
    );
    expect(away.map((action) => action.type)).toEqual(["batman_hop_penalty", "batman_interface"]);
    expect(away[1]?.params).toEqual({ node: "n1", mesh_interface: "bat0", interface: "n1-n2", state: "inactive", verify_within_ms: 2000 });
  });

  test("batman plans - a revert undoes only settings still as the plan made them", () => {
    const map: SettingMap = new Map();
    const first = [{ next: setting("n1", "n1-n2", "l", { active: false }), previous: undefined }];
    applySettings(map, first);
    revertSettings(map, first);
    expect(map.size).toBe(0);
    applySettings(map, first);
    const later = [{ next: setting("n1", "n1-n2", "l", { active: false, hop_penalty: 80 }), previous: first[0]?.next }];
    applySettings(map, later);
    revertSettings(map, first);
    expect(map.get("n1/n1-n2")?.hop_penalty).toBe(80);
  });

  test("batman plans - crossing pairs follow batman paths; the summary counts interfaces and names kept links", () => {
    const { before } = mesh(withBatman(gridAnnouncements(3, 3)));
    const pairs = crossingPairs(before, { link: ["n1", "n2"] });
    expect(pairs).toContainEqual({ from: "n1", to: "n2", hops: 1 });
    expect(
      pairs.every((pair) =>
        before
          .path(pair.from, pair.to)
          ?.join(",")
          .match(/n1,n2|n2,n1/),
      ),
    ).toBe(true);
    const changes = [
      { next: setting("n1", "n1-n2", "l", { active: false }), previous: undefined },
      { next: setting("n2", "n2-n1", "l"), previous: setting("n2", "n2-n1", "l", { hop_penalty: 80 }) },
    ];
    expect(describeBatman("x", changes, ["link:n5|n6"])).toBe(
      "x: 1 hard interface leaves the mesh, 1 hard interface gets its hop penalty back on 2 nodes; link:n5|n6 stays in the mesh: no other path joins its sides (a bridge), so it is not detached",
    );
  });

  test("batman plans - plan parts: a repair's steps and probe pairs, then a restore of what is up again", () => {
    const { batman, before, after, originatorOf } = mesh(withBatman(gridAnnouncements(3, 3)), ["link:n1|n2"]);
    const element = { links: ["link:n1|n2"], cross: { link: ["n1", "n2"] as [string, string] }, ends: ["n1", "n2"] as [string, string] };
    const meshNodes = meshNodesOf(batman.values());
    const common = { links: batman, before: before.graph, originatorOf, meshNodes, params: PARAMS, maxChecks: 4, maxActions: 256, what: "cut" };
    const repair = batmanPlanParts({ ...common, purpose: "repair", effect: "detach", element, after: after.graph, current: new Map(), isUp: () => false });
    const interfaceSteps = (actions: typeof repair.actions) => actions.filter((action) => action.type === "batman_interface");
    const ogmSteps = (actions: typeof repair.actions) =>
      actions.filter((action) => action.type === "batman_orig_interval").map((action) => [action.params.node, action.params.value]);
    const penaltySteps = (actions: typeof repair.actions) =>
      actions.filter((action) => action.type === "batman_hop_penalty").map((action) => [action.params.node, action.params.interface, action.params.value]);
    const aggregationSteps = (actions: typeof repair.actions) =>
      actions.filter((action) => action.type === "batman_aggregation").map((action) => [action.params.node, action.params.enabled]);
    expect(interfaceSteps(repair.actions).map((action) => [action.params.node, action.params.state, action.params.verify_originator])).toEqual([
      ["n1", "inactive", batmanIdentity("n2").originator],
      ["n2", "inactive", batmanIdentity("n1").originator],
    ]);
    // The ends re-route first; then every node of the mesh sends OGMs faster, so the others learn the detour.
    expect(repair.actions.slice(0, 2).map((action) => action.type)).toEqual(["batman_interface", "batman_interface"]);
    const nine = Array.from({ length: 9 }, (_, i) => `n${i + 1}`);
    expect(ogmSteps(repair.actions)).toEqual(nine.map((node) => [node, 100]));
    // And forwards OGMs with a lower penalty (the mesh interface's, no hard interface named), after the OGM steps.
    expect(penaltySteps(repair.actions)).toEqual(nine.map((node) => [node, undefined, 10]));
    // And forwards them at once, not held up to 100 ms per hop for aggregation.
    expect(aggregationSteps(repair.actions)).toEqual(nine.map((node) => [node, false]));
    expect(repair.actions.map((action) => action.type)).toEqual([
      "batman_interface",
      "batman_interface",
      ...nine.map(() => "batman_orig_interval" as const),
      ...nine.map(() => "batman_hop_penalty" as const),
      ...nine.map(() => "batman_aggregation" as const),
    ]);
    expect(repair.pairs).toHaveLength(4);
    expect(repair.pairs.slice(2)).toEqual([
      { from: "n1", to: "n2" },
      { from: "n2", to: "n1" },
    ]);
    expect(repair.summary).toBe(
      "cut: 2 hard interfaces leave the mesh on 2 nodes; OGMs every 100 ms on 9 nodes; hop penalty 10 on 9 nodes; OGM aggregation disabled on 9 nodes",
    );
    const current = toSettingMap(repair.changes.map((change) => change.next));
    const restore = batmanPlanParts({
      ...common,
      purpose: "restore",
      effect: "detach",
      element,
      after: before.graph,
      current,
      isUp: (id) => id === "link:n1|n2",
    });
    expect(interfaceSteps(restore.actions).map((action) => [action.params.node, action.params.state, action.params.verify_originator])).toEqual([
      ["n1", "active", batmanIdentity("n2").originator],
      ["n2", "active", batmanIdentity("n1").originator],
    ]);
    // Nothing detached any more: the configured interval comes back.
    expect(ogmSteps(restore.actions)).toEqual(nine.map((node) => [node, 1000]));
    expect(penaltySteps(restore.actions)).toEqual(nine.map((node) => [node, undefined, 30]));
    expect(aggregationSteps(restore.actions)).toEqual(nine.map((node) => [node, true]));
    expect(restore.summary).toBe(
      "cut: 2 hard interfaces return to the mesh on 2 nodes; OGMs every 1000 ms on 9 nodes; hop penalty 30 on 9 nodes; OGM aggregation enabled on 9 nodes",
    );
    // A mesh too large for one plan still gets its repair, without the OGM steps.
    const small = batmanPlanParts({
      ...common,
      maxActions: 5,
      purpose: "repair",
      effect: "detach",
      element,
      after: after.graph,
      current: new Map(),
      isUp: () => false,
    });
    expect(small.actions.map((action) => action.type)).toEqual(["batman_interface", "batman_interface"]);
    expect(small.summary).toBe(
      "cut: 2 hard interfaces leave the mesh on 2 nodes; OGM intervals, hop penalties and OGM aggregation left alone: 9 nodes are more steps than one plan holds",
    );
    expect(restore.pairs).toContainEqual({ from: "n1", to: "n2" });
  });

  test("batman plans - OGM steps follow whether anything is detached: once for overlapping repairs, never for a dead node or when off", () => {
    const values = (actions: ReturnType<typeof ogmActions>) => actions.map((action) => `${action.params.node}:${action.params.value}`);
    expect(values(ogmActions({ current: new Map(), changes: FIRST_CUT, meshNodes, why: "cut" }, PARAMS))).toEqual(["n1:100", "n2:100", "n3:100"]);
    // A second repair while the first link is still detached: the mesh is fast already.
    const current = toSettingMap(FIRST_CUT.map((change) => change.next));
    expect(ogmActions({ current, changes: [detach("n2", "n2-n3", "link:n2|n3")], meshNodes, why: "cut" }, PARAMS)).toEqual([]);
    // A penalty detaches nothing; a dead node's executor is not asked.
    expect(
      ogmActions(
        { current: new Map(), changes: [{ next: setting("n1", "n1-n2", "l", { hop_penalty: 80 }), previous: undefined }], meshNodes, why: "x" },
        PARAMS,
      ),
    ).toEqual([]);
    expect(values(ogmActions({ current: new Map(), changes: FIRST_CUT, meshNodes, deadNode: "n3", why: "node down" }, PARAMS))).toEqual(["n1:100", "n2:100"]);
    // Returning one of two detached links keeps the mesh fast; returning the last sets the configured interval back.
    const both = toSettingMap([...FIRST_CUT.map((change) => change.next), setting("n2", "n2-n3", "link:n2|n3", { active: false })]);
    expect(
      ogmActions({ current: both, changes: [attach("n1", "n1-n2", "link:n1|n2"), attach("n2", "n2-n1", "link:n1|n2")], meshNodes, why: "up" }, PARAMS),
    ).toEqual([]);
    expect(
      values(ogmActions({ current, changes: [attach("n1", "n1-n2", "link:n1|n2"), attach("n2", "n2-n1", "link:n1|n2")], meshNodes, why: "up" }, PARAMS)),
    ).toEqual(["n1:1000", "n2:1000", "n3:1000"]);
    expect(ogmActions({ current: new Map(), changes: FIRST_CUT, meshNodes, why: "cut" }, { ...PARAMS, repairOrigIntervalMs: 0 })).toEqual([]);
  });

  test("batman plans - mesh hop penalty steps follow the same transitions as the OGM steps, and are off when equal to the mesh's own", () => {
    const values = (actions: ReturnType<typeof meshPenaltyActions>) =>
      actions.map((action) => `${action.type} ${action.params.node} ${action.params.mesh_interface}:${action.params.value}`);
    expect(values(meshPenaltyActions({ current: new Map(), changes: FIRST_CUT, meshNodes, why: "cut" }, PARAMS))).toEqual([
      "batman_hop_penalty n1 bat0:10",
      "batman_hop_penalty n2 bat0:10",
      "batman_hop_penalty n3 bat0:10",
    ]);
    expect(meshPenaltyActions({ current: new Map(), changes: FIRST_CUT, meshNodes, why: "cut" }, PARAMS)[0]?.params).not.toHaveProperty("interface");
    const current = toSettingMap(FIRST_CUT.map((change) => change.next));
    expect(meshPenaltyActions({ current, changes: [detach("n2", "n2-n3", "link:n2|n3")], meshNodes, why: "cut" }, PARAMS)).toEqual([]);
    expect(values(meshPenaltyActions({ current: new Map(), changes: FIRST_CUT, meshNodes, deadNode: "n3", why: "node down" }, PARAMS))).toHaveLength(2);
    expect(
      values(
        meshPenaltyActions({ current, changes: [attach("n1", "n1-n2", "link:n1|n2"), attach("n2", "n2-n1", "link:n1|n2")], meshNodes, why: "up" }, PARAMS),
      ),
    ).toEqual(["batman_hop_penalty n1 bat0:30", "batman_hop_penalty n2 bat0:30", "batman_hop_penalty n3 bat0:30"]);
    expect(meshPenaltyActions({ current: new Map(), changes: FIRST_CUT, meshNodes, why: "cut" }, { ...PARAMS, repairMeshHopPenalty: 30 })).toEqual([]);
  });

  test("batman plans - OGM aggregation steps follow the same transitions, and are off when the repair setting is the mesh's own", () => {
    const values = (actions: ReturnType<typeof aggregationActions>) =>
      actions.map((action) => `${action.type} ${action.params.node} ${action.params.mesh_interface}:${action.params.enabled}`);
    expect(values(aggregationActions({ current: new Map(), changes: FIRST_CUT, meshNodes, why: "cut" }, PARAMS))).toEqual([
      "batman_aggregation n1 bat0:false",
      "batman_aggregation n2 bat0:false",
      "batman_aggregation n3 bat0:false",
    ]);
    expect(aggregationActions({ current: new Map(), changes: FIRST_CUT, meshNodes, why: "cut" }, PARAMS)[0]?.reason).toBe(
      "cut: OGM aggregation off on n1's bat0 while hard interfaces are detached, so forwarded OGMs go out at once instead of waiting up to 100 ms for company",
    );
    const current = toSettingMap(FIRST_CUT.map((change) => change.next));
    expect(aggregationActions({ current, changes: [detach("n2", "n2-n3", "link:n2|n3")], meshNodes, why: "cut" }, PARAMS)).toEqual([]);
    expect(values(aggregationActions({ current: new Map(), changes: FIRST_CUT, meshNodes, deadNode: "n3", why: "node down" }, PARAMS))).toEqual([
      "batman_aggregation n1 bat0:false",
      "batman_aggregation n2 bat0:false",
    ]);
    expect(
      values(
        aggregationActions({ current, changes: [attach("n1", "n1-n2", "link:n1|n2"), attach("n2", "n2-n1", "link:n1|n2")], meshNodes, why: "up" }, PARAMS),
      ),
    ).toEqual(["batman_aggregation n1 bat0:true", "batman_aggregation n2 bat0:true", "batman_aggregation n3 bat0:true"]);
    expect(aggregationActions({ current: new Map(), changes: FIRST_CUT, meshNodes, why: "cut" }, { ...PARAMS, repairOgmAggregation: true })).toEqual([]);
    // A mesh configured without aggregation is left as it is (both false).
    expect(aggregationActions({ current: new Map(), changes: FIRST_CUT, meshNodes, why: "cut" }, { ...PARAMS, ogmAggregation: false })).toEqual([]);
  });
});
