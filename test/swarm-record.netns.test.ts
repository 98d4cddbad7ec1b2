// `x0 lab record` on a real lab (root): monitors in their namespaces, faults through the XDP fault maps, every node's
// telemetry recorded with the faults' times, then read back as the swarm's training samples with their labels.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "@x0/shared/testing";
import { LINK_FEATURES, readRecording, samplesOf } from "@x0/swarm";
import { type HealLab, labRunnable, startHealLab } from "./lab-stack.ts";

if (!labRunnable) process.stderr.write("swarm-record.netns.test.ts: skipped: needs root (namespaces, XDP) and nats-server on PATH\n");

const prefix = `x0s${process.pid % 1_000_000}`;
const out = mkdtempSync(join(tmpdir(), "x0-record-test-"));
let lab: HealLab;

beforeAll(async () => {
  if (!labRunnable) return;
  lab = await startHealLab({ topology: "line:3", prefix, services: [] });
}, 120_000);

afterAll(async () => {
  if (!labRunnable) return;
  await lab?.stop();
  rmSync(out, { recursive: true, force: true });
});

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);

describe.skipIf(!labRunnable)("x0 lab record on a line:3 lab", () => {
  test("lab record - the faults run, each node's telemetry is recorded, and its samples carry the right labels", async () => {
    const child = Bun.spawn(
      [
        process.execPath,
        join(REPO_ROOT, "cli", "src", "x0.ts"),
        "lab",
        "record",
        "--prefix",
        prefix,
        "--faults",
        "cut:n1-n2:3s,loss30:n2-n3:4s",
        "--out",
        out,
        "--lead-s",
        "3",
        "--gap-s",
        "3",
        "--nats",
        lab.nats.url,
      ],
      {
        env: {
          PATH: process.env.PATH ?? "",
          X0_STATE_DIR: lab.stateDir,
          X0_NATS_TLS_CA: lab.secure.adminTls.caFile,
          X0_NATS_TLS_CERT: lab.secure.adminTls.certFile,
          X0_NATS_TLS_KEY: lab.secure.adminTls.keyFile,
        },
        stdout: "pipe",
        stderr: "pipe",
      },
    );
    const [code, stdout, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
    expect(code, `${stdout}\n${stderr}`).toBe(0);
    expect(stdout).toContain("link n1-n2 cut for 3000 ms");

    const { meta, telemetry } = readRecording(out);
    expect(meta.faults.map((fault) => fault.kind)).toEqual(["cut", "loss"]);
    // The lab's monitors sample every 100 ms: about 16 s of recording.
    for (const node of ["n1", "n2", "n3"]) expect(telemetry.get(node)?.length ?? 0).toBeGreaterThan(80);

    const silence = LINK_FEATURES.indexOf("silence");
    const loss = LINK_FEATURES.indexOf("loss");
    const n1 = samplesOf(meta, "n1", telemetry.get("n1") ?? []);
    const down = n1.filter((sample) => sample.y === 2);
    const healthy = n1.filter((sample) => sample.y === 0);
    // n1 has one probed peer (n2): 3 s of cut at 100 ms samples.
    expect(down.length).toBeGreaterThan(20);
    expect(mean(down.map((sample) => sample.x[silence] as number))).toBeGreaterThan(0.8);
    expect(mean(healthy.map((sample) => sample.x[silence] as number))).toBeLessThan(0.3);
    const n3 = samplesOf(meta, "n3", telemetry.get("n3") ?? []);
    const degraded = n3.filter((sample) => sample.y === 1);
    expect(degraded.length).toBeGreaterThan(25);
    expect(mean(degraded.map((sample) => sample.x[loss] as number))).toBeGreaterThan(0.1);
    expect(mean(n3.filter((sample) => sample.y === 0).map((sample) => sample.x[loss] as number))).toBeLessThan(0.05);
  }, 90_000);
});
