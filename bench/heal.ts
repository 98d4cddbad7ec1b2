// bun run bench:heal: MTTD and MTTR of cuts, lossy links and node-downs on a grid:4x4 lab as a subscriber and the probe see
// them, then false positives over five fault-free minutes. Root only; writes bench/results/heal.json. Method and knobs:
// bench/README.md.
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { cutNode, healLab, LabProber, type ProbeEvent, type SummaryEvent, setLinkLoss } from "@x0/lab";
import type { Anomaly } from "@x0/shared";
import { REPO_ROOT, recordEvents } from "@x0/shared/testing";
import { type HealLab, labRunnable, startHealLab } from "../test/lab-stack.ts";
import { policyFileWith } from "./policy.ts";
import { restoredAfter } from "./restore.ts";
import { durationStats } from "./stats.ts";

const CUTS = Number(process.env.X0_BENCH_HEAL_CUTS ?? 20);
const LOSSES = Number(process.env.X0_BENCH_HEAL_LOSSES ?? 20);
const NODE_DOWNS = Number(process.env.X0_BENCH_HEAL_NODE_DOWNS ?? 10);
const QUIET_MS = Number(process.env.X0_BENCH_HEAL_QUIET_S ?? 300) * 1000;
const LOSS = 0.3;
const FROM = "n1";
const TO = "n16";
/** How long a fault may take to repair before the run counts it as not repaired. */
const REPAIR_TIMEOUT_MS = 15_000;
/** Clean probe window that counts as "flowing again" after a lossy link: every hello of 500 ms answered. */
const CLEAN_WINDOW_MS = 500;

if (!labRunnable) {
  process.stderr.write("bench:heal needs root (network namespaces, XDP) and nats-server on PATH\n");
  process.exit(1);
}

type Kind = "cut" | "loss30" | "node_down";
interface Sample {
  kind: Kind;
  target: string;
  injected_at: number;
  mttd_ms: number | null;
  mttr_ms: number | null;
  /** The first anomaly's kind, for the record. */
  detected_as: string | null;
}

const probeEvents: ProbeEvent[] = [];
/** Per link id, when it was last taken down by the run (cut or node-down): picking links that are not cooling down or flapping. */
const lastDown = new Map<string, number[]>();
/** Per link id, its last lossy-link fault. */
const lastFault = new Map<string, number>();

const stats = durationStats;

const linkIdOf = (a: string, b: string) => `link:${[a, b].sort().join("|")}`;

/** Links of the path n1 → n16 the kernel follows now, with the ones the planner would hold or defer left out. */
function candidateLinks(lab: HealLab, now: number): [string, string][] {
  const path = lab.pathOf(FROM, TO);
  const links = path.slice(0, -1).map((node, i) => [node, path[i + 1] as string] as [string, string]);
  // The default policy holds a link down after 3 downs in 60 s and defers a target's plans for 5 s: the bench measures
  // repair, so it picks links with at most one down in the last 65 s and none in the last 8 s.
  return links
    .filter(([a, b]) => {
      const downs = (lastDown.get(linkIdOf(a, b)) ?? []).filter((t) => t > now - 65_000);
      return downs.length < 2 && downs.every((t) => t < now - 8000) && (lastFault.get(linkIdOf(a, b)) ?? 0) < now - 8000;
    })
    .sort(([a1, b1], [a2, b2]) => (lastDown.get(linkIdOf(a1, b1))?.at(-1) ?? 0) - (lastDown.get(linkIdOf(a2, b2))?.at(-1) ?? 0));
}

function noteDown(id: string, at: number): void {
  lastDown.set(id, [...(lastDown.get(id) ?? []), at]);
}

/** The first opened anomaly received after `at` that is about the fault. */
async function detection(at: number, about: (anomaly: Anomaly) => boolean, timeoutMs: number): Promise<{ ms: number; kind: string } | null> {
  const found = await events.firstOpened(at, about, timeoutMs);
  return found ? { ms: found.at - at, kind: found.message.kind } : null;
}

/** After a lossy link: the start of the first CLEAN_WINDOW_MS in which every hello was answered (from 100 ms summaries). */
async function cleanAfter(at: number, timeoutMs: number): Promise<number | null> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const summaries = probeEvents.filter((e): e is SummaryEvent => e.event === "summary" && e.ts >= at);
    const window = Math.ceil(CLEAN_WINDOW_MS / 100);
    for (let i = 1; i + window < summaries.length; i++) {
      const start = summaries[i - 1] as SummaryEvent;
      const end = summaries[i + window - 1] as SummaryEvent;
      // One hello may be in flight at each edge.
      if (end.sent - start.sent >= window * 9 && end.received - start.received >= end.sent - start.sent - 1) return start.ts - at;
    }
    await Bun.sleep(50);
  }
  return null;
}

/** Heals everything and waits until incidents are resolved and plans have results, then lets things settle. */
async function settle(lab: HealLab): Promise<void> {
  healLab(lab.plan);
  const deadline = Date.now() + 30_000;
  for (;;) {
    if ((events.openIncidents().size === 0 && events.pendingPlans().length === 0) || Date.now() > deadline) break;
    await Bun.sleep(100);
  }
  await Bun.sleep(1500);
}

// The default policy allows 30 network-changing plans a minute; the run injects a fault every few seconds (each needs a
// repair and a restore plan, a node down three), so it raises the budget: it measures repair, not the budget (which the
// planner's tests cover). Everything else is the default policy.
const policyFile = policyFileWith("heal", "budget: { plans_per_minute: 30 }", "budget: { plans_per_minute: 240 }");
const lab = await startHealLab({
  topology: "grid:4x4",
  prefix: `x0b${process.pid % 1_000_000}`,
  serviceEnv: { planner: { X0_PLANNER_POLICY: policyFile } },
});
const events = await recordEvents(lab.nc);
const prober = new LabProber({ plan: lab.plan, intervalMs: 10, summaryMs: 100, onEvent: (event) => probeEvents.push(event) });
// Interrupted (Ctrl-C, a timeout's TERM): the lab and its processes go too, never left running; one teardown only.
let stopped: Promise<void> | undefined;
const stopAll = () => {
  stopped ??= prober
    .stop()
    .catch(() => {})
    .then(() => lab.stop());
  return stopped;
};
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    process.stderr.write(`bench:heal: ${signal}: removing the lab\n`);
    void stopAll().finally(() => process.exit(130));
  });
}
const samples: Sample[] = [];
const started = Date.now();
try {
  await prober.start(FROM, TO);
  await Bun.sleep(2000);
  const order: Kind[] = [];
  // Interleaved, so no kind runs on a machine warmed (or tired) differently from the others.
  for (let i = 0; order.length < CUTS + LOSSES + NODE_DOWNS; i++) {
    if (order.filter((k) => k === "cut").length < CUTS) order.push("cut");
    if (order.filter((k) => k === "loss30").length < LOSSES) order.push("loss30");
    if (i % 2 === 1 && order.filter((k) => k === "node_down").length < NODE_DOWNS) order.push("node_down");
  }
  for (const kind of order) {
    let target = "";
    let about: (anomaly: Anomaly) => boolean;
    let injectedAt = 0;
    if (kind === "node_down") {
      // Same rule as for links: none of the node's links may reach the hold-down's third down or be cooling down.
      const usable = (node: string, now: number) =>
        lab.plan.links
          .filter((l) => l.a.node === node || l.b.node === node)
          .every((l) => {
            const downs = (lastDown.get(linkIdOf(l.a.node, l.b.node)) ?? []).filter((t) => t > now - 65_000);
            return downs.length < 2 && downs.every((t) => t < now - 8000);
          });
      let path = lab
        .pathOf(FROM, TO)
        .slice(1, -1)
        .filter((node) => usable(node, Date.now()));
      while (path.length === 0) {
        await Bun.sleep(2000);
        path = lab
          .pathOf(FROM, TO)
          .slice(1, -1)
          .filter((node) => usable(node, Date.now()));
      }
      const node = path.sort((x, y) => (lastDown.get(`node:${x}`)?.at(-1) ?? 0) - (lastDown.get(`node:${y}`)?.at(-1) ?? 0))[0] as string;
      target = `node:${node}`;
      about = (a) => a.target?.nodes.includes(node) ?? false;
      injectedAt = Date.now();
      await cutNode(lab.plan, node);
      noteDown(target, injectedAt);
      for (const link of lab.plan.links.filter((l) => l.a.node === node || l.b.node === node)) noteDown(linkIdOf(link.a.node, link.b.node), injectedAt);
    } else {
      let links = candidateLinks(lab, Date.now());
      while (links.length === 0) {
        await Bun.sleep(2000);
        links = candidateLinks(lab, Date.now());
      }
      const [a, b] = links[0] as [string, string];
      target = linkIdOf(a, b);
      about = (x) => x.target?.id === target || (x.target?.type === "node" && (x.target.nodes.includes(a) || x.target.nodes.includes(b)));
      injectedAt = Date.now();
      await setLinkLoss(lab.plan, a, b, kind === "cut" ? 1 : LOSS);
      // A lossy link is not a down for the hold-down, but it is a fault of the target for the cooldown.
      if (kind === "cut") noteDown(target, injectedAt);
      else lastFault.set(target, injectedAt);
    }
    const [detected, repaired] = await Promise.all([
      detection(injectedAt, about, REPAIR_TIMEOUT_MS),
      kind === "loss30"
        ? cleanAfter(injectedAt, REPAIR_TIMEOUT_MS)
        : restoredAfter(probeEvents, injectedAt, { timeoutMs: REPAIR_TIMEOUT_MS }).then(({ repaired }) => repaired),
    ]);
    const sample: Sample = { kind, target, injected_at: injectedAt, mttd_ms: detected?.ms ?? null, mttr_ms: repaired, detected_as: detected?.kind ?? null };
    samples.push(sample);
    process.stderr.write(
      `${samples.length}/${order.length} ${kind} ${target}: MTTD ${sample.mttd_ms ?? "-"} ms (${sample.detected_as ?? "none"}), MTTR ${sample.mttr_ms ?? "-"} ms\n`,
    );
    if (process.env.X0_BENCH_HEAL_DEBUG) {
      const rel = (at: number) => at - injectedAt;
      for (const { at, message: anomaly } of events.anomalies.filter((a) => a.at >= injectedAt))
        process.stderr.write(`  +${rel(at)} anomaly ${anomaly.state} ${anomaly.kind} ${anomaly.target?.id} ${anomaly.resolution ?? ""}\n`);
      for (const { at, message: plan } of events.plans.filter((p) => p.at >= injectedAt))
        process.stderr.write(`  +${rel(at)} plan ${plan.rule} ${plan.actions.length} ${plan.expected_effect?.summary ?? ""}\n`);
      for (const { at, message: result } of events.results.filter((r) => r.at >= injectedAt))
        process.stderr.write(`  +${rel(at)} result ${result.status} ${result.detail ?? ""}\n`);
    }
    await settle(lab);
  }

  // The faults' own consequences end first: a link held down for flapping returns (with a plan) once stable for 30 s.
  const planner = lab.services.get("planner");
  const heldLinks = async () =>
    ((await (await fetch(`http://127.0.0.1:${planner?.port}/status`)).json()) as { details?: { held_links?: number } }).details?.held_links ?? 0;
  const heldDeadline = Date.now() + 90_000;
  while ((await heldLinks()) > 0 && Date.now() < heldDeadline) await Bun.sleep(1000);
  await settle(lab);
  // Fault-free period: every anomaly and every network-changing action counts as a false positive.
  const quietFrom = Date.now();
  process.stderr.write(`fault-free period: ${QUIET_MS / 1000} s\n`);
  await Bun.sleep(QUIET_MS);
  const networkChanging = (actions: { type: string }[]) => actions.some((action) => action.type !== "notify");
  const quietAnomalies = events.anomalies.filter((a) => a.at >= quietFrom && a.message.state === "opened").map((a) => a.message);
  const quietPlans = events.plans.filter((p) => p.at >= quietFrom && networkChanging(p.message.actions)).map((p) => p.message);
  const quietActions = events.results.filter((r) => r.at >= quietFrom && networkChanging(r.message.steps));

  const byKind = (kind: Kind) => samples.filter((s) => s.kind === kind);
  const report = {
    measured_at: new Date().toISOString(),
    command: "bun run bench:heal",
    machine: { cpus: cpus().length, cpu_model: cpus()[0]?.model, kernel: Bun.spawnSync(["uname", "-r"]).stdout.toString().trim(), bun: Bun.version },
    lab: { topology: "grid:4x4", probe: `${FROM} → ${TO} (UDP hellos every 10 ms)`, hellos_ms: 20, telemetry_ms: 100 },
    policy: "services/planner/policy.yaml with the action budget raised from 30 to 240 plans a minute (faults every few seconds)",
    definitions: {
      mttd: "fault injected (XDP fault map written) → first opened anomaly about the fault received by a NATS subscriber",
      mttr_cut_and_node_down: "fault injected → first probe reply after the outage it caused, when no new outage follows within 1 s",
      mttr_loss30: `fault injected (30% drop each way) → start of the first ${CLEAN_WINDOW_MS} ms in which every probe hello was answered`,
    },
    results: Object.fromEntries(
      (["cut", "loss30", "node_down"] as const).map((kind) => [
        kind,
        { faults: byKind(kind).length, mttd: stats(byKind(kind).map((s) => s.mttd_ms)), mttr: stats(byKind(kind).map((s) => s.mttr_ms)) },
      ]),
    ),
    targets: { cut_mttd_p95_ms: 300, cut_mttr_p95_ms: 1000, false_positive_actions: 0 },
    targets_met: {
      cut_mttd:
        (stats(byKind("cut").map((s) => s.mttd_ms)).p95_ms ?? Number.POSITIVE_INFINITY) <= 300 && stats(byKind("cut").map((s) => s.mttd_ms)).missing === 0,
      cut_mttr:
        (stats(byKind("cut").map((s) => s.mttr_ms)).p95_ms ?? Number.POSITIVE_INFINITY) <= 1000 && stats(byKind("cut").map((s) => s.mttr_ms)).missing === 0,
      false_positive_actions: quietPlans.length === 0 && quietActions.length === 0,
    },
    fault_free: {
      seconds: QUIET_MS / 1000,
      anomalies_opened: quietAnomalies.length,
      anomalies: quietAnomalies.map((a) => ({ kind: a.kind, target: a.target?.id })),
      network_changing_plans: quietPlans.length,
      plans: quietPlans.map((p) => ({ rule: p.rule, target: p.target?.id, summary: p.expected_effect?.summary })),
      network_changing_actions: quietActions.length,
    },
    samples,
    run_seconds: Math.round((Date.now() - started) / 1000),
  };
  writeFileSync(join(REPO_ROOT, "bench", "results", "heal.json"), `${JSON.stringify(report, null, 2)}\n`);
  console.log(JSON.stringify({ results: report.results, targets_met: report.targets_met, fault_free: report.fault_free }, null, 2));
} finally {
  await stopAll();
}
