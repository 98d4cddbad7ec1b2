import { describe, expect, test } from "bun:test";
import { parseBatctlOriginators } from "@x0/shared";
import { stepOf, testContext } from "../testing.ts";
import { batmanControl } from "./control.ts";
import { BatmanInterfaceParams, batmanInterfaceActuator, bestRoute } from "./interface.ts";
import { applyBatchJournaled, detailsOf, FAR, issuesOf, table, useFakeBatman } from "./testing.ts";

const fake = useFakeBatman();

// `batctl meshif bat0 oj` of n2, recorded on a real batman-adv mesh (/work/shared/fixtures/batctl/real-4node.txt).
const REAL_N2_OJ =
  '[{"hard_ifindex":3,"hard_ifname":"v21","orig_address":"1e:a9:2d:ea:81:f5","best":true,"last_seen_msecs":296,"neigh_address":"1e:a9:2d:ea:81:f5","tq":147},{"hard_ifindex":9,"hard_ifname":"v24","orig_address":"c2:2d:43:4d:db:f3","best":true,"last_seen_msecs":776,"neigh_address":"c2:2d:43:4d:db:f3","tq":110},{"hard_ifindex":9,"hard_ifname":"v24","orig_address":"2a:36:58:d8:91:4f","last_seen_msecs":376,"neigh_address":"c2:2d:43:4d:db:f3","tq":51},{"hard_ifindex":5,"hard_ifname":"v23","orig_address":"2a:36:58:d8:91:4f","best":true,"last_seen_msecs":376,"neigh_address":"2a:36:58:d8:91:4f","tq":133},{"hard_ifindex":9,"hard_ifname":"v24","orig_address":"c2:73:38:cf:1a:fe","best":true,"last_seen_msecs":60,"neigh_address":"c2:2d:43:4d:db:f3","tq":110},{"hard_ifindex":5,"hard_ifname":"v23","orig_address":"c2:73:38:cf:1a:fe","last_seen_msecs":60,"neigh_address":"2a:36:58:d8:91:4f","tq":63}]';

const inactive = (extra: Record<string, unknown> = {}) =>
  BatmanInterfaceParams.parse({ node: "n1", mesh_interface: "bat0", interface: "mesh1", state: "inactive", ...extra });

describe("batman_interface", () => {
  const iface = batmanInterfaceActuator(batmanControl({ batctl: fake.batctl }));
  const ctx = testContext("n1");

  test("batman_interface - reads real `oj` output: one best route per originator, `best` only when true", () => {
    const entries = parseBatctlOriginators(REAL_N2_OJ);
    expect(entries).toHaveLength(6);
    expect(bestRoute(entries, FAR)).toMatchObject({ interface: "v23", tq: 133, next_hop: FAR });
    expect(bestRoute(entries, "C2:73:38:CF:1A:FE")).toMatchObject({ interface: "v24", tq: 110 });
    expect(bestRoute(entries, "02:00:00:00:00:01")).toBeUndefined();
    // An interface taken down leaves an empty table (recorded as `[]`); empty output is read the same way.
    expect(parseBatctlOriginators("[]\n")).toEqual([]);
    expect(parseBatctlOriginators("")).toEqual([]);
    expect(() => parseBatctlOriginators("Error - mesh interface bat0 has no primary interface")).toThrow(/not JSON/);
    expect(() => parseBatctlOriginators('{"orig_address":"x"}')).toThrow(/not a JSON array/);
  });

  test("batman_interface - an interface set inactive leaves the mesh and comes back on rollback", async () => {
    const step = stepOf("batman_interface", inactive());
    const applied = await iface.apply(step, ctx);
    expect(applied.undo).toEqual({ attached: true });
    expect(ctx.journaled.at(-1)?.undo).toEqual({ attached: true });
    expect(fake.state().meshif.bat0.interfaces).toEqual(["mesh0"]);
    expect((await iface.verify(step, applied, ctx)).ok).toBe(true);
    await iface.rollback(step, applied, ctx);
    expect(fake.state().meshif.bat0.interfaces).toContain("mesh1");
  });

  test("batman_interface - inactive with verify_originator: verify waits for batman-adv to re-route around the removed interface", async () => {
    fake.setOriginators(table("mesh1", "mesh0"));
    const step = stepOf("batman_interface", inactive({ verify_originator: FAR.toUpperCase() }));
    expect(step.params.verify_within_ms).toBe(3000);
    const applied = await iface.apply(step, ctx);
    // batman-adv drops the routes through mesh1 a moment later; the best one is then through mesh0.
    const started = Date.now();
    const reroute = Bun.sleep(400).then(() => fake.setOriginators(table("mesh0")));
    const observation = await iface.verify(step, applied, ctx);
    await reroute;
    expect(observation.ok).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    expect(observation.detail).toContain(`best route to ${FAR} via mesh0 (tq 133, next hop 42:93:28:47:96:b3)`);
    expect(observation.detail).toContain("mesh1 in bat0 as absent");
  });

  test("batman_interface - inactive with verify_originator fails while the best route still uses the removed interface, then rolls back", async () => {
    fake.setOriginators(table("mesh1", "mesh0"));
    const step = stepOf("batman_interface", inactive({ verify_originator: FAR, verify_within_ms: "300" }));
    const applied = await iface.apply(step, ctx);
    const started = Date.now();
    const observation = await iface.verify(step, applied, ctx);
    expect(observation.ok).toBe(false);
    expect(observation.detail).toContain(`best route to ${FAR} via mesh1`);
    expect(observation.detail).toContain("still the removed interface");
    // It kept looking for the window, and no longer.
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(Date.now() - started).toBeLessThan(2000);
    await iface.rollback(step, applied, ctx);
    expect(fake.state().meshif.bat0.interfaces).toEqual(["mesh0", "mesh1"]);
  });

  test("batman_interface - inactive with verify_originator fails when no route to the originator is left", async () => {
    fake.setOriginators("[]\n");
    const step = stepOf("batman_interface", inactive({ verify_originator: FAR, verify_within_ms: 0 }));
    const applied = await iface.apply(step, ctx);
    const observation = await iface.verify(step, applied, ctx);
    expect(observation.ok).toBe(false);
    expect(observation.detail).toContain(`no best route to ${FAR}`);
  });

  test("batman_interface - active with verify_originator: attached, and a best route to the originator exists", async () => {
    fake.setState({ meshif: { bat0: { hop_penalty: 30, interfaces: ["mesh0"] } }, hardif: { mesh0: { hop_penalty: 0 } } });
    const step = stepOf(
      "batman_interface",
      BatmanInterfaceParams.parse({ node: "n1", mesh_interface: "bat0", interface: "mesh1", state: "active", verify_originator: FAR, verify_within_ms: 200 }),
    );
    const applied = await iface.apply(step, ctx);
    expect(applied.undo).toEqual({ attached: false });
    expect(fake.state().meshif.bat0.interfaces).toEqual(["mesh0", "mesh1"]);
    expect((await iface.verify(step, applied, ctx)).ok).toBe(false);
    fake.setOriginators(table("mesh1"));
    const observation = await iface.verify(step, applied, ctx);
    expect(observation).toMatchObject({ ok: true });
    expect(observation.detail).toContain("mesh1 in bat0 as active");
    await iface.rollback(step, applied, ctx);
    expect(fake.state().meshif.bat0.interfaces).toEqual(["mesh0"]);
  });

  test("batman_interface - active is not verified while the interface is attached but inactive (its link down)", async () => {
    fake.setState({
      meshif: { bat0: { hop_penalty: 30, interfaces: ["mesh0", "mesh1"] } },
      hardif: { mesh0: { hop_penalty: 0 }, mesh1: { hop_penalty: 0, active: false } },
    });
    const step = stepOf(
      "batman_interface",
      BatmanInterfaceParams.parse({ node: "n1", mesh_interface: "bat0", interface: "mesh1", state: "active", verify_within_ms: 0 }),
    );
    const applied = await iface.apply(step, ctx);
    expect(applied.detail).toContain("(already so)");
    const observation = await iface.verify(step, applied, ctx);
    expect(observation).toMatchObject({ ok: false });
    expect(observation.detail).toContain("as inactive (want active)");
  });

  test("batman_interface - the last hard interface of a mesh interface is never removed", async () => {
    fake.setState({ meshif: { bat0: { hop_penalty: 30, interfaces: ["primary0"] } }, hardif: { primary0: { hop_penalty: 0 } } });
    const step = stepOf("batman_interface", inactive({ interface: "primary0" }));
    const journaled = ctx.journaled.length;
    await expect(iface.apply(step, ctx)).rejects.toThrow(/refusing to remove primary0, the last hard interface of bat0/);
    expect(ctx.journaled.length).toBe(journaled);
    expect(fake.state().meshif.bat0.interfaces).toEqual(["primary0"]);
  });

  test("batman_interface - a missing mesh interface stops a step before anything changes", async () => {
    const step = stepOf("batman_interface", BatmanInterfaceParams.parse({ node: "n1", mesh_interface: "bat1", interface: "mesh1", state: "active" }));
    const journaled = ctx.journaled.length;
    await expect(iface.apply(step, ctx)).rejects.toThrow(/bat1 is not present/);
    expect(ctx.journaled.length).toBe(journaled);
  });

  test("batman_interface - invalid params are rejected: no interface name with a space, a MAC of six pairs, a window of 0-30000 ms", () => {
    expect(BatmanInterfaceParams.safeParse({ node: "n1", mesh_interface: "bat0", interface: "a b", state: "active" }).success).toBe(false);
    const ifOf = (extra: Record<string, unknown>) =>
      BatmanInterfaceParams.safeParse({ node: "n1", mesh_interface: "bat0", interface: "mesh1", state: "inactive", ...extra });
    expect(ifOf({ verify_originator: "2A:36:58:D8:91:4F" }).data?.verify_originator).toBe(FAR);
    expect(issuesOf(ifOf({ verify_originator: "2a:36:58:d8:91" }))).toMatch(/MAC address/);
    expect(ifOf({ verify_within_ms: -1 }).success).toBe(false);
    expect(ifOf({ verify_within_ms: 60_000 }).success).toBe(false);
  });
});

describe("batman_interface (namespaces)", () => {
  const ctx = testContext("site");
  const nsControl = (extra: Parameters<typeof batmanControl>[0] = {}) =>
    batmanControl({ batctl: fake.nsBatctl, ip: fake.ip, netnsTemplate: "x0-{node}", ...extra });
  const down = (node: string, iface: string, index = 0) =>
    stepOf("batman_interface", BatmanInterfaceParams.parse({ node, mesh_interface: "bat0", interface: iface, state: "inactive" }), index);

  test("batman_interface - both ends of a link in one batch: one journal write before any change, each node in its own namespace", async () => {
    const iface = batmanInterfaceActuator(nsControl());
    const batchCtx = testContext("site");
    const ends = [down("n1", "v21", 0), down("n2", "v23", 1)];
    const { results, changedBeforeJournal } = await applyBatchJournaled(
      iface,
      ends,
      batchCtx,
      () => fake.nsState("x0-n1").meshif.bat0.interfaces.length !== 3 || fake.nsState("x0-n2").meshif.bat0.interfaces.length !== 3,
    );
    expect(changedBeforeJournal).toBe(false);
    // One step per namespace: the fake batctl keeps each namespace's state in a file without locking.
    expect(batchCtx.journaled.map((item) => item.step.index)).toEqual([0, 1]);
    expect(detailsOf(results)).toEqual(["n1: v21 removed from bat0", "n2: v23 removed from bat0"]);
    expect(fake.nsState("x0-n1").meshif.bat0.interfaces).toEqual(["primary0", "v23"]);
    expect(fake.nsState("x0-n2").meshif.bat0.interfaces).toEqual(["primary0", "v21"]);
  });

  test("batman_interface - with `masters`, it lists, detaches and restores over it (no batctl spawn); verification still reads batctl", async () => {
    const calls: string[] = [];
    const iface = batmanInterfaceActuator(nsControl({ masters: fake.masters(calls) }));
    const step = down("n2", "v23");
    const applied = await iface.apply(step, ctx);
    expect(applied.detail).toBe("n2: v23 removed from bat0");
    expect(calls).toEqual(["links x0-n2", "setMaster x0-n2 v23 null"]);
    expect(fake.ipCalls()).toEqual([]);
    expect(fake.nsState("x0-n2").meshif.bat0.interfaces).toEqual(["primary0", "v21"]);
    expect((await iface.verify(step, applied, ctx)).ok).toBe(true);
    expect(fake.ipCalls()).toEqual([`netns exec x0-n2 ${fake.nsBatctl} meshif bat0 interface`]);
    await iface.rollback(step, applied, ctx);
    expect(calls.slice(2)).toEqual(["links x0-n2", "setMaster x0-n2 v23 bat0"]);
    expect(fake.nsState("x0-n2").meshif.bat0.interfaces).toEqual(["primary0", "v21", "v23"]);

    // The last hard interface is refused here too, and a missing mesh interface is named.
    fake.setNsState("x0-n1", { meshif: { bat0: { interfaces: ["primary0"] } } });
    await expect(iface.apply(down("n1", "primary0"), ctx)).rejects.toThrow(/refusing to remove primary0, the last hard interface of bat0/);
    const other = stepOf("batman_interface", BatmanInterfaceParams.parse({ node: "n1", mesh_interface: "bat1", interface: "v12", state: "inactive" }));
    await expect(iface.apply(other, ctx)).rejects.toThrow(/n1: no mesh interface bat1/);
    expect(fake.nsState("x0-n1").meshif.bat0.interfaces).toEqual(["primary0"]);
  });

  test("batman_interface - with `mesh`, verification reads the interface status and the originator table over it (no batctl spawn)", async () => {
    const calls: string[] = [];
    const iface = batmanInterfaceActuator(nsControl({ mesh: fake.mesh(calls) }));
    fake.setOriginators(table("v21"));
    const step = stepOf(
      "batman_interface",
      BatmanInterfaceParams.parse({ node: "n2", mesh_interface: "bat0", interface: "v23", state: "inactive", verify_originator: FAR, verify_within_ms: 0 }),
    );
    const removed = await iface.apply(step, ctx);
    const seen = await iface.verify(step, removed, ctx);
    expect(seen).toMatchObject({ ok: true });
    expect(seen.detail).toContain(`best route to ${FAR} via v21`);
    expect(calls).toEqual(["hardInterfaces x0-n2 bat0", "originators x0-n2 bat0"]);
    fake.setOriginators(table("v23"));
    expect((await iface.verify(step, removed, ctx)).detail).toContain("still the removed interface");
    // Only the apply's listing and detach went through batctl here (no `masters`); neither verification spawned anything.
    expect(fake.ipCalls()).toEqual([
      `netns exec x0-n2 ${fake.nsBatctl} meshif bat0 interface`,
      `netns exec x0-n2 ${fake.nsBatctl} meshif bat0 interface del v23`,
    ]);
  });
});
