import { describe, expect, test } from "bun:test";
import { createLogger, type Plan, type ProposalEvent, type SignedVote, type VoteRules } from "@x0/shared";
import { GovStore, MemberChain, RecoveryCache } from "@x0/shared/governance";
import { memoryGovBucket, signedGenesis, signedVote, type TestMember, testMembers } from "@x0/shared/testing";
import { Registry } from "prom-client";
import { parsePolicy } from "../policy/policy.ts";
import { Governance } from "./governance.ts";
import { createGovernanceMetrics } from "./metrics.ts";

const members = testMembers({ a: 1, b: 4, c: 9, d: 16 });
const member = (name: string) => members.find((m) => m.name === name) as TestMember;
const genesis = await signedGenesis(members);
const rules: VoteRules = { duration_ms: 60_000, quorum_bps: 5000, threshold_bps: 5000, tally: "quadratic", revote: false };

function setup(overrides: Partial<VoteRules> = {}) {
  let now = 1_800_000_000_000;
  const store = new GovStore(memoryGovBucket());
  const events: ProposalEvent[] = [];
  const letters: { vote: SignedVote; reason: string }[] = [];
  const adopted: string[] = [];
  const governance = new Governance({
    store,
    chain: new MemberChain(genesis, store),
    rules: () => ({ ...rules, ...overrides }),
    // Signing is the crypto's (tested there); here the records are what matters.
    sign: (_domain, message) => message,
    publishEvent: async (event) => void events.push(event),
    deadLetter: (vote, reason) => void letters.push({ vote, reason }),
    policyProblem: (text) => {
      try {
        parsePolicy(text);
        return undefined;
      } catch (error) {
        return (error as Error).message;
      }
    },
    adoptPolicy: async (text) => void adopted.push(text),
    proposer: "planner/test",
    cache: new RecoveryCache(),
    metrics: createGovernanceMetrics(new Registry()),
    logger: createLogger({ service: "planner-test", node: "test", level: "error" }),
    now: () => now,
  });
  const advance = (ms: number) => {
    now += ms;
  };
  return { store, governance, events, letters, adopted, advance };
}

const plan = (): Plan => ({
  v: 1,
  plan_id: crypto.randomUUID(),
  incident_id: crypto.randomUUID(),
  node: "n1",
  kind: "traffic_spike",
  rule: "traffic_spike/quarantine",
  approval: "vote",
  proposal_id: crypto.randomUUID(),
  actions: [{ type: "notify", params: { message: "m" }, reason: "r" }],
  created_at: 1_800_000_000_000,
});

describe("planner governance", () => {
  test("a vote plan opens one proposal binding it; opening it again returns the stored one", async () => {
    const { governance, store, events } = setup();
    const votePlan = plan();
    const proposal = await governance.openForPlan(votePlan);
    expect(proposal).toMatchObject({ kind: "plan", proposal_id: votePlan.proposal_id, members_version: 1, deadline_at: proposal.created_at + 60_000 });
    expect(await governance.openForPlan({ ...votePlan, created_at: 1 })).toEqual(proposal);
    expect(await store.proposalIds()).toEqual([proposal.proposal_id]);
    expect(events.map((event) => event.state)).toEqual(["open"]);
  });

  test("votes are counted once; a replay, a late vote and a vote after closing are refused and dead-lettered", async () => {
    const { governance, letters, advance, events } = setup();
    const proposal = await governance.openForPlan(plan());
    const vote = await signedVote(member("d"), proposal, 1, { timestamp: Math.floor(proposal.created_at / 1000) });
    expect(await governance.vote(vote)).toMatchObject({ accepted: true, reason: "counted", power: 4, state: "open" });
    expect((await governance.vote(vote)).reason).toContain("replayed");
    expect((await governance.vote(await signedVote(member("d"), proposal, 2, { timestamp: Math.floor(proposal.created_at / 1000) }))).reason).toContain(
      "already voted",
    );
    // c's yes makes 7 of 10: passed early, closed, the tally published with the event.
    expect(await governance.vote(await signedVote(member("c"), proposal, 1, { timestamp: Math.floor(proposal.created_at / 1000) }))).toMatchObject({
      accepted: true,
      state: "passed",
    });
    expect(events.at(-1)).toMatchObject({ state: "passed", tally: { result: "passed", decided: "early" } });
    expect((await governance.vote(await signedVote(member("a"), proposal, 1, { timestamp: Math.floor(proposal.created_at / 1000) }))).reason).toContain(
      "is closed",
    );
    const other = await governance.openForPlan(plan());
    advance(61_000);
    expect((await governance.vote(await signedVote(member("a"), other, 1, { timestamp: Math.floor(other.created_at / 1000) }))).reason).toContain(
      "after the deadline",
    );
    expect(letters.map((letter) => letter.reason)).toHaveLength(4);
  });

  test("with revote a later vote replaces the earlier one, but an earlier vote replayed cannot", async () => {
    const { governance, store } = setup({ revote: true });
    const proposal = await governance.openForPlan(plan());
    const seconds = Math.floor(proposal.created_at / 1000);
    const first = await signedVote(member("d"), proposal, 1, { timestamp: seconds });
    const second = await signedVote(member("d"), proposal, 2, { timestamp: seconds + 1 });
    expect((await governance.vote(first)).reason).toBe("counted");
    expect((await governance.vote(second)).reason).toBe("replaced");
    expect((await governance.vote(first)).reason).toContain("cannot replace it");
    expect((await store.votes(proposal.proposal_id)).map((vote) => vote.message.choice)).toEqual([2]);
  });

  test("at the deadline the leader closes what is due: too few votes, rejected", async () => {
    const { governance, store, advance } = setup();
    const proposal = await governance.openForPlan(plan());
    await governance.vote(await signedVote(member("a"), proposal, 1, { timestamp: Math.floor(proposal.created_at / 1000) }));
    await governance.closeDue();
    expect(await store.tallyRecord(proposal.proposal_id)).toBeUndefined();
    advance(60_001);
    await governance.closeDue();
    expect((await store.tallyRecord(proposal.proposal_id))?.value).toMatchObject({ result: "rejected", decided: "deadline" });
  });

  test("members and policy proposals: checked when proposed, carried out when passed; two members changes from one version conflict", async () => {
    const { governance, store, adopted } = setup();
    const newcomer = testMembers({ e: 25 })[0] as TestMember;
    const list = [...genesis.members, { address: newcomer.account.address, weight: 25, name: "e" }];
    await expect(
      governance.propose({ kind: "members", title: "twice", members: [...genesis.members, genesis.members[0] as (typeof list)[0]] }),
    ).rejects.toThrow("listed twice");
    await expect(governance.propose({ kind: "policy", title: "bad", policy: "version: 3" })).rejects.toThrow("invalid policy");
    const first = await governance.propose({ kind: "members", title: "add e", members: list });
    const second = await governance.propose({ kind: "members", title: "drop a", members: genesis.members.slice(1) });
    for (const proposal of [first, second]) {
      for (const name of ["c", "d"]) await governance.vote(await signedVote(member(name), proposal, 1, { timestamp: Math.floor(proposal.created_at / 1000) }));
    }
    expect((await store.memberSet(2))?.members).toHaveLength(5);
    expect((await store.tallyRecord(second.proposal_id))?.value.reason).toContain("member set changed since");
    expect(await governance.currentMembers()).toMatchObject({ version: 2 });
    const policy = await governance.propose({ kind: "policy", title: "same", policy: "version: 2\nkinds: {}\n" });
    // Version 2 (15 in all): c, d and e give 12, more than a and b could outweigh.
    for (const who of [member("c"), member("d"), { ...newcomer, name: "e" }]) {
      await governance.vote(await signedVote(who, policy, 1, { timestamp: Math.floor(policy.created_at / 1000) }));
    }
    expect(adopted).toEqual(["version: 2\nkinds: {}\n"]);
  });
});
