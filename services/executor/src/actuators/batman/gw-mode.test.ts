import { describe, expect, test } from "bun:test";
import { stepOf, testContext } from "../testing.ts";
import { batmanControl } from "./control.ts";
import { GwModeParams, gwModeActuator, gwRestoreArgs, parseGwMode } from "./gw-mode.ts";
import { issuesOf, useFakeBatman } from "./testing.ts";

const fake = useFakeBatman();

describe("batman_gw_mode", () => {
  const gw = gwModeActuator(batmanControl({ batctl: fake.batctl }));
  const ctx = testContext("n1");

  test("batman_gw_mode - parses gw_mode as batctl prints it, tolerant of the text after the mode", () => {
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

  test("batman_gw_mode - server with a bandwidth: applied, read back, rolled back to off", async () => {
    const step = stepOf("batman_gw_mode", GwModeParams.parse({ node: "n1", mesh_interface: "bat0", mode: "server", bandwidth: "50mbit/10mbit" }));
    const applied = await gw.apply(step, ctx);
    expect(applied.undo).toEqual({ previous: { mode: "off" } });
    expect(ctx.journaled.at(-1)?.undo).toEqual({ previous: { mode: "off" } });
    expect(fake.state().meshif.bat0).toMatchObject({ gw_mode: "server", gw_bandwidth_down: 500, gw_bandwidth_up: 100 });
    const observation = await gw.verify(step, applied, ctx);
    expect(observation).toMatchObject({ ok: true, detail: "batctl reads gw_mode server 50000kbit/10000kbit on bat0 (want server 50mbit/10mbit)" });
    await gw.rollback(step, applied, ctx);
    expect(fake.state().meshif.bat0.gw_mode).toBe("off");
    expect((await gw.verify(step, applied, ctx)).ok).toBe(false);
  });

  test("batman_gw_mode - client: rollback restores the server mode read before, bandwidth included", async () => {
    fake.setState({
      meshif: { bat0: { hop_penalty: 30, interfaces: ["mesh0"], gw_mode: "server", gw_bandwidth_down: 30, gw_bandwidth_up: 5 } },
      hardif: { mesh0: { hop_penalty: 0 } },
    });
    const step = stepOf("batman_gw_mode", GwModeParams.parse({ node: "n1", mesh_interface: "bat0", mode: "client", sel_class: 40 }));
    const applied = await gw.apply(step, ctx);
    expect(applied.undo).toEqual({ previous: { mode: "server", argument: "3000kbit/500kbit" } });
    expect(fake.state().meshif.bat0).toMatchObject({ gw_mode: "client", gw_sel_class: 40 });
    expect((await gw.verify(step, applied, ctx)).ok).toBe(true);
    // Someone sets another bandwidth meanwhile; the rollback brings back the one read before the step.
    fake.setState({ ...fake.state(), meshif: { bat0: { ...fake.state().meshif.bat0, gw_bandwidth_down: 1, gw_bandwidth_up: 1 } } });
    await gw.rollback(step, applied, ctx);
    expect(fake.state().meshif.bat0).toMatchObject({ gw_mode: "server", gw_bandwidth_down: 30, gw_bandwidth_up: 5 });
  });

  test("batman_gw_mode - client with a class batman-adv ignores is not verified", async () => {
    const step = stepOf("batman_gw_mode", GwModeParams.parse({ node: "n1", mesh_interface: "bat0", mode: "client", sel_class: "300" }));
    const applied = await gw.apply(step, ctx);
    const observation = await gw.verify(step, applied, ctx);
    expect(observation).toMatchObject({ ok: false, detail: "batctl reads gw_mode client 20 on bat0 (want client 300)" });
    await gw.rollback(step, applied, ctx);
    expect(fake.state().meshif.bat0.gw_mode).toBe("off");
  });

  test("batman_gw_mode - invalid params are rejected with a message naming the problem", () => {
    const gwOf = (extra: Record<string, unknown>) => GwModeParams.safeParse({ node: "n1", mesh_interface: "bat0", ...extra });
    expect(gwOf({ mode: "server", bandwidth: 10_000 }).success).toBe(true);
    expect(gwOf({ mode: "server", bandwidth: "10000/2000" }).success).toBe(true);
    expect(gwOf({ mode: "client" }).success).toBe(true);
    expect(gwOf({ mode: "on" }).success).toBe(false);
    expect(issuesOf(gwOf({ mode: "off", bandwidth: "10mbit" }))).toMatch(/bandwidth is for mode server only, not off/);
    expect(issuesOf(gwOf({ mode: "server", sel_class: 20 }))).toMatch(/sel_class is for mode client only, not server/);
    expect(issuesOf(gwOf({ mode: "server", bandwidth: "10 mbit" }))).toMatch(/bandwidth must be down\[\/up\]/);
    expect(issuesOf(gwOf({ mode: "server", bandwidth: "50" }))).toMatch(/at least 100 kbit\/s/);
    expect(issuesOf(gwOf({ mode: "server", bandwidth: "10mbit/--help" }))).toMatch(/bandwidth must be/);
    expect(issuesOf(gwOf({ mode: "client", sel_class: "-1" }))).toMatch(/sel_class must be/);
  });
});
