import { describe, expect, test } from "bun:test";
import type { MemberSet, Proposal, StoredVote, VoteRules } from "../contracts/governance.ts";
import { signedGenesis, signedVote, stored, testMembers, testProposal } from "../testing/governance.ts";
import { GovernanceError } from "./errors.ts";
import { MemberChain, type MemberChainSource, proposedMembersHash, successorOf, verifyGenesis } from "./members.ts";

const members = testMembers({ a: 1, b: 4, c: 9 });
const rules: VoteRules = { duration_ms: 60_000, quorum_bps: 5000, threshold_bps: 5000, tally: "quadratic", revote: false };

function source(sets: MemberSet[], proposals: Proposal[], votes: Record<string, StoredVote[]>): MemberChainSource {
  return {
    memberSet: async (version) => sets.find((set) => set.version === version),
    proposal: async (id) => proposals.find((proposal) => proposal.proposal_id === id),
    proposalByHash: async (hash) => proposals.find((proposal) => proposal.hash === hash),
    votes: async (id) => votes[id] ?? [],
  };
}

describe("governance members", () => {
  test("a genesis signed by every member verifies; a missing or foreign signature, or an edited list, does not", async () => {
    const genesis = await signedGenesis(members);
    await verifyGenesis(genesis);
    await expect(verifyGenesis({ ...genesis, signatures: genesis.signatures.slice(1) })).rejects.toThrow(/not signed by/);
    const edited = { ...genesis, members: genesis.members.map((member, index) => (index === 0 ? { ...member, weight: 100 } : member)) };
    await expect(verifyGenesis(edited)).rejects.toThrow(GovernanceError);
    const twice = { ...genesis, members: [...genesis.members, genesis.members[0] as MemberSet["members"][number]] };
    await expect(verifyGenesis(twice)).rejects.toThrow(/listed twice/);
  });

  test("a later version is verified by recounting the members proposal that made it", async () => {
    const genesis = await signedGenesis(members);
    const newcomer = testMembers({ d: 16 })[0] as (typeof members)[0];
    const list = [...genesis.members, { address: newcomer.account.address, weight: 16, name: "d" }];
    const draft = successorOf(genesis, list, `0x${"00".repeat(32)}`);
    const proposal = testProposal(genesis, rules, { kind: "members", content: proposedMembersHash(draft), members: draft });
    const next = { ...draft, proposal: proposal.hash };
    // b and c (2 + 3 of 6) vote yes: passed early.
    const yes = [
      stored(await signedVote(members[1] as (typeof members)[0], proposal, 1)),
      stored(await signedVote(members[2] as (typeof members)[0], proposal, 1)),
    ];
    const chain = new MemberChain(genesis, source([genesis, next], [proposal], { [proposal.proposal_id]: yes }));
    expect((await chain.resolve(2)).members).toHaveLength(4);
    expect(chain.latestVerified).toBe(2);

    const unvoted = new MemberChain(genesis, source([genesis, next], [proposal], {}));
    await expect(unvoted.resolve(2)).rejects.toThrow(/did not pass on recount/);
    const swapped = { ...next, members: genesis.members };
    await expect(new MemberChain(genesis, source([genesis, swapped], [proposal], { [proposal.proposal_id]: yes })).resolve(2)).rejects.toThrow(
      /not the member set proposal/,
    );
    await expect(chain.resolve(3)).rejects.toThrow(/not stored/);
  });
});
