import { describe, expect, test } from "bun:test";
import type { VoteRules } from "../contracts/governance.ts";
import { signedGenesis, signedVote, stored, testMembers, testProposal } from "../testing/governance.ts";
import { decide, powerOf, RecoveryCache, recount } from "./tally.ts";
import { governanceDomain, VoteDigester } from "./typed-data.ts";

// Weights 1, 4, 9, 16: quadratic powers 1, 2, 3, 4 (total 10), weighted 30.
const members = testMembers({ a: 1, b: 4, c: 9, d: 16 });
const [a, b, c, d] = members as [(typeof members)[0], (typeof members)[0], (typeof members)[0], (typeof members)[0]];
const genesis = await signedGenesis(members);
const digester = new VoteDigester(governanceDomain(genesis.space, genesis.chain_id));
const rules: VoteRules = { duration_ms: 60_000, quorum_bps: 5000, threshold_bps: 5000, tally: "quadratic", revote: false };
const after = (proposal: { deadline_at: number }) => proposal.deadline_at + 1;

describe("governance tally", () => {
  test("powers: the square root of the weight (quadratic) or the weight", () => {
    expect([1, 4, 9, 16].map((weight) => powerOf(weight, "quadratic"))).toEqual([1, 2, 3, 4]);
    expect(powerOf(16, "weighted")).toBe(16);
  });

  test("quadratic and weighted tallies of the same votes differ as computed by hand", async () => {
    // d yes, c no, b no. Quadratic: yes 4, no 3 + 2 = 5 → 4/9 ≤ 1/2, rejected. Weighted: yes 16, no 9 + 4 = 13 → 16/29 > 1/2, passed.
    for (const [tally, state, yes, no] of [
      ["quadratic", "rejected", 4, 5],
      ["weighted", "passed", 16, 13],
    ] as const) {
      const proposal = testProposal(genesis, { ...rules, tally });
      const votes = [stored(await signedVote(d, proposal, 1)), stored(await signedVote(c, proposal, 2)), stored(await signedVote(b, proposal, 2))];
      const count = await recount(proposal, genesis, votes, { now: after(proposal), digester });
      expect(count.state).toBe(state);
      expect(count.totals).toEqual({ yes, no, abstain: 0, eligible: tally === "quadratic" ? 10 : 30, votes: 3 });
      expect(count.decided).toBe("deadline");
    }
  });

  test("decided early only when the members who have not voted cannot change the result", async () => {
    const proposal = testProposal(genesis, rules);
    // d and c yes: 7 of 10 cast; even if a and b (3) vote no, 7/10 > 1/2.
    const passing = [stored(await signedVote(d, proposal, 1)), stored(await signedVote(c, proposal, 1))];
    expect(await recount(proposal, genesis, passing, { now: Date.now(), digester })).toMatchObject({ state: "passed", decided: "early" });
    // d yes alone: a, b and c (6) could still outvote it.
    expect((await recount(proposal, genesis, passing.slice(0, 1), { now: Date.now(), digester })).state).toBe("open");
    // d and c no: even if a and b vote yes, 3/10 ≤ 1/2.
    const failing = [stored(await signedVote(d, proposal, 2)), stored(await signedVote(c, proposal, 2))];
    expect(await recount(proposal, genesis, failing, { now: Date.now(), digester })).toMatchObject({ state: "rejected", decided: "early" });
    // With revote, nothing is certain before the deadline.
    const revotable = testProposal(genesis, { ...rules, revote: true });
    const all = [stored(await signedVote(d, revotable, 1)), stored(await signedVote(c, revotable, 1))];
    expect((await recount(revotable, genesis, all, { now: Date.now(), digester })).state).toBe("open");
  });

  test("too few votes: rejected at the deadline for want of quorum; a tie does not pass", async () => {
    const proposal = testProposal(genesis, rules);
    const lone = await recount(proposal, genesis, [stored(await signedVote(a, proposal, 1))], { now: after(proposal), digester });
    expect(lone.state).toBe("rejected");
    expect(lone.reason).toContain("quorum not met");
    // yes 4 (d) against no 1 + 3 (a, c): 4/8 is not above 1/2.
    const tie = [stored(await signedVote(d, proposal, 1)), stored(await signedVote(a, proposal, 2)), stored(await signedVote(c, proposal, 2))];
    const count = await recount(proposal, genesis, tie, { now: after(proposal), digester });
    expect(count).toMatchObject({ state: "rejected", totals: { yes: 4, no: 4 } });
    expect(count.reason).toContain("threshold not met");
  });

  test("one vote per member: a second is refused, or with revote replaces the first", async () => {
    const once = testProposal(genesis, rules);
    const first = stored(await signedVote(d, once, 1), Date.now() - 10);
    const second = stored(await signedVote(d, once, 2), Date.now());
    const count = await recount(once, genesis, [second, first], { now: Date.now(), digester });
    expect(count.counted.map((vote) => vote.vote.message.choice)).toEqual([1]);
    expect(count.refused[0]?.reason).toContain("already voted");
    const again = testProposal(genesis, { ...rules, revote: true });
    const replaced = await recount(
      again,
      genesis,
      [stored(await signedVote(d, again, 1), Date.now() - 10), stored(await signedVote(d, again, 2), Date.now())],
      { now: after(again), digester },
    );
    expect(replaced.counted.map((vote) => vote.vote.message.choice)).toEqual([2]);
    expect(replaced.refused[0]?.reason).toContain("replaced");
  });

  test("bad votes are refused with their reason and count nothing", async () => {
    const proposal = testProposal(genesis, rules);
    const other = testProposal(genesis, rules);
    const outsider = testMembers({ mallory: 100 })[0] as (typeof members)[0];
    const late = Math.floor((proposal.deadline_at + 5000) / 1000);
    const bad = [
      stored(await signedVote(outsider, proposal, 1)),
      stored(await signedVote(d, proposal, 1, { hash: other.hash })),
      stored(await signedVote(c, proposal, 1, { chainId: 5 })),
      stored(await signedVote(b, proposal, 1, { timestamp: late })),
      stored(await signedVote(a, proposal, 1), proposal.deadline_at + 1),
      stored({ ...(await signedVote(a, other, 1)) }),
      stored({ ...(await signedVote(d, proposal, 1)), signature: `0x${"ab".repeat(65)}` }),
    ];
    const count = await recount(proposal, genesis, bad, { now: after(proposal), digester, cache: new RecoveryCache() });
    expect(count.totals.votes).toBe(0);
    expect(count.state).toBe("rejected");
    const reasons = count.refused.map((refused) => refused.reason);
    expect(reasons).toHaveLength(bad.length);
    for (const expected of [
      "is not a member",
      "over another proposal",
      "wrong chain id, domain or message",
      "after the deadline",
      "received at",
      `not ${proposal.proposal_id}`,
      "signature",
    ]) {
      expect(reasons.some((reason) => reason.includes(expected))).toBe(true);
    }
  });

  test("decide: the threshold is exceeded, not reached; quorum counts abstentions", () => {
    const base = { quorum_bps: 5000, threshold_bps: 6000, revote: false, deadline_at: 0 };
    expect(decide({ yes: 6, no: 4, abstain: 0, eligible: 10, votes: 2 }, 0, base, 1).state).toBe("rejected");
    expect(decide({ yes: 7, no: 4, abstain: 0, eligible: 11, votes: 2 }, 0, base, 1).state).toBe("passed");
    expect(decide({ yes: 1, no: 0, abstain: 4, eligible: 10, votes: 2 }, 5, base, 1).state).toBe("passed");
    expect(decide({ yes: 1, no: 0, abstain: 3, eligible: 10, votes: 2 }, 6, base, 1).reason).toContain("quorum not met");
  });
});
