// `x0 lab record`: runs a schedule of faults on a running lab and records every node's telemetry beside the faults'
// times: training data for the swarm's link-health model (format: services/swarm/README.md "Recordings").
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import { cutNode, healLab, type LabPlan, setLinkLoss, validateNodeName } from "@x0/lab";
import { X0Error } from "@x0/shared";
import type { RecordingMeta } from "@x0/swarm";

/** A fault schedule that cannot be read. */
export class ScheduleError extends X0Error {}

/** One fault of a schedule and how long it lasts. */
export type ScheduledFault =
  | { kind: "cut"; a: string; b: string; durationMs: number }
  | { kind: "loss"; a: string; b: string; loss: number; durationMs: number }
  | { kind: "node-down"; a: string; durationMs: number };

function durationMsOf(text: string, item: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s)$/.exec(text);
  if (!match) throw new ScheduleError(`${item}: duration ${JSON.stringify(text)} is not like 500ms or 5s`);
  const value = Number(match[1]) * (match[2] === "s" ? 1000 : 1);
  if (value <= 0) throw new ScheduleError(`${item}: the duration must be positive`);
  return value;
}

/** Parses a schedule like `cut:n1-n2:5s,loss30:n2-n3:8s,node-down:n4:5s` (lossNN: NN % of frames dropped both ways). */
export function parseSchedule(spec: string): ScheduledFault[] {
  const items = spec.split(",").filter((item) => item.trim() !== "");
  if (items.length === 0) throw new ScheduleError("the schedule names no fault");
  return items.map((item) => {
    const [kind = "", target = "", duration = ""] = item.trim().split(":");
    const durationMs = durationMsOf(duration, item);
    if (kind === "node-down") return { kind, a: validateNodeName(target), durationMs };
    const [a = "", b = "", extra] = target.split("-");
    if (extra !== undefined || a === "" || b === "") throw new ScheduleError(`${item}: the link must be two nodes like n1-n2`);
    const link = { a: validateNodeName(a), b: validateNodeName(b) };
    if (kind === "cut") return { kind, ...link, durationMs };
    const loss = /^loss(\d{1,3})$/.exec(kind);
    if (loss && Number(loss[1]) > 0 && Number(loss[1]) < 100) return { kind: "loss", ...link, loss: Number(loss[1]) / 100, durationMs };
    throw new ScheduleError(`${item}: the kind must be cut, lossNN (1–99) or node-down`);
  });
}

/** A link's standing loss while the recording runs: the site's normal (labelled healthy), not a fault. */
export interface BackgroundLoss {
  a: string;
  b: string;
  loss: number;
}

/** Parses standing losses like `loss10:n1-n2,loss10:n3-n4`. */
export function parseBackground(spec: string): BackgroundLoss[] {
  return spec
    .split(",")
    .filter((item) => item.trim() !== "")
    .map((item) => {
      const [fault] = parseSchedule(`${item.trim()}:1s`);
      if (fault?.kind !== "loss") throw new ScheduleError(`${item}: a background must be lossNN:a-b`);
      return { a: fault.a, b: fault.b, loss: fault.loss };
    });
}

/** What a recording run needs. */
export interface RecordOptions {
  plan: LabPlan;
  /** A connection allowed to subscribe to x0.telemetry.*. */
  nc: NatsConnection;
  schedule: ScheduledFault[];
  /** Standing losses put in place first and again after each fault is taken away (healing clears every map). */
  background?: BackgroundLoss[];
  out: string;
  /** Healthy time before the first fault and after each one. */
  leadMs: number;
  gapMs: number;
  /** The monitors' hello interval (the lab runs them at 20 ms). */
  helloIntervalMs: number;
  /** Puts a fault in place (on) or takes every fault away (off); the lab's fault maps by default. */
  apply?: (fault: ScheduledFault, on: boolean) => Promise<void>;
  /** Puts the standing losses in place; the lab's fault maps by default. */
  applyBackground?: (background: readonly BackgroundLoss[]) => Promise<void>;
  log?: (line: string) => void;
  sleep?: (ms: number) => Promise<void>;
}

/** The lab's own faults: frames dropped both ways through the XDP fault maps; off heals the whole lab. */
export async function applyLabFault(plan: LabPlan, fault: ScheduledFault, on: boolean): Promise<void> {
  if (!on) {
    healLab(plan);
    return;
  }
  if (fault.kind === "node-down") await cutNode(plan, fault.a);
  else await setLinkLoss(plan, fault.a, fault.b, fault.kind === "cut" ? 1 : fault.loss);
}

/** Runs the schedule and records; returns what recording.json holds. Every fault is taken away again, whatever happens. */
export async function recordLab(options: RecordOptions): Promise<RecordingMeta> {
  const { plan, nc, schedule, out } = options;
  const apply = options.apply ?? ((fault: ScheduledFault, on: boolean) => applyLabFault(plan, fault, on));
  const sleep = options.sleep ?? ((ms: number) => Bun.sleep(ms));
  const log = options.log ?? (() => {});
  const background = options.background ?? [];
  const applyBackground =
    options.applyBackground ??
    (async (losses: readonly BackgroundLoss[]) => {
      for (const { a, b, loss } of losses) await setLinkLoss(plan, a, b, loss);
    });
  const nodes = plan.nodes.map((node) => node.name);
  mkdirSync(join(out, "telemetry"), { recursive: true });
  const writers = new Map(nodes.map((node) => [node, Bun.file(join(out, "telemetry", `${node}.jsonl`)).writer()]));
  const counts = new Map(nodes.map((node) => [node, 0]));
  const newline = new Uint8Array([10]);
  // Raw, as published: readRecording validates every line, so a recording never holds what the monitor did not send.
  const subscription = nc.subscribe("x0.telemetry.*", {
    callback: (error, msg) => {
      if (error) return;
      const node = msg.subject.split(".").at(-1) as string;
      const writer = writers.get(node);
      if (!writer) return;
      writer.write(msg.data);
      writer.write(newline);
      counts.set(node, (counts.get(node) ?? 0) + 1);
    },
  });
  await nc.flush();
  const startedAt = Date.now();
  const faults: RecordingMeta["faults"] = [];
  let active: ScheduledFault | undefined;
  try {
    if (background.length > 0) {
      await applyBackground(background);
      log(`standing loss ${background.map(({ a, b, loss }) => `${a}-${b} ${Math.round(loss * 100)} %`).join(", ")}`);
    }
    await sleep(options.leadMs);
    for (const fault of schedule) {
      active = fault;
      await apply(fault, true);
      const start = Date.now();
      log(`${new Date(start).toISOString()} ${describe(fault)} for ${fault.durationMs} ms`);
      await sleep(fault.durationMs);
      await apply(fault, false);
      active = undefined;
      const end = Date.now();
      if (background.length > 0) await applyBackground(background);
      faults.push(
        fault.kind === "node-down"
          ? { kind: "node-down", node: fault.a, start, end }
          : fault.kind === "cut"
            ? { kind: "cut", link: [fault.a, fault.b], start, end }
            : { kind: "loss", link: [fault.a, fault.b], loss: fault.loss, start, end },
      );
      await sleep(options.gapMs);
    }
  } finally {
    if (active || background.length > 0) await apply(active ?? (schedule[0] as ScheduledFault), false);
    subscription.unsubscribe();
    await Promise.all([...writers.values()].map((writer) => writer.end()));
  }
  const addresses: Record<string, string> = {};
  for (const link of plan.links) {
    addresses[link.a.address] = link.a.node;
    addresses[link.b.address] = link.b.node;
  }
  const meta: RecordingMeta = {
    v: 1,
    topology: plan.topology.spec,
    started_at: startedAt,
    ended_at: Date.now(),
    hello_interval_ms: options.helloIntervalMs,
    nodes,
    addresses,
    faults,
    ...(background.length > 0 ? { background: background.map(({ a, b, loss }) => ({ link: [a, b] as [string, string], loss })) } : {}),
  };
  writeFileSync(join(out, "recording.json"), `${JSON.stringify(meta, null, 2)}\n`);
  log(`recorded ${[...counts].map(([node, count]) => `${node} ${count}`).join(", ")} telemetry samples and ${faults.length} faults in ${out}`);
  return meta;
}

function describe(fault: ScheduledFault): string {
  if (fault.kind === "node-down") return `node ${fault.a} down`;
  return fault.kind === "cut" ? `link ${fault.a}-${fault.b} cut` : `link ${fault.a}-${fault.b} drops ${Math.round(fault.loss * 100)} %`;
}
