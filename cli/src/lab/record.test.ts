import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { defaultMgmtSubnet, parseTopology, planLab } from "@x0/lab";
import { startNatsServer } from "@x0/shared/testing";
import { RecordingMeta } from "@x0/swarm";
import { parseLabArgs } from "./args.ts";
import { parseBackground, parseSchedule, recordLab, type ScheduledFault, ScheduleError } from "./record.ts";

let nats: Awaited<ReturnType<typeof startNatsServer>>;
let nc: NatsConnection;
const root = mkdtempSync(join(tmpdir(), "x0-lab-record-"));
const plan = planLab(parseTopology("line:3"), "x0r1", defaultMgmtSubnet("x0r1"));

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
});
afterAll(async () => {
  await nc?.close();
  await nats?.dispose();
  rmSync(root, { recursive: true, force: true });
});

describe("lab record", () => {
  test("lab record - a schedule reads cuts, lossy links and nodes down with their durations; a bad one says which item", () => {
    expect(parseSchedule("cut:n1-n2:5s,loss30:n2-n3:800ms, node-down:n4:2.5s")).toEqual([
      { kind: "cut", a: "n1", b: "n2", durationMs: 5000 },
      { kind: "loss", a: "n2", b: "n3", loss: 0.3, durationMs: 800 },
      { kind: "node-down", a: "n4", durationMs: 2500 },
    ]);
    expect(() => parseSchedule("")).toThrow("the schedule names no fault");
    expect(() => parseSchedule("cut:n1-n2:5")).toThrow('cut:n1-n2:5: duration "5" is not like 500ms or 5s');
    expect(() => parseSchedule("cut:n1:5s")).toThrow("cut:n1:5s: the link must be two nodes like n1-n2");
    expect(() => parseSchedule("loss100:n1-n2:5s")).toThrow(ScheduleError);
    expect(() => parseSchedule("melt:n1-n2:5s")).toThrow("the kind must be cut, lossNN (1–99) or node-down");
    expect(parseLabArgs(["record", "--faults", "cut:n1-n2:3s", "--out", "/tmp/r", "--gap-s", "2"])).toEqual({
      command: "record",
      prefix: "x0",
      schedule: [{ kind: "cut", a: "n1", b: "n2", durationMs: 3000 }],
      out: "/tmp/r",
      leadMs: 10_000,
      gapMs: 2000,
      helloIntervalMs: 20,
    });
    expect(() => parseLabArgs(["record", "--out", "/tmp/r"])).toThrow("lab record needs --faults");
    expect(() => parseLabArgs(["record", "--faults", "cut:n1-n2", "--out", "/tmp/r"])).toThrow("--faults: cut:n1-n2: duration");
  });

  test("lab record - each node's telemetry is written as published, the faults with the times they were in place", async () => {
    const out = join(root, "run");
    const applied: string[] = [];
    // Telemetry of n1 and n2 every 20 ms, and of a node that is not in the lab (left out).
    let seq = 0;
    const publisher = setInterval(() => {
      for (const node of ["n1", "n2", "n9"]) nc.publish(`x0.telemetry.${node}`, JSON.stringify({ v: 1, node, seq: seq++ }));
    }, 20);
    const schedule: ScheduledFault[] = [
      { kind: "cut", a: "n1", b: "n2", durationMs: 150 },
      { kind: "loss", a: "n2", b: "n3", loss: 0.3, durationMs: 150 },
    ];
    const meta = await recordLab({
      plan,
      nc,
      schedule,
      out,
      leadMs: 100,
      gapMs: 100,
      helloIntervalMs: 20,
      apply: async (fault, on) => void applied.push(`${fault.kind} ${on ? "on" : "off"}`),
    });
    clearInterval(publisher);
    expect(applied).toEqual(["cut on", "cut off", "loss on", "loss off"]);
    expect(RecordingMeta.parse(JSON.parse(readFileSync(join(out, "recording.json"), "utf8")))).toEqual(meta);
    expect(meta.nodes).toEqual(["n1", "n2", "n3"]);
    expect(meta.faults.map((fault) => [fault.kind, fault.end - fault.start >= 150])).toEqual([
      ["cut", true],
      ["loss", true],
    ]);
    expect(meta.faults[1]).toMatchObject({ kind: "loss", link: ["n2", "n3"], loss: 0.3 });
    expect(Object.values(meta.addresses).sort()).toEqual(["n1", "n2", "n2", "n3"]);
    const lines = readFileSync(join(out, "telemetry", "n1.jsonl"), "utf8")
      .trim()
      .split("\n");
    expect(lines.length).toBeGreaterThan(15);
    expect(lines.every((line) => JSON.parse(line).node === "n1")).toBe(true);
    expect(readFileSync(join(out, "telemetry", "n3.jsonl"), "utf8")).toBe("");
    expect(existsSync(join(out, "telemetry", "n9.jsonl"))).toBe(false);
  });

  test("lab record - standing losses (a site's normal) are in place first and again after each fault, and recorded", async () => {
    expect(parseBackground("loss10:n1-n2, loss5:n2-n3")).toEqual([
      { a: "n1", b: "n2", loss: 0.1 },
      { a: "n2", b: "n3", loss: 0.05 },
    ]);
    expect(() => parseBackground("cut:n1-n2")).toThrow(/a background must be lossNN:a-b/);
    expect(parseLabArgs(["record", "--faults", "cut:n1-n2:1s", "--out", "d", "--background", "loss10:n1-n2"])).toMatchObject({
      background: [{ a: "n1", b: "n2", loss: 0.1 }],
    });
    const steps: string[] = [];
    const meta = await recordLab({
      plan,
      nc,
      schedule: [{ kind: "cut", a: "n1", b: "n2", durationMs: 20 }],
      background: [{ a: "n1", b: "n2", loss: 0.1 }],
      out: join(root, "background"),
      leadMs: 0,
      gapMs: 0,
      helloIntervalMs: 20,
      apply: async (fault, on) => void steps.push(`${fault.kind} ${on ? "on" : "off"}`),
      applyBackground: async (losses) => void steps.push(`background ${losses.length}`),
    });
    // Healing takes every fault map away, the standing loss too: it is put back after each fault, and healed at the end.
    expect(steps).toEqual(["background 1", "cut on", "cut off", "background 1", "cut off"]);
    expect(meta.background).toEqual([{ link: ["n1", "n2"], loss: 0.1 }]);
  });

  test("lab record - a failure while a fault is in place still takes the fault away, and the error comes through", async () => {
    const applied: string[] = [];
    const run = recordLab({
      plan,
      nc,
      schedule: [{ kind: "node-down", a: "n2", durationMs: 50 }],
      out: join(root, "failed"),
      leadMs: 0,
      gapMs: 0,
      helloIntervalMs: 20,
      apply: async (fault, on) => void applied.push(`${fault.kind} ${on ? "on" : "off"}`),
      sleep: async (ms) => {
        if (ms === 50) throw new Error("interrupted");
      },
    });
    expect(run).rejects.toThrow("interrupted");
    await run.catch(() => {});
    expect(applied).toEqual(["node-down on", "node-down off"]);
  });
});
