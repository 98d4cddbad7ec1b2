// Governance across real processes: a planner and an enforcing site executor on a secure nats-server, members voting with
// EIP-712 signatures through `x0 gov` (as admin and as a voter identity). A vote plan waits, passes or is rejected; the
// executor recounts by itself; bad votes are refused with their reason and dead-lettered; members and policy change by vote.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  type ActionResult,
  CHOICES,
  EXIT_CONFIG,
  govVoteEndpoint,
  type MemberSet,
  type Plan,
  type Proposal,
  type SignedVote,
  type Tally,
  VoteReceipt,
} from "@x0/shared";
import { GovStore } from "@x0/shared/governance";
import {
  anomalyFixture,
  type EventRecorder,
  REPO_ROOT,
  recordEvents,
  type SecureNats,
  type ServiceProcess,
  signedGenesis,
  signedVote,
  startSecureNats,
  startServiceProcess,
  type TestMember,
  testMembers,
  waitFor,
} from "@x0/shared/testing";
import { runGov } from "../cli/src/gov/command.ts";
import { testClient } from "./helpers.ts";

const NODE = "lab1";
const DURATION_MS = 6000;
const work = mkdtempSync(join(tmpdir(), "x0-gov-test-"));
// Weights 1, 4, 9, 16: quadratic powers 1, 2, 3, 4 (10 in all).
const members = testMembers({ a: 1, b: 4, c: 9, d: 16 });
const member = (name: string) => members.find((m) => m.name === name) as TestMember;
let genesis: MemberSet;
let secure: SecureNats;
let nc: NatsConnection;
let recorder: EventRecorder;
let store: GovStore;
const services: ServiceProcess[] = [];
const membersPath = join(work, "members.json");
let adminEnv: Record<string, string>;
let voterEnv: Record<string, string>;

function keyFile(who: TestMember): string {
  const path = join(work, `${who.name}.key`);
  writeFileSync(path, who.privateKey);
  chmodSync(path, 0o600);
  return path;
}

function writeText(name: string, text: string): string {
  const path = join(work, name);
  writeFileSync(path, text);
  return path;
}

/** Runs `x0 gov` as `env`'s identity; its exit code and output. */
async function gov(args: string[], env = adminEnv): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  try {
    const code = await runGov(args, env, { out: (text) => void out.push(text), err: (text) => void err.push(text) });
    return { code, out: out.join("\n"), err: err.join("\n") };
  } catch (error) {
    return { code: 1, out: out.join("\n"), err: [...err, (error as Error).message].join("\n") };
  }
}

/** Publishes an opened link_down incident, which the test policy answers with a vote plan; its plan once published. */
async function votePlan(): Promise<Plan> {
  const anomaly = anomalyFixture({ node: NODE });
  await jetstream(nc).publish(`x0.anomaly.${NODE}`, JSON.stringify(anomaly), { msgID: `anomaly:${anomaly.incident_id}:0` });
  await waitFor("the vote plan", () => recorder.plans.some((p) => p.message.incident_id === anomaly.incident_id), 10_000);
  const plan = recorder.plans.find((p) => p.message.incident_id === anomaly.incident_id)?.message as Plan;
  expect(plan.approval).toBe("vote");
  return plan;
}

const resultsOf = (plan: Plan): ActionResult[] => recorder.results.filter((r) => r.message.plan_id === plan.plan_id).map((r) => r.message);

/** A vote sent straight to x0.gov.vote (as admin), and its receipt. */
async function submit(vote: SignedVote | Record<string, unknown>): Promise<{ receipt?: VoteReceipt; error?: string }> {
  const reply = await nc.request(govVoteEndpoint.subject, JSON.stringify(vote), { timeout: 5000 });
  const code = reply.headers?.get("Nats-Service-Error-Code");
  if (code) return { error: `${code} ${reply.headers?.get("Nats-Service-Error")}` };
  return { receipt: VoteReceipt.parse(reply.json()) };
}

beforeAll(async () => {
  genesis = await signedGenesis(members, "test.mesh", 1);
  writeFileSync(membersPath, JSON.stringify(genesis));
  const policy = readFileSync(join(REPO_ROOT, "services", "planner", "policy.yaml"), "utf8")
    .replace(
      "fallback:\n",
      `fallback:\n  - name: vote-notify\n    match: { kinds: [link_down], states: [opened] }\n    approval: vote\n    actions:\n      - { type: notify, params: { incident_id: "{incident_id}", message: "{kind} on {node}: decided by vote" }, reason: "members decide" }\n`,
    )
    .concat(`\ngovernance: { duration_ms: ${DURATION_MS}, quorum_bps: 5000, threshold_bps: 5000, tally: quadratic }\n`);
  writeFileSync(join(work, "policy.yaml"), policy);
  secure = await startSecureNats({ nodes: [NODE] });
  const common = { ...secure.serviceEnv, X0_NODE: NODE, X0_LOG_LEVEL: "warn", X0_GOV_MEMBERS: membersPath };
  services.push(
    startServiceProcess("planner", { ...common, X0_PLANNER_POLICY: join(work, "policy.yaml") }),
    startServiceProcess("executor", { ...common, X0_EXECUTOR_SCOPE: "all", X0_EXECUTOR_MODE: "enforce", X0_EXECUTOR_VOTE_RECHECK_MS: "200" }),
  );
  await Promise.all(services.map((service) => service.waitReady()));
  nc = await testClient(secure.nats.url, secure.adminTls);
  recorder = await recordEvents(nc);
  store = new GovStore(await new Kvm(nc).open("x0_gov"));
  const tlsEnv = (tls: SecureNats["adminTls"]) => ({ X0_NATS_TLS_CA: tls.caFile, X0_NATS_TLS_CERT: tls.certFile, X0_NATS_TLS_KEY: tls.keyFile });
  adminEnv = { X0_NATS_SERVERS: secure.nats.url, X0_GOV_MEMBERS: membersPath, X0_STATE_DIR: work, ...tlsEnv(secure.adminTls) };
  voterEnv = { ...adminEnv, ...tlsEnv(secure.voterTls) };
}, 60_000);

afterAll(async () => {
  await nc?.close();
  await Promise.all(services.map((service) => service.stop()));
  await secure?.dispose();
  rmSync(work, { recursive: true, force: true });
});

describe("governance", () => {
  test("governance - a vote plan waits; three members' votes pass it; the executor recounts and runs it", async () => {
    const plan = await votePlan();
    await waitFor("awaiting_approval", () => resultsOf(plan).some((r) => r.status === "awaiting_approval"), 10_000);
    const proposal = (await store.proposal(plan.proposal_id as string)) as Proposal;
    expect(proposal).toMatchObject({ kind: "plan", members_version: 1, tally: "quadratic", plan: { plan_id: plan.plan_id } });

    // a and b: yes 3 of 10, c and d (7) could still reject it; d's yes makes 7 of 10, which no remaining vote can undo.
    expect((await gov(["vote", proposal.proposal_id, "--key", keyFile(member("a")), "--choice", "yes"])).code).toBe(0);
    const asVoter = await gov(["vote", proposal.proposal_id, "--key", keyFile(member("b")), "--choice", "yes", "--json"], voterEnv);
    expect(asVoter.code).toBe(0);
    expect(JSON.parse(asVoter.out)).toMatchObject({ accepted: true, state: "open", power: 2 });
    expect(resultsOf(plan).every((r) => r.status === "awaiting_approval")).toBe(true);
    const third = await gov(["vote", proposal.proposal_id, "--key", keyFile(member("d")), "--choice", "yes", "--reason", "it floods", "--json"]);
    expect(JSON.parse(third.out)).toMatchObject({ accepted: true, state: "passed", totals: { yes: 7, no: 0, abstain: 0, eligible: 10, votes: 3 } });

    await waitFor("the plan run", () => resultsOf(plan).some((r) => r.status === "applied"), 10_000);
    const ran = resultsOf(plan).find((r) => r.status === "applied") as ActionResult;
    expect(ran.steps.map((step) => step.status)).toEqual(["applied"]);
    const tally = (await store.tallyRecord(proposal.proposal_id))?.value as Tally;
    expect(tally).toMatchObject({ result: "passed", decided: "early", proposal_hash: proposal.hash });
    expect(tally.votes.map((vote) => vote.message.from.toLowerCase()).sort()).toEqual(
      ["a", "b", "d"].map((name) => member(name).account.address.toLowerCase()).sort(),
    );
    // Anyone recounts it: every signature checks, and the recount agrees with the tally.
    const verify = await gov(["verify", proposal.proposal_id, "--json"], voterEnv);
    expect(verify.code).toBe(0);
    expect(JSON.parse(verify.out)).toMatchObject({ agrees: true, recount: { state: "passed" } });
    // Status lists it, closed.
    expect((await gov(["status"])).out).toContain(proposal.proposal_id);
  }, 30_000);

  test(
    "governance - too few votes: at the deadline the proposal is rejected and the executor reports rejected; nothing runs",
    async () => {
      const plan = await votePlan();
      expect((await gov(["vote", plan.proposal_id as string, "--key", keyFile(member("a")), "--choice", "yes"])).code).toBe(0);
      await waitFor("rejected", () => resultsOf(plan).some((r) => r.status === "rejected"), DURATION_MS + 10_000, 100);
      const rejected = resultsOf(plan).find((r) => r.status === "rejected") as ActionResult;
      expect(rejected.detail).toContain("quorum not met");
      expect(rejected.steps.every((step) => step.status === "skipped")).toBe(true);
      expect(resultsOf(plan).some((r) => r.status === "applied")).toBe(false);
      // The executor decided on its own recount; the planner's tally (written on its next tick) says the same.
      await waitFor("the tally", async () => (await store.tallyRecord(plan.proposal_id as string)) !== undefined, 5000);
      expect((await store.tallyRecord(plan.proposal_id as string))?.value).toMatchObject({ result: "rejected", decided: "deadline" });
      // A vote after the close is refused.
      const late = await gov(["vote", plan.proposal_id as string, "--key", keyFile(member("d")), "--choice", "yes"]);
      expect(late.code).toBe(1);
      expect(late.out).toContain("is closed");
    },
    DURATION_MS + 20_000,
  );

  test("governance - a forged tally is refused by the executor's own recount: the plan is rejected, not run", async () => {
    const plan = await votePlan();
    const proposal = (await store.proposal(plan.proposal_id as string)) as Proposal;
    // As if the planner were compromised: a tally that says passed, with no votes behind it.
    const forged: Tally = {
      v: 1,
      proposal_id: proposal.proposal_id,
      proposal_hash: proposal.hash,
      result: "passed",
      reason: "trust me",
      decided: "early",
      totals: { yes: 10, no: 0, abstain: 0, eligible: 10, votes: 4 },
      votes: [],
      closed_at: Date.now(),
    };
    await store.createTally(forged);
    await waitFor("rejected", () => resultsOf(plan).some((r) => r.status === "rejected"), 10_000);
    expect(resultsOf(plan).find((r) => r.status === "rejected")?.detail).toContain("tally refused");
    expect(resultsOf(plan).some((r) => r.status === "applied")).toBe(false);
    const verify = await gov(["verify", proposal.proposal_id]);
    expect(verify.code).toBe(1);
    expect(verify.out).toContain("DISAGREES");
  }, 20_000);

  test("governance - an altered proposal (another plan hash) is refused: the plan is rejected", async () => {
    const plan = await votePlan();
    const record = await store.proposalRecord(plan.proposal_id as string);
    const kv = await new Kvm(nc).open("x0_gov");
    await kv.put(`proposal.${plan.proposal_id}`, JSON.stringify({ ...(record?.raw as object), content: `0x${"ab".repeat(32)}` }));
    await waitFor("rejected", () => resultsOf(plan).some((r) => r.status === "rejected"), 10_000);
    expect(resultsOf(plan).find((r) => r.status === "rejected")?.detail).toContain("altered plan refused");
  }, 20_000);

  test("governance - bad votes are refused with a clear reason, dead-lettered, and count nothing", async () => {
    const plan = await votePlan();
    const proposal = (await store.proposal(plan.proposal_id as string)) as Proposal;
    const other = testMembers({ mallory: 50 })[0] as TestMember;
    const good = await signedVote(member("c"), proposal, CHOICES.no);
    const cases: [string, SignedVote | Record<string, unknown>, string][] = [
      ["malformed typed data", { ...good, message: { ...good.message, choice: 7 } }, "400"],
      ["an oversized reason", { ...good, message: { ...good.message, reason: "x".repeat(300) } }, "400"],
      ["a wrong chain id", await signedVote(member("c"), proposal, CHOICES.no, { chainId: 5 }), "wrong chain id, domain or message"],
      ["a signature over another proposal", await signedVote(member("c"), proposal, CHOICES.no, { hash: `0x${"cd".repeat(32)}` }), "over another proposal"],
      ["a non-member", await signedVote(other, proposal, CHOICES.yes), "is not a member"],
      ["an unknown proposal", { ...good, proposal_id: crypto.randomUUID() }, "unknown proposal"],
    ];
    const lettersBefore = recorder.deadLetters.length;
    for (const [what, vote, expected] of cases) {
      const { receipt, error } = await submit(vote);
      expect({ what, refusal: error ?? receipt?.reason }).toMatchObject({ what, refusal: expect.stringContaining(expected) });
      expect(receipt?.accepted ?? false).toBe(false);
    }
    // The real vote counts once; the same bytes again are a replay.
    expect((await submit(good)).receipt).toMatchObject({ accepted: true, reason: "counted" });
    expect((await submit(good)).receipt?.reason).toContain("replayed");
    await waitFor("dead letters", () => recorder.deadLetters.length >= lettersBefore + cases.length + 1, 5000);
    const letters = recorder.deadLetters.slice(lettersBefore).map((letter) => letter.message);
    expect(letters.every((letter) => letter.subject === "x0.gov.vote" && letter.service === "planner")).toBe(true);
    expect(letters.some((letter) => letter.error.includes("replayed"))).toBe(true);
    expect(await store.votes(proposal.proposal_id)).toHaveLength(1);
  }, 20_000);

  test("governance - the member set changes only through a passed proposal; the new member's vote then counts", async () => {
    const newcomer = testMembers({ e: 25 })[0] as TestMember;
    const list = [...genesis.members.map((m) => `${m.address}:${m.weight}:${m.name}`), `${newcomer.account.address}:25:e`];
    const proposed = await gov(["propose", "members", "--title", "welcome e", ...list.flatMap((entry) => ["--member", entry]), "--json"]);
    expect(proposed.code).toBe(0);
    const proposal = JSON.parse(proposed.out) as Proposal;
    expect(proposal).toMatchObject({ kind: "members", members_version: 1 });
    // The voter identity may vote but not propose: the server refuses it.
    expect((await gov(["propose", "members", "--title", "t", "--member", list[0] as string], voterEnv)).code).not.toBe(0);
    for (const name of ["c", "d"]) expect((await gov(["vote", proposal.proposal_id, "--key", keyFile(member(name)), "--choice", "yes"])).code).toBe(0);
    await waitFor("member set version 2", async () => (await store.memberSet(2)) !== undefined, 5000);
    const shown = JSON.parse((await gov(["members", "--json"])).out) as MemberSet;
    expect(shown.version).toBe(2);
    expect(shown.members).toHaveLength(5);
    // A plan proposed now is decided by version 2: e (power 5 of 15) votes.
    const plan = await votePlan();
    const next = (await store.proposal(plan.proposal_id as string)) as Proposal;
    expect(next.members_version).toBe(2);
    const eKey = keyFile({ ...newcomer, name: "e" });
    expect(JSON.parse((await gov(["vote", next.proposal_id, "--key", eKey, "--choice", "yes", "--json"])).out)).toMatchObject({ accepted: true, power: 5 });
    // And the executor, verifying version 2 from the genesis by recounting its proposal, runs the plan once it passes.
    expect((await gov(["vote", next.proposal_id, "--key", keyFile(member("d")), "--choice", "yes"])).code).toBe(0);
    await waitFor("the plan run", () => resultsOf(plan).some((r) => r.status === "applied"), 10_000);
  }, 30_000);

  test("governance - a policy change passes by vote and the planner adopts it: the same incident gets an automatic plan", async () => {
    const current = readFileSync(join(work, "policy.yaml"), "utf8");
    const relaxed = current.replace("    approval: vote\n", "    approval: auto\n");
    expect(relaxed).not.toBe(current);
    const bad = await gov(["propose", "policy", "--title", "broken", "--file", writeText("bad.yaml", "version: 3\n")]);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain("invalid policy");
    const proposed = await gov(["propose", "policy", "--title", "let the planner act alone", "--file", writeText("relaxed.yaml", relaxed), "--json"]);
    const proposal = JSON.parse(proposed.out) as Proposal;
    // Decided by member set version 2 (powers 1, 2, 3, 4, 5): a to d give 10 of 15, more than e could outweigh.
    for (const name of ["a", "b", "c", "d"])
      expect((await gov(["vote", proposal.proposal_id, "--key", keyFile(member(name)), "--choice", "yes"])).code).toBe(0);
    await waitFor("the policy adopted", async () => (await store.adoptedPolicy())?.proposal_id === proposal.proposal_id, 5000);
    // The leader rebuilt its planner on the adopted policy: a new incident's plan runs without a vote.
    await waitFor(
      "an automatic plan",
      async () => {
        const anomaly = anomalyFixture({ node: NODE });
        await jetstream(nc).publish(`x0.anomaly.${NODE}`, JSON.stringify(anomaly), { msgID: `anomaly:${anomaly.incident_id}:0` });
        await Bun.sleep(300);
        return recorder.plans.some((p) => p.message.incident_id === anomaly.incident_id && p.message.approval === "auto");
      },
      10_000,
      0,
    );
  }, 30_000);

  test("governance - a planner whose policy needs votes will not start without X0_GOV_MEMBERS, nor with an unsigned genesis", async () => {
    const env = { ...secure.serviceEnv, X0_NODE: NODE, X0_LOG_LEVEL: "warn", X0_PLANNER_POLICY: join(work, "policy.yaml") };
    const unsigned = writeText("unsigned.json", JSON.stringify({ ...genesis, signatures: genesis.signatures.slice(1) }));
    for (const [extra, expected] of [
      [{}, /X0_GOV_MEMBERS: the genesis member set file: the policy has plans whose approval is vote/],
      [{ X0_GOV_MEMBERS: unsigned }, /X0_GOV_MEMBERS: genesis member set: not signed by/],
    ] as const) {
      const planner = startServiceProcess("planner", { ...env, ...extra });
      expect(await planner.exited).toBe(EXIT_CONFIG);
      await Bun.sleep(20);
      expect(planner.output.join("\n")).toMatch(expected);
    }
  }, 30_000);

  test("governance - every process did all of this within its permissions, but the voter's refused proposal", () => {
    const violations = secure.nats.log.filter((line) => line.includes("Violation"));
    expect(violations.every((line) => line.includes("x0.gov.propose"))).toBe(true);
    expect(violations.length).toBeGreaterThan(0);
  });
});
