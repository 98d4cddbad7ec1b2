// bench:rag's lab part (root): does the rag help the planner stop repeating a repair that keeps failing? One link keeps
// being cut, and its detour is grey (it drops routed traffic, not hellos), so reroute-around is rolled back each time.
// The same rounds run with the rag and without (its signal off), each on a fresh lab. Method: bench/README.md.
import { type LabPlan, setDirectionalFault, setLinkLoss } from "@x0/lab";
import { Buckets, type OutcomeStats, openBucket, statsKey } from "@x0/shared";
import { recordEvents, waitFor } from "@x0/shared/testing";
import { type HealLab, startHealLab } from "../test/lab-stack.ts";
import { policyFileWithAll } from "./policy.ts";

const ROUNDS = Number(process.env.X0_BENCH_RAG_LAB_ROUNDS ?? 4);
/** The policy's cooldown on a target (5 s) and a margin: the next round's fault is planned at once, not deferred. */
const BETWEEN_ROUNDS_MS = 6500;

/** reroute-around's record on other links before the run: it has always worked there, so the per-kind stats trust it. */
const PRIOR: OutcomeStats = {
  v: 1,
  kind: "link_down",
  alternative: "reroute-around",
  attempts: 6,
  verified: 6,
  applied: 0,
  rolled_back: 0,
  failed: 0,
  ttr_ms: [420, 380, 450, 400, 390, 410],
  updated_at: Date.now(),
};

/** One round: the rule the planner chose for the lossy link and how the executor's result ended. */
export interface LabRound {
  round: number;
  kind: string;
  rule: string;
  status: string;
  similar_cases_used: number;
}

// The shipped policy repairs a cut link only by rerouting (or batman-deactivate); here it may also only notify, so a
// repair that keeps failing has a harmless alternative to give way to. The flapping hold-down would take the recurring
// link out of routing after its third cut in a minute: raised, so every round is planned the same way.
const POLICY: [string, string][] = [
  [
    "      - { name: reroute-around, approval: auto }\n      - { name: batman-deactivate, approval: auto }\n  node_unreachable:",
    "      - { name: reroute-around, approval: auto }\n      - { name: notify, approval: auto }\n      - { name: batman-deactivate, approval: auto }\n  node_unreachable:",
  ],
  ["flapping: { downs: 3, window_ms: 60000, stable_ms: 30000 }", "flapping: { downs: 100, window_ms: 60000, stable_ms: 30000 }"],
];

/** Every link but `a|b` drops routed traffic (service-address sources) and passes hellos: any detour fails verification. */
async function greyDetours(plan: LabPlan, a: string, b: string): Promise<void> {
  const id = `link:${[a, b].sort().join("|")}`;
  for (const link of plan.links.filter((candidate) => candidate.id !== id)) {
    for (const node of plan.nodes) {
      await setDirectionalFault(plan, link.a, link.b, 1, 5000, node.serviceAddress);
      await setDirectionalFault(plan, link.b, link.a, 1, 5000, node.serviceAddress);
    }
  }
}

async function arm(useRag: boolean, prefix: string): Promise<LabRound[]> {
  const lab: HealLab = await startHealLab({
    topology: "grid:3x3",
    prefix,
    services: useRag ? ["analyzer", "planner", "executor", "rag"] : ["analyzer", "planner", "executor"],
    serviceEnv: {
      planner: { X0_PLANNER_POLICY: policyFileWithAll("rag", POLICY), X0_PLANNER_RAG_DEADLINE_MS: useRag ? "20" : "0" },
      rag: { X0_RAG_SAVE_MS: "500" },
    },
  });
  try {
    const outcomes = await openBucket(lab.nc, Buckets.outcomes);
    await outcomes.put(statsKey("link_down", "reroute-around"), JSON.stringify(PRIOR));
    // The planner reads the stats when it takes the lead: a new one starts with the record above.
    await lab.startService("planner");
    const recorder = await recordEvents(lab.nc);
    const [a, b] = ["n1", "n2"];
    await greyDetours(lab.plan, a, b);
    const rounds: LabRound[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const at = Date.now();
      await setLinkLoss(lab.plan, a, b, 1);
      const planOf = () => recorder.plans.find((p) => p.at >= at && p.message.target?.id === "link:n1|n2")?.message;
      await waitFor(`round ${round}: a plan for n1|n2`, () => planOf() !== undefined, 30_000, 100);
      const plan = planOf();
      const resultOf = () => recorder.results.find((r) => r.message.plan_id === plan?.plan_id)?.message;
      await waitFor(`round ${round}: its result`, () => resultOf() !== undefined, 30_000, 100);
      const similar = plan?.alternatives?.reduce((sum, alternative) => sum + (alternative.similar?.incident_ids.length ?? 0), 0) ?? 0;
      rounds.push({ round, kind: plan?.kind ?? "?", rule: plan?.rule ?? "?", status: resultOf()?.status ?? "?", similar_cases_used: similar });
      process.stdout.write(`  ${useRag ? "with" : "without"} rag, round ${round}: ${plan?.rule} → ${resultOf()?.status} (similar cases: ${similar})\n`);
      await setLinkLoss(lab.plan, a, b, 0);
      await waitFor(
        `round ${round}: the incident resolved`,
        () => recorder.anomalies.some((x) => x.message.incident_id === plan?.incident_id && x.message.state === "resolved"),
        60_000,
        100,
      );
      await Bun.sleep(BETWEEN_ROUNDS_MS);
    }
    await recorder.stop();
    return rounds;
  } finally {
    await lab.stop();
  }
}

/** Both arms, with the rag first. */
export async function ragLabScenario(): Promise<{ topology: string; rounds: number; fault: string; with_rag: LabRound[]; without_rag: LabRound[] }> {
  const withRag = await arm(true, `x0rg${process.pid % 1000}`);
  const withoutRag = await arm(false, `x0rn${process.pid % 1000}`);
  return { topology: "grid:3x3", rounds: ROUNDS, fault: "cut n1|n2, every other link grey", with_rag: withRag, without_rag: withoutRag };
}
