// bun run bench:batman: MTTR of batman-adv alone against x0tta6bl4 + batman-adv, the same cuts on a grid:2x3 batman lab, in
// one boot of the lab VM (or natively where the kernel has batman-adv). Root only; writes bench/results/batman.json.
// Method and knobs: bench/README.md.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import {
  BATMAN_MESH_INTERFACE,
  healLab,
  LAB_LINK_COSTS,
  type LabLinkCosts,
  LabProber,
  linkHopPenalty,
  nodeOf,
  type ProbeEvent,
  parseTopology,
  type RestoredEvent,
  runInVm,
  setLinkLoss,
  vmImageDirOf,
} from "@x0/lab";
import { type ActionResult, linkId, type Plan, type Telemetry } from "@x0/shared";
import { type Arrival, type EventRecorder, REPO_ROOT, recordEvents } from "@x0/shared/testing";
import { type HealLab, inVm, labRunnable, startHealLab, VM_PROFILE } from "../test/lab-stack.ts";
import { policyFileWith } from "./policy.ts";
import { restoredAfter } from "./restore.ts";
import { durationStats } from "./stats.ts";

const FAULTS = Number(process.env.X0_BENCH_BATMAN_FAULTS ?? 20);
const REPAIR_TIMEOUT_MS = Number(process.env.X0_BENCH_BATMAN_REPAIR_TIMEOUT_S ?? 120) * 1000;
// The issue's grid:2x3 by default; X0_BENCH_BATMAN_TOPOLOGY=ring:4 X0_BENCH_BATMAN_TO=n3 is a lighter lab (4 monitors).
const TOPOLOGY = process.env.X0_BENCH_BATMAN_TOPOLOGY ?? "grid:2x3";
const LINK_COSTS = process.env.X0_BENCH_BATMAN_LINK_COSTS ?? "distinct";
if (!LAB_LINK_COSTS.includes(LINK_COSTS as LabLinkCosts)) {
  process.stderr.write(`X0_BENCH_BATMAN_LINK_COSTS=${JSON.stringify(LINK_COSTS)} is not ${LAB_LINK_COSTS.join(" or ")}\n`);
  process.exit(1);
}
const FROM = "n1";
const TO = process.env.X0_BENCH_BATMAN_TO ?? "n6";
const RESULT_MARK = "X0_BENCH_BATMAN_RESULT ";
// A cut on the probe's path interrupts it within about 0.6 s (hellos every 100 ms in the VM); one that has not within
// this long was off the path the traffic used (batman-adv's route moved between the path read and the cut).
const NO_OUTAGE_MS = 5000;
const inGuest = process.env.X0_BENCH_BATMAN_GUEST === "1";

if (!labRunnable) {
  process.stderr.write("bench:batman needs root (network namespaces, XDP) and nats-server on PATH\n");
  process.exit(1);
}

const stats = durationStats;

/** One cut and what the probe saw. */
interface Sample {
  index: number;
  hop: number;
  link: string;
  mttd_ms: number | null;
  /** Null when the cut was not repaired within the timeout, or did not interrupt the probe at all (`interrupted` false). */
  mttr_ms: number | null;
  /** Whether the probe had an outage within NO_OUTAGE_MS of the cut; a cut off the path it used then has no MTTR. */
  interrupted: boolean;
  /** Cut → the first plan about the link received, and its result (the executor's steps done and verified). */
  planned_ms: number | null;
  result_ms: number | null;
  result_status: string | null;
  /** Cut → the executor began the plan, and its last step applied (its clock: the same machine). */
  started_ms: number | null;
  applied_ms: number | null;
  /** Cut → the last hard interface of the link detached (its batman_interface steps). */
  detached_ms: number | null;
  /** What the executor saw when the effect did not verify. */
  result_failed: string[];
  /** Every probe outage from the cut until the mesh settled after the heal: declared at (cut → ms) and how long it lasted. */
  outages: { declared_ms: number; lasted_ms: number | null }[];
  /** The path batman-adv used when the cut came (FROM … TO). */
  path: string[];
  /** Every plan from the cut until the mesh settled: when (cut → ms), about what, its steps, rule and result. */
  plans: { at_ms: number; kind: string; target: string | null; steps: string[]; rule: string; status: string | null }[];
  /**
   * When the probe was still out 4 s after the cut: every node's routes as its monitor last published them (batman-adv's
   * originator table, read every 2 s in the VM), `<target>:<next node>/<tq>`, the best one marked `*`.
   */
  routes_when_stuck: Record<string, string[]> | null;
}

/** A plan's steps in a few words each (`batman_interface n1 n1-n4 inactive`). */
function stepSummary(plan: Plan): string[] {
  return plan.actions.map((action) => {
    const params = action.params as Record<string, unknown>;
    const words = ["node", "interface", "state", "value", "enabled", "mode", "message"].flatMap((key) =>
      params[key] === undefined ? [] : [String(params[key])],
    );
    return [action.type, ...words].join(" ");
  });
}

/** Cut at `at` → the last batman_interface step of `result` applied; null when none was. */
function detachedAt(result: ActionResult | undefined, at: number): number | null {
  const times = (result?.steps ?? [])
    .filter((step) => step.type === "batman_interface" && step.applied_at !== undefined)
    .map((step) => step.applied_at as number);
  return times.length === 0 ? null : Math.max(...times) - at;
}

/** One run's samples with the mode it ran in. */
interface Run {
  mode: "detect-only" | "enforce";
  samples: Sample[];
  plans: number;
  seconds: number;
}

/** Runs the fault sequence once on a fresh lab with the executor in `mode`. */
async function runOnce(mode: Run["mode"]): Promise<Run> {
  const started = Date.now();
  const slow = inVm;
  const common: Record<string, string> = slow ? { ...VM_PROFILE.common } : {};
  const monitorEnv: Record<string, string> = slow ? { ...VM_PROFILE.common, ...VM_PROFILE.monitor } : {};
  // The bench measures repair: the flap hold-down (3 downs of a link in 60 s) would hold links the sequence cuts again.
  const policyFile = policyFileWith(
    "batman",
    "flapping: { downs: 3, window_ms: 60000, stable_ms: 30000 }",
    "flapping: { downs: 100, window_ms: 60000, stable_ms: 30000 }",
  );
  const lab = await startHealLab({
    topology: TOPOLOGY,
    prefix: `x0bb${process.pid % 10_000}`,
    routing: "batman",
    linkCosts: LINK_COSTS as LabLinkCosts,
    env: common,
    monitorEnv,
    serviceEnv: { planner: { X0_PLANNER_POLICY: policyFile }, executor: { X0_EXECUTOR_MODE: mode }, analyzer: slow ? { ...VM_PROFILE.analyzer } : {} },
    startTimeoutMs: slow ? VM_PROFILE.startTimeoutMs : 30_000,
  });
  const probeEvents: ProbeEvent[] = [];
  // Telemetry too: each node's batman-adv table as its monitor last published it is what a cut that stays unrepaired is stuck on.
  const events = await recordEvents(lab.nc, { telemetry: true });
  const prober = new LabProber({
    plan: lab.plan,
    intervalMs: slow ? VM_PROFILE.proberIntervalMs : 10,
    summaryMs: 1000,
    onEvent: (event) => probeEvents.push(event),
  });
  const samples: Sample[] = [];
  try {
    const originators = await originatorsOf(lab);
    await prober.start(FROM, TO);
    await steady(probeEvents, Date.now(), 3000, 120_000);
    // batman-adv's path with nothing cut: with distinct link costs, every cut of both runs starts from it.
    const nominal = batmanPath(lab, originators);
    process.stderr.write(`${mode}: batman-adv's path ${nominal.join("→")} (link costs ${LINK_COSTS})\n`);
    for (let index = 0; index < FAULTS; index++) {
      const path = batmanPath(lab, originators);
      const hop = index % (path.length - 1);
      const a = path[hop] as string;
      const b = path[hop + 1] as string;
      const link = `link:${[a, b].sort().join("|")}`;
      const at = Date.now();
      await setLinkLoss(lab.plan, a, b, 1);
      let routesWhenStuck: Record<string, string[]> | null = null;
      const stuck = Bun.sleep(4000).then(() => {
        const last = probeEvents.findLast((e) => e.ts >= at && (e.event === "outage" || e.event === "restored"));
        if (last?.event === "outage") routesWhenStuck = routesOf(events.telemetry, originators);
      });
      const [detected, { repaired, interrupted }] = await Promise.all([
        // About the cut link, or a node on either end of it (a cut can first look like a node going silent).
        events
          .firstOpened(at, (x) => x.target?.id === link || (x.target?.nodes ?? []).some((node) => node === a || node === b), REPAIR_TIMEOUT_MS)
          .then((found) => (found ? found.at - at : null)),
        restoredAfter(probeEvents, at, { timeoutMs: REPAIR_TIMEOUT_MS, noOutageMs: NO_OUTAGE_MS, pollMs: 50 }),
      ]);
      // Heal, then wait for the mesh to be whole again: every hard interface back, incidents resolved, plans answered,
      // and the probe steady, so every cut starts from the same state.
      await stuck;
      healLab(lab.plan);
      await settle(lab, { link, at }, events, probeEvents, LINK_COSTS === "distinct" ? { nominal, originators } : undefined);
      // The plan's result comes after its verify, often after the probe recovered: read once the mesh settled.
      const plan = events.plans.find((p) => p.at >= at && p.message.target?.id === link);
      const result = plan ? events.resultOf(plan.message.plan_id) : undefined;
      const sample: Sample = {
        index,
        hop,
        link,
        mttd_ms: detected,
        mttr_ms: repaired,
        interrupted,
        path,
        planned_ms: plan ? plan.at - at : null,
        result_ms: result ? result.at - at : null,
        result_status: result?.message.status ?? null,
        started_ms: result && result.message.status !== "skipped" ? result.message.started_at - at : null,
        applied_ms: result?.message.applied_at === undefined ? null : result.message.applied_at - at,
        detached_ms: detachedAt(result?.message, at),
        result_failed: (result?.message.verification ?? []).filter((check) => !check.ok).map((check) => `${check.check}: ${check.detail}`),
        outages: probeEvents
          .filter((e) => e.ts >= at && e.event === "outage")
          .map((outage) => {
            const restored = probeEvents.find((e): e is RestoredEvent => e.event === "restored" && e.ts >= outage.ts);
            return { declared_ms: outage.ts - at, lasted_ms: restored ? restored.outage_ms : null };
          }),
        plans: events.plans
          .filter((p) => p.at >= at)
          .map(({ at: planAt, message: p }) => ({
            at_ms: planAt - at,
            kind: p.kind,
            target: p.target?.id ?? null,
            steps: stepSummary(p),
            rule: p.rule,
            status: events.resultOf(p.plan_id)?.message.status ?? null,
          })),
        routes_when_stuck: routesWhenStuck,
      };
      samples.push(sample);
      process.stderr.write(
        `${mode} ${index + 1}/${FAULTS} cut ${link} (hop ${hop} of ${path.join("→")}): MTTD ${detected ?? "-"} ms, MTTR ${repaired ?? "-"} ms, plan ${sample.planned_ms ?? "-"} ms, result ${sample.result_ms ?? "-"} ms (${sample.result_status ?? "-"}), started ${sample.started_ms ?? "-"} ms, detached ${sample.detached_ms ?? "-"} ms, applied ${sample.applied_ms ?? "-"} ms${sample.result_failed.length > 0 ? `; not verified: ${sample.result_failed.join(" | ")}` : ""}\n`,
      );
      if (sample.routes_when_stuck)
        process.stderr.write(
          `  routes 4 s after the cut: ${Object.entries(sample.routes_when_stuck)
            .map(([node, routes]) => `${node} ${routes.join(" ")}`)
            .join(" | ")}\n`,
        );
      process.stderr.write(
        `  outages ${sample.outages.map((o) => `${o.declared_ms}+${o.lasted_ms ?? "?"}`).join(" ") || "-"}; plans ${sample.plans.map((p) => `${p.at_ms} ${p.kind} ${p.target ?? "-"} [${p.steps.join(", ")}] ${p.status ?? "-"}`).join(" | ") || "-"}\n`,
      );
    }
  } finally {
    await prober.stop().catch(() => {});
    await lab.stop();
  }
  return { mode, samples, plans: events.plans.length, seconds: Math.round((Date.now() - started) / 1000) };
}

/** Every node's routes from its last published table: `<target>:<next node>/<tq>`, the best one marked `*`. */
function routesOf(telemetry: ReadonlyMap<string, Arrival<Telemetry>>, originators: ReadonlyMap<string, string>): Record<string, string[]> {
  const tables = [...telemetry].flatMap(([node, { message }]) => (message.batman ? [[node, message.batman] as const] : []));
  const routes: Record<string, string[]> = {};
  for (const [node, table] of tables.sort(([x], [y]) => (x < y ? -1 : 1))) {
    routes[node] = table.originators
      .map((o) => `${originators.get(o.originator) ?? o.originator}:${o.interface.split("-")[1] ?? o.interface}/${o.tq}${o.best ? "*" : ""}`)
      .sort();
  }
  return routes;
}

/** Each node's originator address (the MAC of its primary0), read in its namespace. */
async function originatorsOf(lab: HealLab): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const node of lab.plan.nodes) {
    const mesh = JSON.parse(batctl(lab, node.name, "mj")) as { hard_address: string };
    found.set(mesh.hard_address, node.name);
  }
  return found;
}

function batctl(lab: HealLab, node: string, ...args: string[]): string {
  const result = Bun.spawnSync(["ip", "netns", "exec", nodeOf(lab.plan, node).netns, "batctl", "meshif", BATMAN_MESH_INTERFACE, ...args], {
    stdout: "pipe",
    stderr: "pipe",
  });
  if (result.exitCode !== 0) throw new Error(`batctl ${args.join(" ")} in ${node}: ${result.stderr.toString()}`);
  return result.stdout.toString();
}

/** The node path batman-adv uses from FROM to TO now: each node's best route to TO's originator (lab interfaces are `<near>-<far>`). */
function batmanPath(lab: HealLab, originators: Map<string, string>): string[] {
  const target = [...originators].find(([, node]) => node === TO)?.[0];
  const path = [FROM];
  while (path.at(-1) !== TO && path.length <= lab.plan.nodes.length) {
    const routes = JSON.parse(batctl(lab, path.at(-1) as string, "oj")) as { orig_address: string; hard_ifname: string; best?: boolean }[];
    const best = routes.find((route) => route.orig_address === target && route.best);
    if (!best) throw new Error(`${path.at(-1)} has no route to ${TO}`);
    path.push(best.hard_ifname.split("-")[1] as string);
  }
  return path;
}

/** Waits until the probe has had no outage for `quietMs` (from `from` on). */
async function steady(events: ProbeEvent[], from: number, quietMs: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const last = events.findLast((e) => e.event === "outage" || e.event === "restored");
    const inOutage = last?.event === "outage";
    const since = Math.max(from, last?.ts ?? from);
    if (!inOutage && Date.now() - since >= quietMs && events.some((e) => e.event === "summary" && e.ts > from && e.received > 0)) return;
    await Bun.sleep(100);
  }
  throw new Error(`the probe ${FROM} → ${TO} did not steady within ${timeoutMs / 1000} s`);
}

/** A link returned by a plan less than this ago is not detached again (the planner's BATMAN_RESET_PROTECTION_MS). */
const RETURN_GUARD_MS = 30_000;

/**
 * Waits until the next cut can start from the same mesh as every other: every incident resolved, every plan answered,
 * every hard interface back; then batman-adv made to forget the cut (refreshMesh) and, with distinct costs, back on its
 * path. Whatever opened meanwhile (an incident about something not cut: a false positive) starts it over, after the
 * return guard of what its plans moved has run out, so the next cut is repaired like any other.
 */
async function settle(
  lab: HealLab,
  cut: { link: string; at: number },
  events: EventRecorder,
  probeEvents: ProbeEvent[],
  distinct?: { nominal: string[]; originators: Map<string, string> },
): Promise<void> {
  for (let round = 1; ; round++) {
    await quiet(lab, events);
    const others = events.plans.filter((p) => p.at >= cut.at && p.message.target?.id !== cut.link);
    const lastOther = Math.max(...others.map((p) => p.at));
    if (others.length > 0 && Date.now() - lastOther < RETURN_GUARD_MS) await Bun.sleep(RETURN_GUARD_MS - (Date.now() - lastOther) + 1000);
    const from = Date.now();
    await refreshMesh(lab, distinct);
    await steady(probeEvents, Date.now(), 3000, 120_000);
    const opened = events.anomalies.filter((a) => a.at >= from && a.message.state === "opened");
    if (opened.length === 0 && !events.plans.some((p) => p.at >= from)) return;
    process.stderr.write(
      `settle: ${opened.length} incidents opened while the mesh settled (${[...new Set(opened.map((a) => a.message.target?.id ?? a.message.kind))].join(", ")}); settling again\n`,
    );
    if (round === 5) {
      // The sample's plans show what kept coming; losing the whole run to it would show nothing.
      process.stderr.write("settle: incidents kept opening between cuts; going on after five rounds\n");
      return;
    }
  }
}

/** Every incident resolved, every plan answered, every hard interface attached (60 s at most; then a whole mesh will do). */
async function quiet(lab: HealLab, events: EventRecorder): Promise<void> {
  const deadline = Date.now() + 60_000;
  const whole = () =>
    lab.plan.nodes.every((node) => {
      const attached = batctl(lab, node.name, "interface");
      return node.interfaces.every((iface) => attached.includes(`${iface}: active`));
    });
  for (;;) {
    const open = events.openIncidents();
    const pending = events.pendingPlans();
    if (open.size === 0 && pending.length === 0 && whole()) return;
    if (Date.now() > deadline) {
      // In a loaded VM an incident can outlive the fault (see the note in the results); the next cut needs a whole mesh.
      if (pending.length === 0 && whole()) {
        process.stderr.write(`settle: ${open.size} incidents still open after the heal; going on with a whole mesh\n`);
        return;
      }
      throw new Error(`the lab did not settle: ${open.size} incidents open, ${pending.length} plans pending, mesh whole ${whole()}`);
    }
    await Bun.sleep(250);
  }
}

/** OGMs this often on every node while the mesh forgets a cut. */
const REFRESH_OGM_INTERVAL_MS = 100;
/** batman-adv IV judges a link by the last 64 OGMs (BATADV_TQ_LOCAL_WINDOW_SIZE): 8 s at 100 ms is 80. */
const REFRESH_MS = 8000;
/** A re-added interface's own OGMs can be dropped for up to 30 s (BATADV_RESET_PROTECTION_MS): time for that, and more. */
const PATH_BACK_MS = 60_000;

/**
 * Lets batman-adv forget the last cut: OGMs every 100 ms until (with distinct costs) its path is the nominal one again,
 * then 8 s more, then the interval each node had. A cut leaves a gap in every window it spans, which at 1 s OGMs would
 * take about 64 s to slide out (longer for a re-added interface whose OGMs the neighbours drop at first), and which path
 * batman-adv takes meanwhile depends on how long the last outage was; this way both runs start each cut from the same mesh.
 */
async function refreshMesh(lab: HealLab, distinct?: { nominal: string[]; originators: Map<string, string> }): Promise<void> {
  const intervals = lab.plan.nodes.map((node) => {
    const text = batctl(lab, node.name, "orig_interval").trim();
    if (!/^\d+$/.test(text)) throw new Error(`batctl orig_interval in ${node.name} printed ${JSON.stringify(text.slice(0, 80))}`);
    return { node: node.name, interval: text };
  });
  const onPath = () => distinct === undefined || batmanPath(lab, distinct.originators).join() === distinct.nominal.join();
  for (const { node } of intervals) batctl(lab, node, "orig_interval", String(REFRESH_OGM_INTERVAL_MS));
  try {
    const back = Date.now() + PATH_BACK_MS;
    while (!onPath() && Date.now() < back) await Bun.sleep(2000);
    await Bun.sleep(REFRESH_MS);
  } finally {
    for (const { node, interval } of intervals) batctl(lab, node, "orig_interval", interval);
  }
  if (distinct && !onPath())
    process.stderr.write(`settle: batman-adv's path is ${batmanPath(lab, distinct.originators).join("→")}, not ${distinct.nominal.join("→")}\n`);
}

/** Each cut link's MTTRs in both runs (null: not repaired within the timeout), links sorted. */
function byLink(alone: Sample[], acting: Sample[]): Record<string, { alone_ms: (number | null)[]; x0_ms: (number | null)[] }> {
  const links: Record<string, { alone_ms: (number | null)[]; x0_ms: (number | null)[] }> = {};
  for (const [samples, key] of [
    [alone, "alone_ms"],
    [acting, "x0_ms"],
  ] as const) {
    for (const sample of samples) {
      links[sample.link] ??= { alone_ms: [], x0_ms: [] };
      links[sample.link]?.[key].push(sample.mttr_ms);
    }
  }
  return Object.fromEntries(Object.entries(links).sort(([x], [y]) => (x < y ? -1 : 1)));
}

/** Plans about anything but the cut link, from each cut until the mesh settled: false positives (or a cut first seen as its end node going silent). */
function otherPlans(run: Run): number {
  return run.samples.reduce((sum, sample) => sum + sample.plans.filter((p) => p.target !== sample.link).length, 0);
}

function report(runs: Run[], guest: Record<string, unknown>) {
  const [alone, acting] = runs as [Run, Run];
  // Statistics over the cuts that interrupted the probe; `missing` counts those it did not recover from in time.
  const mttrStats = (run: Run) => ({
    ...stats(run.samples.filter((s) => s.interrupted).map((s) => s.mttr_ms)),
    not_interrupted: run.samples.filter((s) => !s.interrupted).length,
  });
  const aloneStats = mttrStats(alone);
  const actingStats = mttrStats(acting);
  // A fault batman-adv alone did not repair within the timeout counts as the timeout (a lower bound on its MTTR).
  const mttrOrTimeout = (s: Sample) => s.mttr_ms ?? REPAIR_TIMEOUT_MS;
  const pairs = alone.samples.map((s, i) => {
    const other = acting.samples[i];
    // A pair is compared only when both cuts interrupted the probe: one off the path has nothing to repair.
    return {
      index: i,
      link: s.link,
      same_link: s.link === other?.link,
      alone_ms: s.mttr_ms,
      x0_ms: other?.mttr_ms ?? null,
      compared: s.interrupted && other?.interrupted === true,
    };
  });
  const ratioP95 = aloneStats.p95_ms !== null && actingStats.p95_ms ? aloneStats.p95_ms / actingStats.p95_ms : null;
  const neverSlower = pairs.every((p) => !p.compared || (p.x0_ms !== null && p.x0_ms <= mttrOrTimeout(alone.samples[p.index] as Sample)));
  return {
    measured_at: new Date().toISOString(),
    command: "bun run bench:batman",
    machine: { cpus: cpus().length, cpu_model: cpus()[0]?.model, bun: Bun.version },
    guest,
    lab: {
      topology: TOPOLOGY,
      routing: "batman-adv (BATMAN_IV, OGM interval 1000 ms, bridge loop avoidance off)",
      probe: `${FROM} → ${TO} on bat0 (UDP hellos)`,
      link_costs: LINK_COSTS,
      // Each link's hop penalty on both its hard interfaces (0: none).
      hop_penalties: Object.fromEntries(
        parseTopology(TOPOLOGY).links.map(([a, b], index) => [linkId(a, b), linkHopPenalty(index, LINK_COSTS as LabLinkCosts)]),
      ),
      settings: inVm ? { ...VM_PROFILE.monitor, ...VM_PROFILE.analyzer } : "defaults",
    },
    sequence: `${FAULTS} cuts per run, by position on the path batman-adv uses at the time (hop 0, 1, 2, …); the same sequence in both runs, and with distinct link costs the same links (pairs[].same_link)`,
    definitions: {
      mttr: "cut injected (XDP fault map: every frame dropped both ways, interfaces stay up) → first probe reply after the outage, when no new outage follows within 1 s; over the cuts that interrupted the probe (an outage within 5 s): a cut off the path the traffic used has none (not_interrupted), and its pair is not compared",
      mttd: "cut injected → first opened anomaly about the link received by a NATS subscriber",
      batman_alone: "executor in detect-only mode: x0tta6bl4 observes and plans, batman-adv alone repairs",
      x0_batman: "executor in enforce mode: the planner's batman_interface steps remove the cut link's hard interfaces on both ends",
    },
    results: {
      batman_alone: {
        mttr: aloneStats,
        mttd: stats(alone.samples.map((s) => s.mttd_ms)),
        plans: alone.plans,
        plans_not_about_the_cut: otherPlans(alone),
        seconds: alone.seconds,
      },
      x0_batman: {
        mttr: actingStats,
        mttd: stats(acting.samples.map((s) => s.mttd_ms)),
        plans: acting.plans,
        plans_not_about_the_cut: otherPlans(acting),
        seconds: acting.seconds,
      },
      p95_ratio_alone_over_x0: ratioP95 === null ? null : Math.round(ratioP95 * 100) / 100,
    },
    targets: { p95_ratio_min: 4, never_slower_on_any_fault: true },
    targets_met: { p95_ratio: ratioP95 !== null && ratioP95 >= 4 && actingStats.missing === 0, never_slower: neverSlower },
    pairs,
    // With equal link costs the two runs cut the same positions, not always the same links (batman-adv picks among tied
    // paths): each link's cuts in both, to compare like with like.
    by_link: byLink(alone.samples, acting.samples),
    samples: { batman_alone: alone.samples, x0_batman: acting.samples },
    repair_timeout_ms: REPAIR_TIMEOUT_MS,
  };
}

const modprobe = Bun.which("modprobe") ?? (existsSync("/usr/sbin/modprobe") ? "/usr/sbin/modprobe" : null);
const nativeBatman =
  existsSync("/sys/module/batman_adv") || (modprobe !== null && !inGuest && Bun.spawnSync([modprobe, "batman-adv"], { stderr: "ignore" }).exitCode === 0);
if (inGuest || nativeBatman) {
  const runs = [await runOnce("detect-only"), await runOnce("enforce")];
  const guest = {
    kernel: Bun.spawnSync(["uname", "-r"]).stdout.toString().trim(),
    batman_adv: existsSync("/sys/module/batman_adv/version") ? readFileSync("/sys/module/batman_adv/version", "utf8").trim() : null,
    in_vm: inGuest,
    cpus: cpus().length,
  };
  const result = report(runs, guest);
  if (inGuest) console.log(`${RESULT_MARK}${JSON.stringify(result)}`);
  else {
    writeFileSync(join(REPO_ROOT, "bench", "results", "batman.json"), `${JSON.stringify(result, null, 2)}\n`);
    console.log(JSON.stringify({ results: result.results, targets_met: result.targets_met }, null, 2));
  }
} else {
  // This kernel has no batman-adv: the whole bench runs in one boot of the lab VM.
  process.stderr.write("bench:batman: no batman-adv here; running in the lab VM (x0 lab vm)\n");
  const vm = await runInVm({
    argv: [process.execPath, join(REPO_ROOT, "bench", "batman.ts")],
    cwd: REPO_ROOT,
    env: {
      X0_BENCH_BATMAN_GUEST: "1",
      X0_BENCH_BATMAN_FAULTS: String(FAULTS),
      X0_BENCH_BATMAN_REPAIR_TIMEOUT_S: String(REPAIR_TIMEOUT_MS / 1000),
      X0_BENCH_BATMAN_TOPOLOGY: TOPOLOGY,
      X0_BENCH_BATMAN_TO: TO,
      X0_BENCH_BATMAN_LINK_COSTS: LINK_COSTS,
    },
    imageDir: vmImageDirOf(process.env),
    timeoutMs: 3 * 3600_000,
    onOutput: (chunk) => {
      for (const line of chunk.split("\n")) if (line && !line.startsWith(RESULT_MARK)) process.stderr.write(`${line}\n`);
    },
  });
  const line = vm.output.split("\n").find((l) => l.startsWith(RESULT_MARK));
  if (vm.exitCode !== 0 || line === undefined) {
    process.stderr.write(`bench:batman: the VM run failed (exit ${vm.exitCode})\n`);
    process.exit(1);
  }
  const result = JSON.parse(line.slice(RESULT_MARK.length)) as ReturnType<typeof report>;
  result.machine = { cpus: cpus().length, cpu_model: cpus()[0]?.model, bun: Bun.version };
  writeFileSync(join(REPO_ROOT, "bench", "results", "batman.json"), `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify({ results: result.results, targets_met: result.targets_met }, null, 2));
}
