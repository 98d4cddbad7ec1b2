import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BatmanMesh, LinkMasters } from "@x0/shared";
import {
  AggregationParams,
  BatmanInterfaceParams,
  bandwidthUnits,
  batctlActuators,
  bestRoute,
  GwModeParams,
  gwRestoreArgs,
  HopPenaltyParams,
  OrigIntervalParams,
  parseEnabled,
  parseGwMode,
  parseOriginators,
  throughputUnits,
} from "./batctl.ts";
import { stepOf, testContext } from "./testing.ts";
import type { Step } from "./types.ts";

const FAKE = join(import.meta.dir, "..", "..", "test", "batctl");
const dir = mkdtempSync(join(tmpdir(), "x0-batctl-"));
const statePath = join(dir, "state.json");
const originatorsPath = join(dir, "oj.json");
const state = () => JSON.parse(readFileSync(statePath, "utf8"));
const setState = (value: unknown) => writeFileSync(statePath, JSON.stringify(value));
// Spawned commands get the environment the test process started with, so the fake's settings go into a wrapper script.
const wrapper = (name: string, env: Record<string, string>) => {
  const path = join(dir, name);
  const exports = Object.entries(env).map(([key, value]) => `${key}=${JSON.stringify(value)}`);
  writeFileSync(path, `#!/bin/sh\nexport ${exports.join(" ")}\nexec ${JSON.stringify(FAKE)} "$@"\n`, { mode: 0o755 });
  return path;
};
const env = { FAKE_BATCTL_STATE: statePath, FAKE_BATCTL_BUN: process.execPath, FAKE_BATCTL_ORIGINATORS: originatorsPath };
const BATCTL = wrapper("batctl", env);
const FAILING = wrapper("batctl-failing", { ...env, FAKE_BATCTL_FAIL: "hop_penalty" });

// `batctl meshif bat0 oj` of n2, recorded on a real batman-adv mesh (/work/shared/fixtures/batctl/real-4node.txt).
const REAL_N2_OJ =
  '[{"hard_ifindex":3,"hard_ifname":"v21","orig_address":"1e:a9:2d:ea:81:f5","best":true,"last_seen_msecs":296,"neigh_address":"1e:a9:2d:ea:81:f5","tq":147},{"hard_ifindex":9,"hard_ifname":"v24","orig_address":"c2:2d:43:4d:db:f3","best":true,"last_seen_msecs":776,"neigh_address":"c2:2d:43:4d:db:f3","tq":110},{"hard_ifindex":9,"hard_ifname":"v24","orig_address":"2a:36:58:d8:91:4f","last_seen_msecs":376,"neigh_address":"c2:2d:43:4d:db:f3","tq":51},{"hard_ifindex":5,"hard_ifname":"v23","orig_address":"2a:36:58:d8:91:4f","best":true,"last_seen_msecs":376,"neigh_address":"2a:36:58:d8:91:4f","tq":133},{"hard_ifindex":9,"hard_ifname":"v24","orig_address":"c2:73:38:cf:1a:fe","best":true,"last_seen_msecs":60,"neigh_address":"c2:2d:43:4d:db:f3","tq":110},{"hard_ifindex":5,"hard_ifname":"v23","orig_address":"c2:73:38:cf:1a:fe","last_seen_msecs":60,"neigh_address":"2a:36:58:d8:91:4f","tq":63}]';

const FAR = "2a:36:58:d8:91:4f";
/** An originator table where the best route to FAR goes through `best` and a worse one through `other`. */
const table = (best: string, other?: string) =>
  JSON.stringify([
    { hard_ifindex: 3, hard_ifname: best, orig_address: FAR, best: true, last_seen_msecs: 100, neigh_address: "42:93:28:47:96:b3", tq: 133 },
    ...(other ? [{ hard_ifindex: 4, hard_ifname: other, orig_address: FAR, last_seen_msecs: 100, neigh_address: "c2:2d:43:4d:db:f3", tq: 51 }] : []),
  ]);

beforeEach(() => {
  setState({ meshif: { bat0: { hop_penalty: 30, interfaces: ["mesh0", "mesh1"] } }, hardif: { mesh0: { hop_penalty: 0 }, mesh1: { hop_penalty: 0 } } });
  rmSync(originatorsPath, { force: true });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("batctl parsers", () => {
  test("batctl - parses real `oj` output: one best route per originator, `best` only when true", () => {
    const entries = parseOriginators(REAL_N2_OJ);
    expect(entries).toHaveLength(6);
    expect(bestRoute(entries, FAR)).toMatchObject({ hard_ifname: "v23", tq: 133, neigh_address: FAR });
    expect(bestRoute(entries, "C2:73:38:CF:1A:FE")).toMatchObject({ hard_ifname: "v24", tq: 110 });
    expect(bestRoute(entries, "02:00:00:00:00:01")).toBeUndefined();
    // An interface taken down leaves an empty table (recorded as `[]`); empty output is read the same way.
    expect(parseOriginators("[]\n")).toEqual([]);
    expect(parseOriginators("")).toEqual([]);
    expect(() => parseOriginators("Error - mesh interface bat0 has no primary interface")).toThrow(/not JSON/);
    expect(() => parseOriginators('{"orig_address":"x"}')).toThrow(/not a JSON array/);
  });

  test("batctl - parses aggregation as batctl prints it; anything else is an error quoting the output", () => {
    expect(parseEnabled("enabled\n")).toBe(true);
    expect(parseEnabled("disabled\n")).toBe(false);
    expect(() => parseEnabled("Error - interface bat0 is not present")).toThrow(/printed "Error - interface bat0 is not present", not enabled or disabled/);
  });

  test("batctl - parses gw_mode as batctl prints it, tolerant of the text after the mode", () => {
    expect(parseGwMode("off\n")).toEqual({ mode: "off" });
    expect(parseGwMode("client (selection class: 20)\n")).toEqual({ mode: "client", sel_class: { value: 20, mbit: false } });
    expect(parseGwMode("client (selection criteria: 20)")).toEqual({ mode: "client", sel_class: { value: 20, mbit: false } });
    expect(parseGwMode("client (selection class: 1.5 MBit)")).toEqual({ mode: "client", sel_class: { value: 15, mbit: true } });
    expect(parseGwMode("server (announced bw: 10.0/2.0 MBit)")).toEqual({ mode: "server", bandwidth: { down: 100, up: 20 } });
    expect(parseGwMode("server")).toEqual({ mode: "server" });
    expect(() => parseGwMode("unknown")).toThrow(/not a gateway mode/);
    expect(gwRestoreArgs(parseGwMode("server (announced bw: 10.0/2.0 MBit)"))).toEqual({ mode: "server", argument: "10000kbit/2000kbit" });
    expect(gwRestoreArgs(parseGwMode("client (selection class: 1.5 MBit)"))).toEqual({ mode: "client", argument: "1500kbit" });
    expect(gwRestoreArgs(parseGwMode("client (selection class: 20)"))).toEqual({ mode: "client", argument: "20" });
  });

  test("batctl - throughput arguments in batman-adv's 100 kbit/s units, as batctl converts them", () => {
    expect(throughputUnits("10000")).toBe(100);
    expect(throughputUnits("10000kbit")).toBe(100);
    expect(throughputUnits("10MBit")).toBe(100);
    expect(throughputUnits("150")).toBe(1);
    expect(throughputUnits("10 mbit")).toBeUndefined();
    expect(bandwidthUnits("10000/2000")).toEqual({ down: 100, up: 20 });
    expect(bandwidthUnits("10mbit")).toEqual({ down: 100 });
    expect(bandwidthUnits("10mbit/2mbit/1")).toBeUndefined();
  });
});

describe("batctl", () => {
  const [hop, iface, interval, gw, aggregation] = batctlActuators({ batctl: BATCTL });
  const ctx = testContext("n1");

  test("batctl - hop_penalty of the mesh interface: applied, read back, rolled back to the previous value", async () => {
    const step = stepOf("batman_hop_penalty", HopPenaltyParams.parse({ node: "n1", mesh_interface: "bat0", value: "60" }));
    const applied = await hop.apply(step, ctx);
    expect(applied.undo).toEqual({ previous: 30 });
    expect(ctx.journaled.at(-1)?.undo).toEqual({ previous: 30 });
    expect(state().meshif.bat0.hop_penalty).toBe(60);
    expect((await hop.verify(step, applied, ctx)).ok).toBe(true);
    await hop.rollback(step, applied, ctx);
    expect(state().meshif.bat0.hop_penalty).toBe(30);
    expect((await hop.verify(step, applied, ctx)).ok).toBe(false);
  });

  test("batctl - hop_penalty of a hard interface goes through `hardif <if>`", async () => {
    const step = stepOf("batman_hop_penalty", HopPenaltyParams.parse({ node: "n1", mesh_interface: "bat0", interface: "mesh1", value: 100 }));
    const applied = await hop.apply(step, ctx);
    expect(state().hardif.mesh1.hop_penalty).toBe(100);
    expect(state().meshif.bat0.hop_penalty).toBe(30);
    await hop.rollback(step, applied, ctx);
    expect(state().hardif.mesh1.hop_penalty).toBe(0);
  });

  test("batctl - an interface set inactive leaves the mesh and comes back on rollback", async () => {
    const step = stepOf("batman_interface", BatmanInterfaceParams.parse({ node: "n1", mesh_interface: "bat0", interface: "mesh1", state: "inactive" }));
    const applied = await iface.apply(step, ctx);
    expect(applied.undo).toEqual({ attached: true });
    expect(ctx.journaled.at(-1)?.undo).toEqual({ attached: true });
    expect(state().meshif.bat0.interfaces).toEqual(["mesh0"]);
    expect((await iface.verify(step, applied, ctx)).ok).toBe(true);
    await iface.rollback(step, applied, ctx);
    expect(state().meshif.bat0.interfaces).toContain("mesh1");
  });

  test("batctl - inactive with verify_originator: verify waits for batman-adv to re-route around the removed interface", async () => {
    writeFileSync(originatorsPath, table("mesh1", "mesh0"));
    const step = stepOf(
      "batman_interface",
      BatmanInterfaceParams.parse({ node: "n1", mesh_interface: "bat0", interface: "mesh1", state: "inactive", verify_originator: FAR.toUpperCase() }),
    );
    expect(step.params.verify_within_ms).toBe(3000);
    const applied = await iface.apply(step, ctx);
    // batman-adv drops the routes through mesh1 a moment later; the best one is then through mesh0.
    const started = Date.now();
    const reroute = Bun.sleep(400).then(() => writeFileSync(originatorsPath, table("mesh0")));
    const observation = await iface.verify(step, applied, ctx);
    await reroute;
    expect(observation.ok).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    expect(observation.detail).toContain(`best route to ${FAR} via mesh0 (tq 133, next hop 42:93:28:47:96:b3)`);
    expect(observation.detail).toContain("mesh1 in bat0 as absent");
  });

  test("batctl - inactive with verify_originator fails while the best route still uses the removed interface, then rolls back", async () => {
    writeFileSync(originatorsPath, table("mesh1", "mesh0"));
    const step = stepOf(
      "batman_interface",
      BatmanInterfaceParams.parse({
        node: "n1",
        mesh_interface: "bat0",
        interface: "mesh1",
        state: "inactive",
        verify_originator: FAR,
        verify_within_ms: "300",
      }),
    );
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
    expect(state().meshif.bat0.interfaces).toEqual(["mesh0", "mesh1"]);
  });

  test("batctl - inactive with verify_originator fails when no route to the originator is left", async () => {
    writeFileSync(originatorsPath, "[]\n");
    const step = stepOf(
      "batman_interface",
      BatmanInterfaceParams.parse({ node: "n1", mesh_interface: "bat0", interface: "mesh1", state: "inactive", verify_originator: FAR, verify_within_ms: 0 }),
    );
    const applied = await iface.apply(step, ctx);
    const observation = await iface.verify(step, applied, ctx);
    expect(observation.ok).toBe(false);
    expect(observation.detail).toContain(`no best route to ${FAR}`);
  });

  test("batctl - active with verify_originator: attached, and a best route to the originator exists", async () => {
    setState({ meshif: { bat0: { hop_penalty: 30, interfaces: ["mesh0"] } }, hardif: { mesh0: { hop_penalty: 0 } } });
    const step = stepOf(
      "batman_interface",
      BatmanInterfaceParams.parse({ node: "n1", mesh_interface: "bat0", interface: "mesh1", state: "active", verify_originator: FAR, verify_within_ms: 200 }),
    );
    const applied = await iface.apply(step, ctx);
    expect(applied.undo).toEqual({ attached: false });
    expect(state().meshif.bat0.interfaces).toEqual(["mesh0", "mesh1"]);
    expect((await iface.verify(step, applied, ctx)).ok).toBe(false);
    writeFileSync(originatorsPath, table("mesh1"));
    const observation = await iface.verify(step, applied, ctx);
    expect(observation).toMatchObject({ ok: true });
    expect(observation.detail).toContain("mesh1 in bat0 as active");
    await iface.rollback(step, applied, ctx);
    expect(state().meshif.bat0.interfaces).toEqual(["mesh0"]);
  });

  test("batctl - active is not verified while the interface is attached but inactive (its link down)", async () => {
    setState({
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

  test("batctl - the last hard interface of a mesh interface is never removed", async () => {
    setState({ meshif: { bat0: { hop_penalty: 30, interfaces: ["primary0"] } }, hardif: { primary0: { hop_penalty: 0 } } });
    const step = stepOf("batman_interface", BatmanInterfaceParams.parse({ node: "n1", mesh_interface: "bat0", interface: "primary0", state: "inactive" }));
    const journaled = ctx.journaled.length;
    await expect(iface.apply(step, ctx)).rejects.toThrow(/refusing to remove primary0, the last hard interface of bat0/);
    expect(ctx.journaled.length).toBe(journaled);
    expect(state().meshif.bat0.interfaces).toEqual(["primary0"]);
  });

  test("batctl - orig_interval: applied, read back, rolled back to the previous value", async () => {
    const step = stepOf("batman_orig_interval", OrigIntervalParams.parse({ node: "n1", mesh_interface: "bat0", value: "250" }));
    const applied = await interval.apply(step, ctx);
    expect(applied.undo).toEqual({ previous: 1000 });
    expect(ctx.journaled.at(-1)?.undo).toEqual({ previous: 1000 });
    expect(state().meshif.bat0.orig_interval).toBe(250);
    const observation = await interval.verify(step, applied, ctx);
    expect(observation).toMatchObject({ ok: true, detail: "batctl reads orig_interval 250 ms on bat0 (want 250 ms)" });
    await interval.rollback(step, applied, ctx);
    expect(state().meshif.bat0.orig_interval).toBe(1000);
    expect((await interval.verify(step, applied, ctx)).ok).toBe(false);
  });

  test("batctl - aggregation off: applied, read back, rolled back to enabled", async () => {
    const step = stepOf("batman_aggregation", AggregationParams.parse({ node: "n1", mesh_interface: "bat0", enabled: false }));
    const applied = await aggregation.apply(step, ctx);
    expect(applied.undo).toEqual({ previous: true });
    expect(ctx.journaled.at(-1)?.undo).toEqual({ previous: true });
    expect(applied.detail).toBe("n1: aggregation of bat0 enabled → disabled");
    expect(state().meshif.bat0.aggregated_ogms).toBe(false);
    expect(await aggregation.verify(step, applied, ctx)).toMatchObject({ ok: true, detail: "batctl reads aggregation disabled on bat0 (want disabled)" });
    await aggregation.rollback(step, applied, ctx);
    expect(state().meshif.bat0.aggregated_ogms).toBe(true);
    expect(await aggregation.verify(step, applied, ctx)).toMatchObject({ ok: false, detail: "batctl reads aggregation enabled on bat0 (want disabled)" });
  });

  test("batctl - gw_mode server with a bandwidth: applied, read back, rolled back to off", async () => {
    const step = stepOf("batman_gw_mode", GwModeParams.parse({ node: "n1", mesh_interface: "bat0", mode: "server", bandwidth: "50mbit/10mbit" }));
    const applied = await gw.apply(step, ctx);
    expect(applied.undo).toEqual({ previous: { mode: "off" } });
    expect(ctx.journaled.at(-1)?.undo).toEqual({ previous: { mode: "off" } });
    expect(state().meshif.bat0).toMatchObject({ gw_mode: "server", gw_bandwidth_down: 500, gw_bandwidth_up: 100 });
    const observation = await gw.verify(step, applied, ctx);
    expect(observation).toMatchObject({ ok: true, detail: "batctl reads gw_mode server 50000kbit/10000kbit on bat0 (want server 50mbit/10mbit)" });
    await gw.rollback(step, applied, ctx);
    expect(state().meshif.bat0.gw_mode).toBe("off");
    expect((await gw.verify(step, applied, ctx)).ok).toBe(false);
  });

  test("batctl - gw_mode client: rollback restores the server mode read before, bandwidth included", async () => {
    setState({
      meshif: { bat0: { hop_penalty: 30, interfaces: ["mesh0"], gw_mode: "server", gw_bandwidth_down: 30, gw_bandwidth_up: 5 } },
      hardif: { mesh0: { hop_penalty: 0 } },
    });
    const step = stepOf("batman_gw_mode", GwModeParams.parse({ node: "n1", mesh_interface: "bat0", mode: "client", sel_class: 40 }));
    const applied = await gw.apply(step, ctx);
    expect(applied.undo).toEqual({ previous: { mode: "server", argument: "3000kbit/500kbit" } });
    expect(state().meshif.bat0).toMatchObject({ gw_mode: "client", gw_sel_class: 40 });
    expect((await gw.verify(step, applied, ctx)).ok).toBe(true);
    // Someone sets another bandwidth meanwhile; the rollback brings back the one read before the step.
    setState({ ...state(), meshif: { bat0: { ...state().meshif.bat0, gw_bandwidth_down: 1, gw_bandwidth_up: 1 } } });
    await gw.rollback(step, applied, ctx);
    expect(state().meshif.bat0).toMatchObject({ gw_mode: "server", gw_bandwidth_down: 30, gw_bandwidth_up: 5 });
  });

  test("batctl - gw_mode client with a class batman-adv ignores is not verified", async () => {
    const step = stepOf("batman_gw_mode", GwModeParams.parse({ node: "n1", mesh_interface: "bat0", mode: "client", sel_class: "300" }));
    const applied = await gw.apply(step, ctx);
    const observation = await gw.verify(step, applied, ctx);
    expect(observation).toMatchObject({ ok: false, detail: "batctl reads gw_mode client 20 on bat0 (want client 300)" });
    await gw.rollback(step, applied, ctx);
    expect(state().meshif.bat0.gw_mode).toBe("off");
  });

  test("batctl - a failing batctl is an error naming the command, and the value is unchanged", async () => {
    const [failing] = batctlActuators({ batctl: FAILING });
    const step = stepOf("batman_hop_penalty", HopPenaltyParams.parse({ node: "n1", mesh_interface: "bat0", value: 60 }));
    await expect(failing.apply(step, ctx)).rejects.toThrow(/hop_penalty 60 exited 1: Error - hop_penalty: Operation not permitted/);
    expect(state().meshif.bat0.hop_penalty).toBe(30);
  });

  test("batctl - a missing mesh interface stops a step before anything changes", async () => {
    const step = stepOf("batman_interface", BatmanInterfaceParams.parse({ node: "n1", mesh_interface: "bat1", interface: "mesh1", state: "active" }));
    const journaled = ctx.journaled.length;
    await expect(iface.apply(step, ctx)).rejects.toThrow(/bat1 is not present/);
    expect(ctx.journaled.length).toBe(journaled);
  });

  test("batctl - params are validated: no option-looking interface names, penalty within 0-255, only this node", () => {
    expect(HopPenaltyParams.safeParse({ node: "n1", mesh_interface: "-h", value: 1 }).success).toBe(false);
    expect(HopPenaltyParams.safeParse({ node: "n1", mesh_interface: "bat0", value: 256 }).success).toBe(false);
    expect(BatmanInterfaceParams.safeParse({ node: "n1", mesh_interface: "bat0", interface: "a b", state: "active" }).success).toBe(false);
    expect(hop.handles(HopPenaltyParams.parse({ node: "n2", mesh_interface: "bat0", value: 1 }), ctx).ok).toBe(false);
  });

  test("batctl - invalid params of the new settings are rejected with a message naming the problem", () => {
    const issue = (result: { success: boolean; error?: { issues: { message: string }[] } }) => result.error?.issues.map((i) => i.message).join("; ");
    const bad = (value: unknown) => OrigIntervalParams.safeParse({ node: "n1", mesh_interface: "bat0", value });
    expect(issue(bad(39))).toMatch(/at least 40 ms/);
    expect(issue(bad(60_001))).toMatch(/at most 60000 ms/);
    expect(bad("fast").success).toBe(false);
    expect(bad(1000.5).success).toBe(false);

    const gwOf = (extra: Record<string, unknown>) => GwModeParams.safeParse({ node: "n1", mesh_interface: "bat0", ...extra });
    expect(gwOf({ mode: "server", bandwidth: 10_000 }).success).toBe(true);
    expect(gwOf({ mode: "server", bandwidth: "10000/2000" }).success).toBe(true);
    expect(gwOf({ mode: "client" }).success).toBe(true);
    expect(gwOf({ mode: "on" }).success).toBe(false);
    expect(issue(gwOf({ mode: "off", bandwidth: "10mbit" }))).toMatch(/bandwidth is for mode server only, not off/);
    expect(issue(gwOf({ mode: "server", sel_class: 20 }))).toMatch(/sel_class is for mode client only, not server/);
    expect(issue(gwOf({ mode: "server", bandwidth: "10 mbit" }))).toMatch(/bandwidth must be down\[\/up\]/);
    expect(issue(gwOf({ mode: "server", bandwidth: "50" }))).toMatch(/at least 100 kbit\/s/);
    expect(issue(gwOf({ mode: "server", bandwidth: "10mbit/--help" }))).toMatch(/bandwidth must be/);
    expect(issue(gwOf({ mode: "client", sel_class: "-1" }))).toMatch(/sel_class must be/);

    // `enabled` is a JSON boolean: the string "false" would be true to a coercion, so it is refused.
    expect(AggregationParams.safeParse({ node: "n1", mesh_interface: "bat0", enabled: "false" }).success).toBe(false);
    expect(AggregationParams.safeParse({ node: "n1", mesh_interface: "-bat0", enabled: false }).success).toBe(false);

    const ifOf = (extra: Record<string, unknown>) =>
      BatmanInterfaceParams.safeParse({ node: "n1", mesh_interface: "bat0", interface: "mesh1", state: "inactive", ...extra });
    expect(ifOf({ verify_originator: "2A:36:58:D8:91:4F" }).data?.verify_originator).toBe(FAR);
    expect(issue(ifOf({ verify_originator: "2a:36:58:d8:91" }))).toMatch(/MAC address/);
    expect(ifOf({ verify_within_ms: -1 }).success).toBe(false);
    expect(ifOf({ verify_within_ms: 60_000 }).success).toBe(false);
  });
});

describe("batctl (namespaces)", () => {
  // An ip that records its argv and runs `netns exec <ns> <command...>` with the fake's state of that namespace.
  const ipLog = join(dir, "ip.log");
  const fakeIp = join(dir, "ip");
  writeFileSync(
    fakeIp,
    `#!/bin/sh\nprintf '%s\\n' "$*" >> ${JSON.stringify(ipLog)}\n[ "$1" = netns ] && [ "$2" = exec ] || { echo "fake ip: only netns exec" >&2; exit 2; }\nns="$3"\nshift 3\nFAKE_BATCTL_STATE=${JSON.stringify(dir)}/"$ns".json exec "$@"\n`,
    { mode: 0o755 },
  );
  // No FAKE_BATCTL_STATE here: the fake ip chooses the namespace's state.
  const NS_BATCTL = wrapper("batctl-ns", { FAKE_BATCTL_BUN: process.execPath, FAKE_BATCTL_ORIGINATORS: originatorsPath });
  const nsState = (ns: string) => JSON.parse(readFileSync(join(dir, `${ns}.json`), "utf8"));
  const ipCalls = () => (existsSync(ipLog) ? readFileSync(ipLog, "utf8").trim().split("\n").filter(Boolean) : []);
  const ctx = testContext("site");

  beforeEach(() => {
    writeFileSync(ipLog, "");
    for (const ns of ["x0-n1", "x0-n2"])
      writeFileSync(
        join(dir, `${ns}.json`),
        JSON.stringify({ meshif: { bat0: { hop_penalty: 30, interfaces: ["primary0", "v21", "v23"] } }, hardif: { primary0: { hop_penalty: 0 } } }),
      );
  });

  test("batctl - with a namespace template, batctl runs as `ip netns exec <ns> batctl ...` for the step's node", async () => {
    const [hop, iface, interval, gw] = batctlActuators({ batctl: NS_BATCTL, ip: fakeIp, netnsTemplate: "x0-{node}" });
    const step = stepOf("batman_hop_penalty", HopPenaltyParams.parse({ node: "n2", mesh_interface: "bat0", value: 60 }));
    expect(hop.handles(step.params, ctx)).toEqual({ ok: true });
    const applied = await hop.apply(step, ctx);
    expect(applied.detail).toBe("n2: hop_penalty of bat0 30 → 60");
    expect(ipCalls()).toEqual([`netns exec x0-n2 ${NS_BATCTL} meshif bat0 hop_penalty`, `netns exec x0-n2 ${NS_BATCTL} meshif bat0 hop_penalty 60`]);
    expect(nsState("x0-n2").meshif.bat0.hop_penalty).toBe(60);
    expect(nsState("x0-n1").meshif.bat0.hop_penalty).toBe(30);

    writeFileSync(ipLog, "");
    const down = stepOf("batman_interface", BatmanInterfaceParams.parse({ node: "n2", mesh_interface: "bat0", interface: "v23", state: "inactive" }));
    const removed = await iface.apply(down, ctx);
    expect(ipCalls()).toEqual([`netns exec x0-n2 ${NS_BATCTL} meshif bat0 interface`, `netns exec x0-n2 ${NS_BATCTL} meshif bat0 interface del v23`]);
    expect(nsState("x0-n2").meshif.bat0.interfaces).toEqual(["primary0", "v21"]);
    await iface.rollback(down, removed, ctx);
    expect(nsState("x0-n2").meshif.bat0.interfaces).toEqual(["primary0", "v21", "v23"]);

    const it = stepOf("batman_orig_interval", OrigIntervalParams.parse({ node: "n1", mesh_interface: "bat0", value: 500 }));
    expect((await interval.verify(it, await interval.apply(it, ctx), ctx)).ok).toBe(true);
    expect(nsState("x0-n1").meshif.bat0.orig_interval).toBe(500);
    const mode = stepOf("batman_gw_mode", GwModeParams.parse({ node: "n1", mesh_interface: "bat0", mode: "client" }));
    expect((await gw.verify(mode, await gw.apply(mode, ctx), ctx)).ok).toBe(true);
    expect(nsState("x0-n1").meshif.bat0.gw_mode).toBe("client");
    expect(ipCalls().every((line) => line.startsWith("netns exec x0-n"))).toBe(true);
  });

  test("batctl - both ends of a link in one batch: one journal write before any change, each node in its own namespace", async () => {
    const [, iface] = batctlActuators({ batctl: NS_BATCTL, ip: fakeIp, netnsTemplate: "x0-{node}" });
    const batchCtx = testContext("site");
    let changedBeforeJournal = false;
    const journalCtx = {
      ...batchCtx,
      beforeChange: async (items: { step: Step; undo: unknown }[]) => {
        changedBeforeJournal ||= nsState("x0-n1").meshif.bat0.interfaces.length !== 3 || nsState("x0-n2").meshif.bat0.interfaces.length !== 3;
        await batchCtx.beforeChange(items);
      },
    };
    const ends = [
      stepOf("batman_interface", BatmanInterfaceParams.parse({ node: "n1", mesh_interface: "bat0", interface: "v21", state: "inactive" }), 0),
      stepOf("batman_interface", BatmanInterfaceParams.parse({ node: "n2", mesh_interface: "bat0", interface: "v23", state: "inactive" }), 1),
    ];
    const results = await (iface.applyBatch as NonNullable<typeof iface.applyBatch>)(ends, journalCtx);
    expect(changedBeforeJournal).toBe(false);
    // One step per namespace: the fake batctl keeps each namespace's state in a file without locking.
    expect(batchCtx.journaled.map((item) => item.step.index)).toEqual([0, 1]);
    expect(results.map((result) => (result instanceof Error ? result.message : result.detail))).toEqual([
      "n1: v21 removed from bat0",
      "n2: v23 removed from bat0",
    ]);
    expect(nsState("x0-n1").meshif.bat0.interfaces).toEqual(["primary0", "v23"]);
    expect(nsState("x0-n2").meshif.bat0.interfaces).toEqual(["primary0", "v21"]);
  });

  test("batctl - with `masters`, batman_interface lists, detaches and restores over it (no batctl spawn); verification still reads batctl", async () => {
    // Masters over the fake's per-namespace state (rtnetlink itself is tested against the kernel in shared/src/netlink/netlink.netns.test.ts).
    const calls: string[] = [];
    const masters: LinkMasters = {
      links: (netns) => {
        calls.push(`links ${netns}`);
        const names: string[] = nsState(String(netns)).meshif.bat0.interfaces;
        return [{ index: 1, name: "bat0", master: 0 }, ...names.map((name, k) => ({ index: 10 + k, name, master: 1 })), { index: 9, name: "eth9", master: 0 }];
      },
      setMaster: (netns, name, master) => {
        calls.push(`setMaster ${netns} ${name} ${master}`);
        const saved = nsState(String(netns));
        const rest = saved.meshif.bat0.interfaces.filter((known: string) => known !== name);
        saved.meshif.bat0.interfaces = master === "bat0" ? [...rest, name] : rest;
        writeFileSync(join(dir, `${netns}.json`), JSON.stringify(saved));
      },
    };
    const [, iface] = batctlActuators({ batctl: NS_BATCTL, ip: fakeIp, netnsTemplate: "x0-{node}", masters });
    const down = stepOf("batman_interface", BatmanInterfaceParams.parse({ node: "n2", mesh_interface: "bat0", interface: "v23", state: "inactive" }));
    const applied = await iface.apply(down, ctx);
    expect(applied.detail).toBe("n2: v23 removed from bat0");
    expect(calls).toEqual(["links x0-n2", "setMaster x0-n2 v23 null"]);
    expect(ipCalls()).toEqual([]);
    expect(nsState("x0-n2").meshif.bat0.interfaces).toEqual(["primary0", "v21"]);
    expect((await iface.verify(down, applied, ctx)).ok).toBe(true);
    expect(ipCalls()).toEqual([`netns exec x0-n2 ${NS_BATCTL} meshif bat0 interface`]);
    await iface.rollback(down, applied, ctx);
    expect(calls.slice(2)).toEqual(["links x0-n2", "setMaster x0-n2 v23 bat0"]);
    expect(nsState("x0-n2").meshif.bat0.interfaces).toEqual(["primary0", "v21", "v23"]);

    // The last hard interface is refused here too, and a missing mesh interface is named.
    writeFileSync(join(dir, "x0-n1.json"), JSON.stringify({ meshif: { bat0: { interfaces: ["primary0"] } } }));
    const last = stepOf("batman_interface", BatmanInterfaceParams.parse({ node: "n1", mesh_interface: "bat0", interface: "primary0", state: "inactive" }));
    await expect(iface.apply(last, ctx)).rejects.toThrow(/refusing to remove primary0, the last hard interface of bat0/);
    const other = stepOf("batman_interface", BatmanInterfaceParams.parse({ node: "n1", mesh_interface: "bat1", interface: "v12", state: "inactive" }));
    await expect(iface.apply(other, ctx)).rejects.toThrow(/n1: no mesh interface bat1/);
    expect(nsState("x0-n1").meshif.bat0.interfaces).toEqual(["primary0"]);
  });

  test("batctl - with `mesh`, batman_orig_interval, batman_aggregation and a mesh's batman_hop_penalty read, set, verify and roll back over it (no batctl spawn)", async () => {
    // Mesh settings over the fake's per-namespace state (the generic netlink requests are tested in shared/src/netlink/netlink.test.ts).
    const calls: string[] = [];
    const mesh: Pick<BatmanMesh, "get" | "set" | "hardInterfaces" | "originators"> = {
      hardInterfaces: (netns, meshInterface) => {
        calls.push(`hardInterfaces ${netns} ${meshInterface}`);
        return new Map((nsState(String(netns)).meshif[meshInterface]?.interfaces ?? []).map((name: string) => [name, true]));
      },
      originators: (netns, meshInterface) => {
        calls.push(`originators ${netns} ${meshInterface}`);
        return parseOriginators(existsSync(originatorsPath) ? readFileSync(originatorsPath, "utf8") : "[]").map((o) => ({
          originator: o.orig_address,
          next_hop: o.neigh_address ?? "",
          interface: o.hard_ifname,
          tq: o.tq ?? 0,
          last_seen_ms: o.last_seen_msecs ?? 0,
          best: o.best === true,
        }));
      },
      get: (netns, meshInterface, setting) => {
        calls.push(`get ${netns} ${meshInterface} ${setting}`);
        return nsState(String(netns)).meshif[meshInterface]?.[setting] ?? { orig_interval: 1000, hop_penalty: 30, aggregated_ogms: 1 }[setting];
      },
      set: (netns, meshInterface, setting, value) => {
        calls.push(`set ${netns} ${meshInterface} ${setting} ${value}`);
        const saved = nsState(String(netns));
        saved.meshif[meshInterface][setting] = value;
        writeFileSync(join(dir, `${netns}.json`), JSON.stringify(saved));
      },
    };
    const [, , interval] = batctlActuators({ batctl: NS_BATCTL, ip: fakeIp, netnsTemplate: "x0-{node}", mesh });
    const steps = ["n1", "n2"].map((node, k) => stepOf("batman_orig_interval", OrigIntervalParams.parse({ node, mesh_interface: "bat0", value: 100 }), k));
    const results = await (interval.applyBatch as NonNullable<typeof interval.applyBatch>)(steps, ctx);
    expect(results.map((result) => (result instanceof Error ? result.message : result.detail))).toEqual([
      "n1: orig_interval of bat0 1000 ms → 100 ms",
      "n2: orig_interval of bat0 1000 ms → 100 ms",
    ]);
    expect(nsState("x0-n2").meshif.bat0.orig_interval).toBe(100);
    const first = results[0] as Exclude<(typeof results)[0], Error>;
    expect((await interval.verify(steps[0] as Step<OrigIntervalParams>, first, ctx)).ok).toBe(true);
    await interval.rollback(steps[0] as Step<OrigIntervalParams>, first, ctx);
    expect(nsState("x0-n1").meshif.bat0.orig_interval).toBe(1000);
    expect(calls).toEqual([
      "get x0-n1 bat0 orig_interval",
      "get x0-n2 bat0 orig_interval",
      "set x0-n1 bat0 orig_interval 100",
      "set x0-n2 bat0 orig_interval 100",
      "get x0-n1 bat0 orig_interval",
      "set x0-n1 bat0 orig_interval 1000",
    ]);
    expect(ipCalls()).toEqual([]);

    // The mesh's hop penalty, in one batch too; a hard interface's still goes through batctl (`hardif`).
    calls.length = 0;
    const [penalty] = batctlActuators({ batctl: NS_BATCTL, ip: fakeIp, netnsTemplate: "x0-{node}", mesh });
    expect(penalty.concurrencyGroup).toBe(interval.concurrencyGroup);
    const lower = ["n1", "n2"].map((node, k) => stepOf("batman_hop_penalty", HopPenaltyParams.parse({ node, mesh_interface: "bat0", value: 10 }), k));
    const lowered = await (penalty.applyBatch as NonNullable<typeof penalty.applyBatch>)(lower, ctx);
    expect(lowered.map((result) => (result instanceof Error ? result.message : result.detail))).toEqual([
      "n1: hop_penalty of bat0 30 → 10",
      "n2: hop_penalty of bat0 30 → 10",
    ]);
    expect(nsState("x0-n2").meshif.bat0.hop_penalty).toBe(10);
    const n1Lowered = lowered[0] as Exclude<(typeof lowered)[0], Error>;
    expect(await penalty.verify(lower[0] as Step<HopPenaltyParams>, n1Lowered, ctx)).toMatchObject({ ok: true });
    await penalty.rollback(lower[0] as Step<HopPenaltyParams>, n1Lowered, ctx);
    expect(nsState("x0-n1").meshif.bat0.hop_penalty).toBe(30);
    expect(calls).toEqual([
      "get x0-n1 bat0 hop_penalty",
      "get x0-n2 bat0 hop_penalty",
      "set x0-n1 bat0 hop_penalty 10",
      "set x0-n2 bat0 hop_penalty 10",
      "get x0-n1 bat0 hop_penalty",
      "set x0-n1 bat0 hop_penalty 30",
    ]);
    expect(ipCalls()).toEqual([]);
    const hardif = stepOf("batman_hop_penalty", HopPenaltyParams.parse({ node: "n1", mesh_interface: "bat0", interface: "primary0", value: 50 }));
    expect((await penalty.apply(hardif, ctx)).detail).toBe("n1: hop_penalty of bat0/primary0 0 → 50");
    expect(ipCalls()).toEqual([`netns exec x0-n1 ${NS_BATCTL} hardif primary0 hop_penalty`, `netns exec x0-n1 ${NS_BATCTL} hardif primary0 hop_penalty 50`]);
    writeFileSync(ipLog, "");

    // OGM aggregation too: a boolean as batman-adv's u8 (1 by default), in one batch.
    calls.length = 0;
    const [, , , , aggregation] = batctlActuators({ batctl: NS_BATCTL, ip: fakeIp, netnsTemplate: "x0-{node}", mesh });
    const off = ["n1", "n2"].map((node, k) => stepOf("batman_aggregation", AggregationParams.parse({ node, mesh_interface: "bat0", enabled: false }), k));
    const turnedOff = await (aggregation.applyBatch as NonNullable<typeof aggregation.applyBatch>)(off, ctx);
    expect(turnedOff.map((result) => (result instanceof Error ? result.message : result.detail))).toEqual([
      "n1: aggregation of bat0 enabled → disabled",
      "n2: aggregation of bat0 enabled → disabled",
    ]);
    const n2Off = turnedOff[1] as Exclude<(typeof turnedOff)[1], Error>;
    expect(await aggregation.verify(off[1] as Step<AggregationParams>, n2Off, ctx)).toMatchObject({ ok: true });
    await aggregation.rollback(off[1] as Step<AggregationParams>, n2Off, ctx);
    expect(nsState("x0-n2").meshif.bat0.aggregated_ogms).toBe(1);
    expect(nsState("x0-n1").meshif.bat0.aggregated_ogms).toBe(0);
    expect(calls).toEqual([
      "get x0-n1 bat0 aggregated_ogms",
      "get x0-n2 bat0 aggregated_ogms",
      "set x0-n1 bat0 aggregated_ogms 0",
      "set x0-n2 bat0 aggregated_ogms 0",
      "get x0-n2 bat0 aggregated_ogms",
      "set x0-n2 bat0 aggregated_ogms 1",
    ]);
    expect(ipCalls()).toEqual([]);

    // batman_interface's verification reads the interface status and the originator table over it too.
    calls.length = 0;
    const [, iface] = batctlActuators({ batctl: NS_BATCTL, ip: fakeIp, netnsTemplate: "x0-{node}", mesh });
    writeFileSync(originatorsPath, table("v21"));
    const down = stepOf(
      "batman_interface",
      BatmanInterfaceParams.parse({ node: "n2", mesh_interface: "bat0", interface: "v23", state: "inactive", verify_originator: FAR, verify_within_ms: 0 }),
    );
    const removed = await iface.apply(down, ctx);
    const seen = await iface.verify(down, removed, ctx);
    expect(seen).toMatchObject({ ok: true });
    expect(seen.detail).toContain(`best route to ${FAR} via v21`);
    expect(calls).toEqual(["hardInterfaces x0-n2 bat0", "originators x0-n2 bat0"]);
    writeFileSync(originatorsPath, table("v23"));
    expect((await iface.verify(down, removed, ctx)).detail).toContain("still the removed interface");
    // Only the apply's listing and detach went through batctl here (no `masters`); neither verification spawned anything.
    expect(ipCalls()).toEqual([`netns exec x0-n2 ${NS_BATCTL} meshif bat0 interface`, `netns exec x0-n2 ${NS_BATCTL} meshif bat0 interface del v23`]);
  });

  test("batctl - OGM intervals of several nodes in one batch: one journal write before any change, then each read back", async () => {
    const [, , interval] = batctlActuators({ batctl: NS_BATCTL, ip: fakeIp, netnsTemplate: "x0-{node}" });
    const batchCtx = testContext("site");
    const intervals = () => ["x0-n1", "x0-n2"].map((ns) => nsState(ns).meshif.bat0.orig_interval as number);
    // Different intervals per node: each rollback must restore its own node's.
    const before = [1000, 1500];
    for (const [k, ns] of ["x0-n1", "x0-n2"].entries()) {
      const state = nsState(ns);
      state.meshif.bat0.orig_interval = before[k];
      writeFileSync(join(dir, `${ns}.json`), JSON.stringify(state));
    }
    let changedBeforeJournal = false;
    const journalCtx = {
      ...batchCtx,
      beforeChange: async (items: { step: Step; undo: unknown }[]) => {
        changedBeforeJournal ||= intervals().some((value, k) => value !== before[k]);
        await batchCtx.beforeChange(items);
      },
    };
    const steps = ["n1", "n2"].map((node, index) =>
      stepOf("batman_orig_interval", OrigIntervalParams.parse({ node, mesh_interface: "bat0", value: 100 }), index),
    );
    const results = await (interval.applyBatch as NonNullable<typeof interval.applyBatch>)(steps, journalCtx);
    expect(changedBeforeJournal).toBe(false);
    expect(batchCtx.journaled.map((item) => [item.step.index, item.undo])).toEqual([
      [0, { previous: before[0] }],
      [1, { previous: before[1] }],
    ]);
    expect(results.map((result) => (result instanceof Error ? result.message : result.detail))).toEqual([
      `n1: orig_interval of bat0 ${before[0]} ms → 100 ms`,
      `n2: orig_interval of bat0 ${before[1]} ms → 100 ms`,
    ]);
    expect(intervals()).toEqual([100, 100]);
    for (const [k, step] of steps.entries()) {
      const applied = results[k];
      if (applied === undefined || applied instanceof Error) throw new Error("not applied");
      expect((await interval.verify(step, applied, batchCtx)).ok).toBe(true);
      await interval.rollback(step, applied, batchCtx);
    }
    expect(intervals()).toEqual(before);
  });

  test("batctl - detaching interfaces, OGM intervals, hop penalties and aggregation share a concurrency group (a repair applies them at once); gw_mode waits its turn", () => {
    const [hop, iface, interval, gw, aggregation] = batctlActuators({ batctl: NS_BATCTL });
    expect(iface.concurrencyGroup).toBeString();
    expect(interval.concurrencyGroup).toBe(iface.concurrencyGroup as string);
    expect(hop.concurrencyGroup).toBe(iface.concurrencyGroup as string);
    expect(aggregation.concurrencyGroup).toBe(iface.concurrencyGroup as string);
    expect(gw.concurrencyGroup).toBeUndefined();
  });

  test("batctl - which nodes an executor acts for: own node without a template, any with `{node}` in it", () => {
    const params = HopPenaltyParams.parse({ node: "n2", mesh_interface: "bat0", value: 1 });
    const own = HopPenaltyParams.parse({ node: "site", mesh_interface: "bat0", value: 1 });
    const [host] = batctlActuators({ batctl: NS_BATCTL });
    expect(host.handles(params, ctx)).toMatchObject({ ok: false, reason: expect.stringContaining("without X0_EXECUTOR_NETNS") });
    expect(host.handles(own, ctx)).toEqual({ ok: true });
    const [fixed] = batctlActuators({ batctl: NS_BATCTL, ip: fakeIp, netnsTemplate: "x0-site" });
    expect(fixed.handles(params, ctx)).toMatchObject({ ok: false, reason: expect.stringContaining("has no {node}") });
    expect(fixed.handles(own, ctx)).toEqual({ ok: true });
  });

  test("batctl - a namespace name that is not valid is refused before anything runs", async () => {
    const [hop] = batctlActuators({ batctl: NS_BATCTL, ip: fakeIp, netnsTemplate: "x0-{node}" });
    // Node ids may be 64 characters; with the prefix the namespace name would be longer than `ip netns` takes.
    const step = stepOf("batman_hop_penalty", HopPenaltyParams.parse({ node: "n".repeat(64), mesh_interface: "bat0", value: 1 }));
    await expect(hop.apply(step, ctx)).rejects.toThrow(/namespace "x0-n+" from X0_EXECUTOR_NETNS is not a valid name/);
    expect(ipCalls()).toEqual([]);
  });
});
