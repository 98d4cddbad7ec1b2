// Test helpers of the batman-adv actuators: the fake batctl (test/fake-batctl.ts) with its state files, a fake
// `ip netns exec` choosing a namespace's state, and in-process `masters` and `mesh` over the same state.
import { afterAll, beforeEach } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BatmanMesh, type LinkMasters, parseBatctlOriginators } from "@x0/shared";
import type { Actuator, ActuatorContext, Applied, Observation, Step } from "../types.ts";

const FAKE = join(import.meta.dir, "..", "..", "..", "test", "batctl");

/** An originator that is two hops away in the tables below. */
export const FAR = "2a:36:58:d8:91:4f";

/** An originator table (`oj`) where the best route to FAR goes through `best` and a worse one through `other`. */
export const table = (best: string, other?: string) =>
  JSON.stringify([
    { hard_ifindex: 3, hard_ifname: best, orig_address: FAR, best: true, last_seen_msecs: 100, neigh_address: "42:93:28:47:96:b3", tq: 133 },
    ...(other ? [{ hard_ifindex: 4, hard_ifname: other, orig_address: FAR, last_seen_msecs: 100, neigh_address: "c2:2d:43:4d:db:f3", tq: 51 }] : []),
  ]);

/**
 * A fake batman-adv for the calling test file, reset before each of its tests and removed after them: `batctl` keeps the
 * host's state (`state()`), `nsBatctl` run through `ip` keeps one state per namespace (`nsState(ns)`: x0-n1 and x0-n2).
 */
export function useFakeBatman() {
  const dir = mkdtempSync(join(tmpdir(), "x0-batctl-"));
  const statePath = join(dir, "state.json");
  const originatorsPath = join(dir, "oj.json");
  const ipLog = join(dir, "ip.log");
  // Spawned commands get the environment the test process started with, so the fake's settings go into a wrapper script.
  const wrapper = (name: string, env: Record<string, string>) => {
    const path = join(dir, name);
    const exports = Object.entries(env).map(([key, value]) => `${key}=${JSON.stringify(value)}`);
    writeFileSync(path, `#!/bin/sh\nexport ${exports.join(" ")}\nexec ${JSON.stringify(FAKE)} "$@"\n`, { mode: 0o755 });
    return path;
  };
  const env = { FAKE_BATCTL_STATE: statePath, FAKE_BATCTL_BUN: process.execPath, FAKE_BATCTL_ORIGINATORS: originatorsPath };
  // An ip that records its argv and runs `netns exec <ns> <command...>` with the fake's state of that namespace.
  const ip = join(dir, "ip");
  writeFileSync(
    ip,
    `#!/bin/sh\nprintf '%s\\n' "$*" >> ${JSON.stringify(ipLog)}\n[ "$1" = netns ] && [ "$2" = exec ] || { echo "fake ip: only netns exec" >&2; exit 2; }\nns="$3"\nshift 3\nFAKE_BATCTL_STATE=${JSON.stringify(dir)}/"$ns".json exec "$@"\n`,
    { mode: 0o755 },
  );
  const nsState = (ns: string) => JSON.parse(readFileSync(join(dir, `${ns}.json`), "utf8"));
  const setNsState = (ns: string, value: unknown) => writeFileSync(join(dir, `${ns}.json`), JSON.stringify(value));
  const setState = (value: unknown) => writeFileSync(statePath, JSON.stringify(value));
  const fake = {
    /** The host's batctl. */
    batctl: wrapper("batctl", env),
    /** The host's batctl, failing to set hop_penalty. */
    failingBatctl: wrapper("batctl-failing", { ...env, FAKE_BATCTL_FAIL: "hop_penalty" }),
    /** A batctl for `ip` to run in a namespace (no FAKE_BATCTL_STATE: the fake ip chooses the namespace's state). */
    nsBatctl: wrapper("batctl-ns", { FAKE_BATCTL_BUN: process.execPath, FAKE_BATCTL_ORIGINATORS: originatorsPath }),
    ip,
    state: () => JSON.parse(readFileSync(statePath, "utf8")),
    setState,
    nsState,
    setNsState,
    /** What `oj` prints from now on. */
    setOriginators: (text: string) => writeFileSync(originatorsPath, text),
    /** The argv of every `ip` run since the last reset, one line each. */
    ipCalls: (): string[] => (existsSync(ipLog) ? readFileSync(ipLog, "utf8").trim().split("\n").filter(Boolean) : []),
    clearIpCalls: () => writeFileSync(ipLog, ""),
    reset() {
      setState({ meshif: { bat0: { hop_penalty: 30, interfaces: ["mesh0", "mesh1"] } }, hardif: { mesh0: { hop_penalty: 0 }, mesh1: { hop_penalty: 0 } } });
      rmSync(originatorsPath, { force: true });
      writeFileSync(ipLog, "");
      for (const ns of ["x0-n1", "x0-n2"])
        setNsState(ns, { meshif: { bat0: { hop_penalty: 30, interfaces: ["primary0", "v21", "v23"] } }, hardif: { primary0: { hop_penalty: 0 } } });
    },
    /** Masters over the namespaces' state, recording each call in `calls` (rtnetlink itself: shared/src/netlink/netlink.netns.test.ts). */
    masters(calls: string[]): LinkMasters {
      return {
        links: (netns) => {
          calls.push(`links ${netns}`);
          const names: string[] = nsState(String(netns)).meshif.bat0.interfaces;
          return [
            { index: 1, name: "bat0", master: 0 },
            ...names.map((name, k) => ({ index: 10 + k, name, master: 1 })),
            { index: 9, name: "eth9", master: 0 },
          ];
        },
        setMaster: (netns, name, master) => {
          calls.push(`setMaster ${netns} ${name} ${master}`);
          const saved = nsState(String(netns));
          const rest = saved.meshif.bat0.interfaces.filter((known: string) => known !== name);
          saved.meshif.bat0.interfaces = master === "bat0" ? [...rest, name] : rest;
          setNsState(String(netns), saved);
        },
      };
    },
    /** Mesh settings and tables over the namespaces' state, recording each call in `calls` (the generic netlink requests: shared/src/netlink/netlink.test.ts). */
    mesh(calls: string[]): Pick<BatmanMesh, "get" | "set" | "hardInterfaces" | "originators"> {
      return {
        hardInterfaces: (netns, meshInterface) => {
          calls.push(`hardInterfaces ${netns} ${meshInterface}`);
          return new Map((nsState(String(netns)).meshif[meshInterface]?.interfaces ?? []).map((name: string) => [name, true]));
        },
        originators: (netns, meshInterface) => {
          calls.push(`originators ${netns} ${meshInterface}`);
          return parseBatctlOriginators(existsSync(originatorsPath) ? readFileSync(originatorsPath, "utf8") : "[]");
        },
        get: (netns, meshInterface, setting) => {
          calls.push(`get ${netns} ${meshInterface} ${setting}`);
          return nsState(String(netns)).meshif[meshInterface]?.[setting] ?? { orig_interval: 1000, hop_penalty: 30, aggregated_ogms: 1 }[setting];
        },
        set: (netns, meshInterface, setting, value) => {
          calls.push(`set ${netns} ${meshInterface} ${setting} ${value}`);
          const saved = nsState(String(netns));
          saved.meshif[meshInterface][setting] = value;
          setNsState(String(netns), saved);
        },
      };
    },
  };
  beforeEach(fake.reset);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return fake;
}

/** The details (or error messages) of a batch, in step order. */
export function detailsOf(results: readonly ({ detail: string } | Error)[]): string[] {
  return results.map((result) => (result instanceof Error ? result.message : result.detail));
}

/**
 * Applies `steps` in one batch with `journalCtx`, then checks that nothing changed before the batch was journaled (`changed`
 * read inside beforeChange): what the batch returned and whether anything had changed.
 */
export async function applyBatchJournaled<P, U>(
  actuator: Actuator<P, U>,
  steps: Step<P>[],
  ctx: ActuatorContext,
  changed: () => boolean,
): Promise<{ results: (Applied<U> | Error)[]; changedBeforeJournal: boolean }> {
  let changedBeforeJournal = false;
  const journalCtx = {
    ...ctx,
    beforeChange: async (items: readonly { step: Step; undo: unknown }[]) => {
      changedBeforeJournal ||= changed();
      await ctx.beforeChange(items);
    },
  };
  if (!actuator.applyBatch) throw new Error(`${actuator.type} does not batch`);
  return { results: await actuator.applyBatch(steps, journalCtx), changedBeforeJournal };
}

/** Verifies and then rolls back the `k`th of `steps` applied in one batch: the verification. */
export async function verifyThenRollBack<P, U>(
  actuator: Actuator<P, U>,
  steps: Step<P>[],
  results: readonly (Applied<U> | Error)[],
  k: number,
  ctx: ActuatorContext,
): Promise<Observation> {
  const [step, applied] = [steps[k], results[k]];
  if (step === undefined || applied === undefined || applied instanceof Error) throw new Error(`step ${k} was not applied: ${applied}`);
  const observation = await actuator.verify(step, applied, ctx);
  await actuator.rollback(step, applied, ctx);
  return observation;
}

/** The messages of a params check that failed, joined (undefined when it passed). */
export function issuesOf(result: { success: boolean; error?: { issues: { message: string }[] } }): string | undefined {
  return result.error?.issues.map((issue) => issue.message).join("; ");
}
