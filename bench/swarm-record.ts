// Records labelled lab traces for the swarm's model: a lab with monitors only, a fault schedule, every node's telemetry
// (`x0 lab record` on a lab this script builds and removes). `--gzip` writes telemetry as .jsonl.gz (shipped fixtures).
import { readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { parseBackground, parseSchedule, recordLab } from "../cli/src/lab/record.ts";
import { labRunnable, startHealLab } from "../test/lab-stack.ts";

/** What one recording run needs. */
export interface LabTraceOptions {
  topology: string;
  faults: string;
  /** Standing losses like loss10:n1-n2 (a site's normal). */
  background?: string;
  out: string;
  leadMs: number;
  gapMs: number;
  gzip: boolean;
  prefix?: string;
  log?: (line: string) => void;
}

/** Builds a lab (monitors and NATS only), records the schedule into `out`, removes the lab. */
export async function recordLabTraces(options: LabTraceOptions): Promise<void> {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const lab = await startHealLab({ topology: options.topology, prefix: options.prefix ?? `x0r${process.pid % 100_000}`, services: [] });
  try {
    await recordLab({
      plan: lab.plan,
      nc: lab.nc,
      schedule: parseSchedule(options.faults),
      background: parseBackground(options.background ?? ""),
      out: options.out,
      leadMs: options.leadMs,
      gapMs: options.gapMs,
      helloIntervalMs: 20,
      log,
    });
  } finally {
    await lab.stop();
  }
  if (options.gzip) {
    const dir = join(options.out, "telemetry");
    for (const name of readdirSync(dir).filter((file) => file.endsWith(".jsonl"))) {
      const path = join(dir, name);
      writeFileSync(`${path}.gz`, Bun.gzipSync(await Bun.file(path).bytes(), { level: 9 }));
      rmSync(path);
    }
  }
}

if (import.meta.main) {
  if (!labRunnable) throw new Error("recording needs root (namespaces, XDP) and nats-server on PATH");
  const { values } = parseArgs({
    options: {
      topology: { type: "string", default: "grid:2x2" },
      faults: { type: "string" },
      background: { type: "string", default: "" },
      out: { type: "string" },
      "lead-s": { type: "string", default: "5" },
      "gap-s": { type: "string", default: "5" },
      gzip: { type: "boolean", default: false },
    },
  });
  if (!values.faults || !values.out)
    throw new Error("usage: bun bench/swarm-record.ts --faults cut:n1-n2:5s,... --out DIR [--background loss10:n1-n2,...] [--topology grid:2x2] [--gzip]");
  await recordLabTraces({
    topology: values.topology,
    faults: values.faults,
    background: values.background,
    out: values.out,
    leadMs: Number(values["lead-s"]) * 1000,
    gapMs: Number(values["gap-s"]) * 1000,
    gzip: values.gzip,
  });
  process.exit(0);
}
