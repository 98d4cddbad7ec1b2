// Multi-node plans carried out by one executor per node (root): a ring:5 lab whose cut n1–n2 is repaired by routes on
// several nodes, each node's executor inside its namespace applying only its own steps, from the destination side back.
// What is asserted comes from the kernels, the probe traffic, each executor's `ip` calls and the coordination record.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { healLab, type LabProber, type OutageEvent, type ProbeEvent, type RestoredEvent, setLinkLoss } from "@x0/lab";
import { ActionResult, Buckets, Coordination, nodeJournalKey, nodeLeaseKey, openBucket, Plan, TxnParticipant, txnKey, txnParticipantKey } from "@x0/shared";
import { REPO_ROOT, waitFor } from "@x0/shared/testing";
import { type HealLab, labRunnable, recordLoop, startHealLab, startProbing, waitSettled } from "./lab-stack.ts";

if (!labRunnable) process.stderr.write("coordination.netns.test.ts: skipped: needs root (namespaces, XDP) and nats-server on PATH\n");

const prefix = `x0c${process.pid % 1_000_000}`;
const work = mkdtempSync(join(tmpdir(), "x0-coordination-test-"));
const ipLog = join(work, "ip.log");
let lab: HealLab;
let prober: LabProber;
let messages: ReturnType<typeof recordLoop> = [];

const since = (at: number, subject: string) => messages.filter((m) => m.at >= at && m.subject.startsWith(subject));
const results = (at: number) => since(at, "x0.action.").map((m) => ActionResult.parse(m.body));
const plans = (at: number) => since(at, "x0.plan.").map((m) => Plan.parse(m.body));

/** Each `ip -batch` line a node's executor ran since the log was cleared: node, time (ns) and the line. */
function ipLines(): { node: string; ns: bigint; line: string }[] {
  return readFileSync(ipLog, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((entry) => {
      const [node = "", ns = "0", ...line] = entry.split(" ");
      return { node, ns: BigInt(ns), line: line.join(" ") };
    });
}

/** The `ip -batch` line that installs a route_replace step's new route (a rollback's restore line also names the route's protocol). */
const installs = (action: Plan["actions"][number]) =>
  `route replace ${action.params.prefix}/32 via ${action.params.via} dev ${action.params.dev}${action.params.src ? ` src ${action.params.src}` : ""}`;

/** The first link_down plan since `at` and its result, once there is one. */
async function planAndResult(at: number, timeoutMs: number): Promise<{ plan: Plan; result: ActionResult }> {
  await waitFor("a link_down plan", () => plans(at).some((p) => p.kind === "link_down"), 10_000, 50);
  const plan = plans(at).find((p) => p.kind === "link_down") as Plan;
  await waitFor(`the result of plan ${plan.plan_id}`, () => results(at).some((r) => r.plan_id === plan.plan_id), timeoutMs, 50);
  return { plan, result: results(at).find((r) => r.plan_id === plan.plan_id) as ActionResult };
}

/** What became of each plan since `at`, for failure messages: its result and its coordination records. */
async function whatHappened(at: number): Promise<string> {
  const outcomes = await openBucket(lab.nc, Buckets.outcomes);
  const lines: string[] = [];
  for (const plan of plans(at)) {
    const result = results(at).find((r) => r.plan_id === plan.plan_id);
    const record = (await outcomes.get(txnKey(plan.plan_id)))?.json<Coordination>();
    const statuses = await Promise.all(
      (record?.participants ?? []).map(
        async (p) => `${p.node}=${(await outcomes.get(txnParticipantKey(plan.plan_id, p.node)))?.json<TxnParticipant>().status ?? "pending"}`,
      ),
    );
    const parts = statuses.join(",");
    const steps = plan.actions.map((a) => `${a.params.node}>${a.params.destination}`).join(" ");
    lines.push(
      `${plan.plan_id} ${plan.kind} ${plan.target?.id ?? ""} to ${plan.node} (${steps}): ${result ? `${result.status} ${result.detail}` : "no result"}; record ${record ? `${record.phase} wave ${record.wave}/${record.waves.length} [${parts}] ${record.abort?.detail ?? ""}` : "none"}`,
    );
  }
  for (const [name, service] of lab.services)
    for (const line of service.output.filter((entry) => entry.includes('"level":"error"')).slice(-3)) lines.push(`${name}: ${line.slice(0, 600)}`);
  return lines.join("\n");
}

/** Heals the lab and waits until every incident resolved, the kernels have their initial routes again and every plan has its result. */
async function healAndSettle(): Promise<void> {
  healLab(lab.plan);
  await waitSettled(lab, messages, 30_000, async () => `; plans:\n${await whatHappened(0)}`);
}

beforeAll(async () => {
  if (!labRunnable) return;
  // `ip` as each node's executor runs it: every batch line logged with the executor's node and the time; a node armed by
  // the test (a file fail-<node>) has its next batch of route replacements refused, as the kernel refuses a bad route.
  writeFileSync(
    join(work, "ip"),
    `#!/bin/sh
for arg in "$@"; do
  if [ "$arg" = "-batch" ]; then
    input=$(cat)
    now=$(date +%s%N)
    printf '%s\\n' "$input" | while IFS= read -r line; do echo "$X0_NODE $now $line" >> ${ipLog}; done
    if [ -e ${work}/fail-$X0_NODE ] && printf '%s\\n' "$input" | grep -q "^route replace"; then
      rm -f ${work}/fail-$X0_NODE
      n=$(printf '%s\\n' "$input" | wc -l)
      i=1; while [ $i -le $n ]; do echo "RTNETLINK answers: Network is unreachable (refused by the test)" >&2; echo "Command failed -:$i" >&2; i=$((i+1)); done
      exit 1
    fi
    printf '%s\\n' "$input" | ip "$@"; exit $?
  fi
done
exec ip "$@"
`,
  );
  chmodSync(join(work, "ip"), 0o755);
  writeFileSync(ipLog, "");
  // Each test cuts n1–n2 again: a link that went down three times in a minute is held out of routing until it has been
  // stable; 4 s here instead of 30 s, so the next test starts from the initial routes.
  const policy = readFileSync(join(REPO_ROOT, "services", "planner", "policy.yaml"), "utf8").replace(
    "flapping: { downs: 3, window_ms: 60000, stable_ms: 30000 }",
    "flapping: { downs: 3, window_ms: 60000, stable_ms: 4000 }",
  );
  if (!policy.includes("stable_ms: 4000")) throw new Error("policy.yaml changed: update the test's flapping override");
  writeFileSync(join(work, "policy.yaml"), policy);
  lab = await startHealLab({
    topology: "ring:5",
    prefix,
    executors: "node",
    serviceEnv: {
      planner: { X0_PLANNER_POLICY: join(work, "policy.yaml") },
      executor: {
        X0_EXECUTOR_IP: join(work, "ip"),
        X0_EXECUTOR_ACK_WAIT_MS: "3000",
        X0_EXECUTOR_LEASE_MS: "2000",
        X0_EXECUTOR_TXN_GRACE_MS: "1500",
      },
    },
  });
  messages = recordLoop(lab);
  prober = await startProbing(lab, "n1", "n2");
}, 180_000);

afterAll(async () => {
  if (!labRunnable) return;
  await prober?.stop();
  await lab?.stop();
  rmSync(work, { recursive: true, force: true });
}, 60_000);

describe.skipIf(!labRunnable)("coordinated plans on a ring:5 lab with one executor per node", () => {
  // Every test starts from a whole lab with its initial routes, whatever the last one left.
  afterEach(() => healAndSettle(), 60_000);

  /** The node whose route replacement came last in the repair (the one another node's waits on longest). */
  let lastNode = "";

  test("coordination - a cut repaired by routes on three or more nodes: each node's executor applies its own steps, destination side first, verified", async () => {
    writeFileSync(ipLog, "");
    const before = prober.events.length;
    const at = Date.now();
    await setLinkLoss(lab.plan, "n1", "n2", 1);
    const { plan, result } = await planAndResult(at, 20_000);
    const nodes = [...new Set(plan.actions.map((action) => String(action.params.node)))];
    expect(nodes.length).toBeGreaterThanOrEqual(3);
    expect(result.status).toBe("verified");
    expect(result.node).toBe(plan.node);
    expect(result.participants?.map((participant) => participant.node).sort()).toEqual([...new Set([plan.node, ...nodes])].sort());
    // Each step was installed once, by its own node's executor, and no executor changed a route of another node's step.
    const lines = ipLines().filter((entry) => entry.line.startsWith("route replace"));
    for (const action of plan.actions) {
      const by = lines.filter((entry) => entry.line === installs(action));
      expect(by.map((entry) => entry.node)).toEqual([String(action.params.node)]);
    }
    for (const entry of lines) expect(plan.actions.some((action) => action.params.node === entry.node && entry.line === installs(action))).toBe(true);
    // The kernels have the new routes.
    for (const action of plan.actions) {
      const node = lab.plan.nodes.find((candidate) => candidate.serviceAddress === action.params.prefix)?.name as string;
      expect(lab.routeOf(String(action.params.node), node)).toEqual({ dev: String(action.params.dev), via: String(action.params.via) });
    }
    // Destination side first: a route was installed only after the plan's routes towards the same destination on its path.
    const installedAt = (action: Plan["actions"][number]) => lines.find((entry) => entry.line === installs(action))?.ns ?? 0n;
    let ordered = 0;
    for (const action of plan.actions) {
      for (const hop of String(action.params.path ?? "").split(",")) {
        const downstream = plan.actions.find((other) => other.params.node === hop && other.params.destination === action.params.destination);
        if (!downstream) continue;
        expect(installedAt(downstream)).toBeLessThan(installedAt(action));
        ordered += 1;
      }
    }
    expect(ordered).toBeGreaterThan(0);
    lastNode = [...lines].sort((x, y) => (x.ns < y.ns ? -1 : 1)).at(-1)?.node as string;
    // The probe traffic from n1 to n2 went out with the cut and flows again.
    const outage = await prober.waitFor((e: ProbeEvent): e is OutageEvent => e.event === "outage" && e.ts >= at, 5000, before);
    await prober.waitFor((e: ProbeEvent): e is RestoredEvent => e.event === "restored" && e.ts > outage.ts, 10_000, before);
    // The coordination record says how it went, and each node's lease and journal are gone (a participant releases
    // them once it sees the coordinator's outcome recorded, a moment after the result).
    const outcomes = await openBucket(lab.nc, Buckets.outcomes);
    const record = Coordination.parse((await outcomes.get(txnKey(plan.plan_id)))?.json());
    expect(record.phase).toBe("verified");
    expect(record.waves.length).toBeGreaterThan(1);
    const left = async () => {
      const keys = nodes.flatMap((node) => [nodeJournalKey(plan.plan_id, node), nodeLeaseKey(plan.plan_id, node)]);
      const entries = await Promise.all(keys.map(async (key) => ((await outcomes.get(key))?.operation === "PUT" ? [key] : [])));
      return entries.flat();
    };
    let remaining = await left();
    for (const until = Date.now() + 5000; remaining.length > 0 && Date.now() < until; remaining = await left()) await Bun.sleep(50);
    expect(remaining).toEqual([]);
  }, 90_000);

  test("coordination - one participant failing its apply: every participant that applied rolls back, the kernels are as before, the result names it", async () => {
    expect(lastNode).not.toBe("");
    const initial = lab.plan.nodes.map((node) => Bun.spawnSync(["ip", "-n", node.netns, "-j", "route", "show"]).stdout.toString());
    writeFileSync(join(work, `fail-${lastNode}`), "");
    writeFileSync(ipLog, "");
    const at = Date.now();
    await setLinkLoss(lab.plan, "n1", "n2", 1);
    const { plan, result } = await planAndResult(at, 30_000).finally(() => rmSync(join(work, `fail-${lastNode}`), { force: true }));
    // Read the kernels at once: a later plan of the incident may change them again.
    const after = lab.plan.nodes.map((node) => Bun.spawnSync(["ip", "-n", node.netns, "-j", "route", "show"]).stdout.toString());
    expect(["failed", "rolled_back"]).toContain(result.status);
    expect(result.detail).toContain(`${lastNode} failed`);
    expect(result.participants?.find((participant) => participant.node === lastNode)?.detail).toContain("refused by the test");
    expect(after).toEqual(initial);
    // Those that had applied undid it: their route replacements came back with the routes from before.
    const applied = new Set(
      ipLines()
        .filter((entry) => plan.actions.some((action) => entry.line === installs(action)))
        .map((entry) => entry.node),
    );
    applied.delete(lastNode);
    expect(applied.size).toBeGreaterThan(0);
    for (const node of applied) expect(result.participants?.find((participant) => participant.node === node)?.status).toBe("rolled_back");
  }, 90_000);

  test("coordination - a participant killed mid-plan: the plan aborts, the others roll back, nothing is applied twice; restarted, it undoes what its journal shows", async () => {
    await lab.startService("executor", { X0_EXECUTOR_STEP_DELAY_MS: "1000", X0_EXECUTOR_TXN_DEADLINE_MS: "3000" });
    try {
      // Restarted executors can load the machine enough for an incident or two: start from a settled lab.
      await healAndSettle();
      writeFileSync(ipLog, "");
      const at = Date.now();
      await setLinkLoss(lab.plan, "n1", "n2", 1);
      await waitFor("a link_down plan", () => plans(at).some((p) => p.kind === "link_down"), 10_000, 50);
      const plan = plans(at).find((p) => p.kind === "link_down") as Plan;
      // The first participant other than the coordinator to install a route is killed right after it.
      let victim = "";
      await waitFor(
        "a participant's first route installed",
        () => {
          victim = ipLines().find((entry) => entry.node !== plan.node && plan.actions.some((action) => entry.line === installs(action)))?.node ?? "";
          return victim !== "";
        },
        20_000,
        20,
      ).catch(async (error) => {
        throw new Error(`${error}; plan ${plan.plan_id}:\n${await whatHappened(0)}`);
      });
      const killed = lab.services.get(`executor@${victim}`);
      killed?.process.kill("SIGKILL");
      await killed?.exited;
      const killedAt = Date.now();
      await waitFor(`the result of plan ${plan.plan_id}`, () => results(at).some((r) => r.plan_id === plan.plan_id), 40_000, 100).catch(async (error) => {
        throw new Error(`${error}; victim ${victim}:\n${await whatHappened(at)}`);
      });
      const result = results(at).find((r) => r.plan_id === plan.plan_id) as ActionResult;
      expect(result.status).toBe("failed");
      expect(result.detail).toContain(victim);
      for (const participant of result.participants ?? [])
        if (participant.node !== victim && participant.node !== plan.node) expect(["rolled_back", "failed", "pending"]).toContain(participant.status);
      // No step's new route was installed twice.
      for (const action of plan.actions) expect(ipLines().filter((entry) => entry.line === installs(action)).length).toBeLessThanOrEqual(1);
      // Restarted, the killed executor finds its journal and the aborted plan: it rolls back its own applied step.
      await lab.startService(`executor@${victim}`);
      const outcomes = await openBucket(lab.nc, Buckets.outcomes);
      await waitFor(
        `${victim} rolled back its part`,
        async () => TxnParticipant.parse((await outcomes.get(txnParticipantKey(plan.plan_id, victim)))?.json()).status === "rolled_back",
        20_000,
        100,
      );
      const undone = ipLines().filter((entry) => entry.node === victim && entry.ns > BigInt(killedAt) * 1_000_000n && entry.line.startsWith("route replace"));
      expect(undone.length).toBeGreaterThan(0);
      expect((await outcomes.get(`journal.${plan.plan_id}.${victim}`))?.operation ?? "gone").not.toBe("PUT");
    } finally {
      // Every node's executor again, without the pause.
      await lab.startService("executor");
    }
  }, 120_000);

  test("coordination - every executor acted within its own node's permissions: the server refused nothing", () => {
    expect(existsSync(ipLog)).toBe(true);
    expect(lab.nats.log.filter((line) => line.includes("Violation"))).toEqual([]);
  });
});
