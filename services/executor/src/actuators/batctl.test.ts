import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BatmanInterfaceParams, batctlActuators, HopPenaltyParams, parseInterfaces } from "./batctl.ts";
import { stepOf, testContext } from "./testing.ts";

const FAKE = join(import.meta.dir, "..", "..", "test", "batctl");
const dir = mkdtempSync(join(tmpdir(), "x0-batctl-"));
const statePath = join(dir, "state.json");
const state = () => JSON.parse(readFileSync(statePath, "utf8"));
// Spawned commands get the environment the test process started with, so the fake's settings go into a wrapper script.
const wrapper = (name: string, env: Record<string, string>) => {
  const path = join(dir, name);
  const exports = Object.entries(env).map(([key, value]) => `${key}=${JSON.stringify(value)}`);
  writeFileSync(path, `#!/bin/sh\nexport ${exports.join(" ")}\nexec ${JSON.stringify(FAKE)} "$@"\n`, { mode: 0o755 });
  return path;
};
const env = { FAKE_BATCTL_STATE: statePath, FAKE_BATCTL_BUN: process.execPath };
const BATCTL = wrapper("batctl", env);
const FAILING = wrapper("batctl-failing", { ...env, FAKE_BATCTL_FAIL: "hop_penalty" });

beforeEach(() => {
  writeFileSync(
    statePath,
    JSON.stringify({ meshif: { bat0: { hop_penalty: 30, interfaces: ["mesh0", "mesh1"] } }, hardif: { mesh0: { hop_penalty: 0 }, mesh1: { hop_penalty: 0 } } }),
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("batctl", () => {
  const [hop, iface] = batctlActuators({ batctl: BATCTL });
  const ctx = testContext("n1");

  test("batctl - parses the interface listing", () => {
    expect(parseInterfaces("mesh0: active\nmesh1: inactive\n")).toEqual(
      new Map([
        ["mesh0", "active"],
        ["mesh1", "inactive"],
      ]),
    );
  });

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
    expect(state().meshif.bat0.interfaces).toEqual(["mesh0"]);
    expect((await iface.verify(step, applied, ctx)).ok).toBe(true);
    await iface.rollback(step, applied, ctx);
    expect(state().meshif.bat0.interfaces).toContain("mesh1");
  });

  test("batctl - a failing batctl is an error naming the command, and the value is unchanged", async () => {
    const [failing] = batctlActuators({ batctl: FAILING });
    const step = stepOf("batman_hop_penalty", HopPenaltyParams.parse({ node: "n1", mesh_interface: "bat0", value: 60 }));
    await expect(failing.apply(step, ctx)).rejects.toThrow(/hop_penalty 60 exited 1: Error - hop_penalty: Operation not permitted/);
    expect(state().meshif.bat0.hop_penalty).toBe(30);
  });

  test("batctl - params are validated: no option-looking interface names, penalty within 0-255, only this node", () => {
    expect(HopPenaltyParams.safeParse({ node: "n1", mesh_interface: "-h", value: 1 }).success).toBe(false);
    expect(HopPenaltyParams.safeParse({ node: "n1", mesh_interface: "bat0", value: 256 }).success).toBe(false);
    expect(BatmanInterfaceParams.safeParse({ node: "n1", mesh_interface: "bat0", interface: "a b", state: "active" }).success).toBe(false);
    expect(hop.handles(HopPenaltyParams.parse({ node: "n2", mesh_interface: "bat0", value: 1 }), ctx).ok).toBe(false);
  });
});
