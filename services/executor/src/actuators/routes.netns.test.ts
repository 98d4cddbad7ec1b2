// The route actuator against real kernels: two network namespaces joined by two veth pairs, made by this test.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RouteParams, type RouteUndo, routesActuator } from "./routes.ts";
import { stepOf, testContext } from "./testing.ts";
import type { Applied, Step } from "./types.ts";

const root = process.getuid?.() === 0;
if (!root) console.warn("routes.netns.test: skipped, needs root (network namespaces and veth pairs)");

// x0e<pid><node>: unique per run, and a leftover of a crashed run is recognised by its dead pid.
const STEM = `x0e${process.pid}`;
const ns = (node: string) => `${STEM}${node}`;
const dir = mkdtempSync(join(tmpdir(), "x0-routes-"));
const log = join(dir, "ip.log");

function sh(argv: string[]): string {
  const result = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${result.stderr.toString()}`);
  return result.stdout.toString();
}
const tryRun = (argv: string[]) => Bun.spawnSync(argv, { stdout: "ignore", stderr: "ignore" });
const routeOf = (node: string, prefix: string) => JSON.parse(sh(["ip", "-j", "-n", ns(node), "route", "show", `${prefix}/32`]))[0];

function removeLeftovers(): void {
  if (!existsSync("/run/netns")) return;
  for (const name of readdirSync("/run/netns")) {
    const match = /^x0e(\d+)[ab]$/.exec(name);
    if (!match) continue;
    const pid = Number(match[1]);
    let alive = pid === process.pid;
    try {
      process.kill(pid, 0);
      alive = true;
    } catch {}
    if (!alive || pid === process.pid) tryRun(["ip", "netns", "delete", name]);
  }
}

// An ip that records each invocation, so the test can count spawns (one batch per namespace).
const recordingIp = join(dir, "ip");
writeFileSync(recordingIp, `#!/bin/sh\nprintf '%s\\n' "$*" >> ${JSON.stringify(log)}\nexec ip "$@"\n`, { mode: 0o755 });
const spawns = () => (existsSync(log) ? readFileSync(log, "utf8").trim().split("\n").filter(Boolean) : []);
const resetLog = () => writeFileSync(log, "");

describe.skipIf(!root)("routes (netns)", () => {
  beforeAll(() => {
    removeLeftovers();
    sh(["ip", "netns", "add", ns("a")]);
    sh(["ip", "netns", "add", ns("b")]);
    for (const [k, a, b] of [
      [1, "a1", "b1"],
      [2, "a2", "b2"],
    ] as const) {
      sh(["ip", "-n", ns("a"), "link", "add", a, "type", "veth", "peer", "name", b, "netns", ns("b")]);
      sh(["ip", "-n", ns("a"), "addr", "add", `10.214.${k}.1/30`, "dev", a]);
      sh(["ip", "-n", ns("b"), "addr", "add", `10.214.${k}.2/30`, "dev", b]);
      sh(["ip", "-n", ns("a"), "link", "set", a, "up"]);
      sh(["ip", "-n", ns("b"), "link", "set", b, "up"]);
    }
    for (const node of ["a", "b"]) sh(["ip", "-n", ns(node), "link", "set", "lo", "up"]);
    sh(["ip", "-n", ns("a"), "addr", "add", "10.255.214.1/32", "dev", "lo"]);
    sh(["ip", "-n", ns("b"), "addr", "add", "10.255.214.2/32", "dev", "lo"]);
    // A route that the plan will replace, and must come back on rollback.
    sh(["ip", "-n", ns("a"), "route", "add", "10.255.214.9/32", "via", "10.214.1.2", "dev", "a1", "src", "10.255.214.1"]);
  });
  afterAll(() => {
    for (const node of ["a", "b"]) tryRun(["ip", "netns", "delete", ns(node)]);
    rmSync(dir, { recursive: true, force: true });
  });

  const actuator = routesActuator({ ip: recordingIp, netnsTemplate: `${STEM}{node}` });
  const params = (node: string, prefix: string, via: string, dev: string, src?: string) =>
    RouteParams.parse({ node, destination: "x", prefix: `${prefix}/32`, via, dev, ...(src ? { src } : {}) });

  test("routes (netns) - a batch replaces routes in one ip spawn, reads them back, and rolls back to the previous routes", async () => {
    const ctx = testContext("controller");
    const steps: Step<RouteParams>[] = [
      stepOf("route_replace", params("a", "10.255.214.9", "10.214.2.2", "a2", "10.255.214.1"), 0),
      stepOf("route_replace", params("a", "10.255.214.10", "10.214.1.2", "a1", "10.255.214.1"), 1),
      stepOf("route_replace", params("a", "10.255.214.11", "10.214.2.2", "a2"), 2),
    ];
    resetLog();
    const applied = (await actuator.applyBatch?.(steps, ctx)) ?? [];
    expect(applied.every((result) => !(result instanceof Error))).toBe(true);
    // One read of the table and one batch: not one spawn per step.
    expect(spawns()).toEqual([`-n ${ns("a")} -j route show table main`, `-n ${ns("a")} -force -batch -`]);
    expect(ctx.journaled.map((item) => item.undo)).toEqual([
      { netns: ns("a"), previous: { gateway: "10.214.1.2", dev: "a1", prefsrc: "10.255.214.1" } },
      { netns: ns("a"), previous: null },
      { netns: ns("a"), previous: null },
    ]);
    expect(routeOf("a", "10.255.214.9")).toMatchObject({ gateway: "10.214.2.2", dev: "a2", prefsrc: "10.255.214.1" });

    const items = steps.map((step, k) => ({ step, applied: applied[k] as Applied<RouteUndo> }));
    resetLog();
    const observations = (await actuator.verifyBatch?.(items, ctx)) ?? [];
    expect(observations.map((o) => o.ok)).toEqual([true, true, true]);
    expect(spawns()).toHaveLength(1);

    // Someone else changes a route: the read-back sees it.
    sh(["ip", "-n", ns("a"), "route", "replace", "10.255.214.11/32", "via", "10.214.1.2", "dev", "a1"]);
    expect((await actuator.verify(steps[2] as Step<RouteParams>, items[2]?.applied as Applied<RouteUndo>, ctx)).ok).toBe(false);

    expect(await actuator.rollbackBatch?.([...items].reverse(), ctx)).toEqual([undefined, undefined, undefined]);
    expect(routeOf("a", "10.255.214.9")).toMatchObject({ gateway: "10.214.1.2", dev: "a1", prefsrc: "10.255.214.1" });
    expect(routeOf("a", "10.255.214.10")).toBeUndefined();
    // The route that someone else changed is not ours to delete (del names our via and dev): it stays.
    expect(routeOf("a", "10.255.214.11")).toMatchObject({ gateway: "10.214.1.2" });
    sh(["ip", "-n", ns("a"), "route", "del", "10.255.214.11/32"]);
    // Rolling back again is harmless (idempotent).
    expect(await actuator.rollbackBatch?.([items[1] as (typeof items)[number]], ctx)).toEqual([undefined]);
  });

  test("routes (netns) - a line the kernel refuses fails that step only; namespaces are changed in parallel, one spawn each", async () => {
    const ctx = testContext("controller");
    const steps = [
      stepOf("route_replace", params("a", "10.255.214.20", "10.214.1.2", "a1"), 0),
      stepOf("route_replace", params("a", "10.255.214.21", "10.99.0.1", "a1"), 1),
      stepOf("route_replace", params("b", "10.255.214.22", "10.214.2.1", "b2"), 2),
    ];
    resetLog();
    const applied = (await actuator.applyBatch?.(steps, ctx)) ?? [];
    expect(applied[0]).not.toBeInstanceOf(Error);
    expect(applied[1]).toBeInstanceOf(Error);
    expect((applied[1] as Error).message).toMatch(/10\.255\.214\.21\/32 via 10\.99\.0\.1 dev a1 in netns .*: .*(unreachable|invalid gateway)/i);
    expect(applied[2]).not.toBeInstanceOf(Error);
    expect(spawns().filter((line) => line.includes("-batch"))).toHaveLength(2);
    expect(routeOf("b", "10.255.214.22")).toMatchObject({ gateway: "10.214.2.1", dev: "b2" });
    const items = [0, 2].map((k) => ({ step: steps[k] as Step<RouteParams>, applied: applied[k] as Applied<RouteUndo> }));
    expect(await actuator.rollbackBatch?.(items, ctx)).toEqual([undefined, undefined]);
    expect(routeOf("a", "10.255.214.20")).toBeUndefined();
    expect(routeOf("b", "10.255.214.22")).toBeUndefined();
  });

  test("routes (netns) - the check before a change: a next hop reachable on its device passes, one not on it fails, one read per namespace", async () => {
    const ctx = testContext("controller");
    const steps = [
      stepOf("route_replace", params("a", "10.255.214.30", "10.214.1.2", "a1"), 0),
      stepOf("route_replace", params("a", "10.255.214.31", "10.214.1.2", "a2"), 1),
      stepOf("route_replace", params("b", "10.255.214.32", "10.214.2.1", "b2"), 2),
    ];
    resetLog();
    const problems = (await actuator.checkBatch?.(steps, ctx)) ?? [];
    expect(problems[0]).toBeUndefined();
    expect(problems[1]).toBe("next hop 10.214.1.2 is not directly reachable on a2: the kernel routes it dev a1");
    expect(problems[2]).toBeUndefined();
    expect(spawns()).toHaveLength(2);
    // Nothing was changed by the check.
    expect(routeOf("a", "10.255.214.30")).toBeUndefined();
  });

  test("routes (netns) - a change after its check takes the previous routes the check read: one spawn; a prefix changed since is read again", async () => {
    const ctx = testContext("controller");
    sh(["ip", "-n", ns("a"), "route", "add", "10.255.214.40/32", "via", "10.214.1.2", "dev", "a1"]);
    const first = stepOf("route_replace", params("a", "10.255.214.40", "10.214.2.2", "a2"), 0);
    const second = stepOf("route_replace", params("a", "10.255.214.41", "10.214.2.2", "a2"), 1);
    resetLog();
    expect(await actuator.checkBatch?.([first, second], ctx)).toEqual([undefined, undefined]);
    expect(spawns()).toEqual([`-n ${ns("a")} -j -force -batch -`]);
    resetLog();
    const [applied] = (await actuator.applyBatch?.([first], ctx)) ?? [];
    expect(spawns()).toEqual([`-n ${ns("a")} -force -batch -`]);
    expect((applied as Applied<RouteUndo>).undo).toEqual({ netns: ns("a"), previous: { gateway: "10.214.1.2", dev: "a1" } });
    expect(routeOf("a", "10.255.214.40")).toMatchObject({ gateway: "10.214.2.2", dev: "a2" });
    // The other prefix is as the check read it; the one just changed is read again before it changes once more.
    resetLog();
    await actuator.applyBatch?.([second], ctx);
    expect(spawns()).toEqual([`-n ${ns("a")} -force -batch -`]);
    resetLog();
    const [again] = (await actuator.applyBatch?.([stepOf("route_replace", params("a", "10.255.214.40", "10.214.1.2", "a1"), 2)], ctx)) ?? [];
    expect(spawns()).toEqual([`-n ${ns("a")} -j route show table main`, `-n ${ns("a")} -force -batch -`]);
    expect((again as Applied<RouteUndo>).undo.previous).toMatchObject({ gateway: "10.214.2.2", dev: "a2" });
    for (const prefix of ["10.255.214.40", "10.255.214.41"]) sh(["ip", "-n", ns("a"), "route", "del", `${prefix}/32`]);
  });

  test("routes (netns) - params are validated before any command line: no injection through prefix, via or dev", () => {
    expect(RouteParams.safeParse({ node: "a", prefix: "10.0.0.1 dev lo", via: "10.0.0.2", dev: "a1" }).success).toBe(false);
    expect(RouteParams.safeParse({ node: "a", prefix: "10.0.0.1", via: "10.0.0.2\nroute flush all", dev: "a1" }).success).toBe(false);
    expect(RouteParams.safeParse({ node: "a", prefix: "10.0.0.1", via: "10.0.0.2", dev: "-batch" }).success).toBe(false);
    expect(RouteParams.safeParse({ node: "a b", prefix: "10.0.0.1", via: "10.0.0.2", dev: "a1" }).success).toBe(false);
    expect(RouteParams.parse({ node: "a", prefix: "10.0.0.1/32", via: "10.0.0.2", dev: "a1" }).prefix).toBe("10.0.0.1");
  });

  test("routes (netns) - without a namespace template only the executor's own node is handled, on the host", () => {
    const host = routesActuator({ netnsTemplate: "" });
    const ctx = testContext("n1");
    expect(host.handles(params("n1", "10.255.0.2", "10.0.0.2", "eth0"), ctx).ok).toBe(true);
    expect(host.handles(params("n2", "10.255.0.2", "10.0.0.2", "eth0"), ctx)).toMatchObject({ ok: false });
  });
});
