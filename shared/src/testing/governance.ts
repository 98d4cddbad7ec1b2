// Governance test helpers: members with real secp256k1 keys, a genesis they all signed, proposals and signed votes.
import { keccak256, stringToBytes } from "viem";
import { type PrivateKeyAccount, privateKeyToAccount } from "viem/accounts";
import type { MemberSet, Proposal, SignedVote, StoredVote, VoteMessage, VoteRules } from "../contracts/governance.ts";
import type { GovBucket } from "../governance/store.ts";
import { governanceDomain, memberSetTypedData, type ProposalFields, proposalHash, voteTypedData, ZERO_HASH } from "../governance/typed-data.ts";

/** A member for tests: its key (derived from its name) and weight. */
export interface TestMember {
  name: string;
  account: PrivateKeyAccount;
  privateKey: `0x${string}`;
  weight: number;
}

/** Members named `names` with `weights`; keys are keccak256 of the name, so runs repeat. */
export function testMembers(weights: Record<string, number>): TestMember[] {
  return Object.entries(weights).map(([name, weight]) => {
    const privateKey = keccak256(stringToBytes(`x0 test member ${name}`));
    return { name, account: privateKeyToAccount(privateKey), privateKey, weight };
  });
}

/** A genesis member set listing `members`, signed by each of them. */
export async function signedGenesis(members: readonly TestMember[], space = "test.mesh", chainId = 1): Promise<MemberSet> {
  const set: MemberSet = {
    v: 1,
    space,
    chain_id: chainId,
    version: 1,
    members: members.map((member) => ({ address: member.account.address, weight: member.weight, name: member.name })),
    previous: ZERO_HASH,
    proposal: ZERO_HASH,
    signatures: [],
  };
  const typed = memberSetTypedData(set);
  for (const member of members) set.signatures.push({ address: member.account.address, signature: await member.account.signTypedData(typed) });
  return set;
}

/** A proposal under `set` with `rules`; its hash computed. */
export function testProposal(
  set: MemberSet,
  rules: VoteRules,
  overrides: Partial<ProposalFields> & Partial<Pick<Proposal, "plan" | "members" | "policy">> = {},
): Proposal {
  const now = Date.now();
  const fields: ProposalFields = {
    space: set.space,
    proposal_id: crypto.randomUUID(),
    kind: "policy",
    title: "a test proposal",
    content: keccak256(stringToBytes("content")),
    members_version: set.version,
    created_at: now,
    deadline_at: now + rules.duration_ms,
    quorum_bps: rules.quorum_bps,
    threshold_bps: rules.threshold_bps,
    tally: rules.tally,
    revote: rules.revote,
    ...overrides,
  };
  const { plan, members, policy } = overrides;
  return {
    v: 1,
    ...fields,
    hash: proposalHash(fields),
    proposer: "test",
    ...(plan ? { plan } : {}),
    ...(members ? { members } : {}),
    ...(policy ? { policy } : {}),
  };
}

/** `member`'s vote on `proposal`, signed under the mesh's domain (or `chainId`'s). */
export async function signedVote(
  member: TestMember,
  proposal: Proposal,
  choice: 1 | 2 | 3,
  {
    chainId = 1,
    reason = "",
    timestamp = Math.floor(Date.now() / 1000),
    hash = proposal.hash,
  }: { chainId?: number; reason?: string; timestamp?: number; hash?: string } = {},
): Promise<SignedVote> {
  const message: VoteMessage = {
    from: member.account.address,
    space: proposal.space,
    timestamp,
    proposal: hash,
    choice,
    reason,
    app: "x0-test",
    metadata: "{}",
  };
  const signature = await member.account.signTypedData(voteTypedData(message, governanceDomain(proposal.space, chainId)));
  return { v: 1, proposal_id: proposal.proposal_id, message, signature };
}

/** `vote` as stored, received at `receivedAt`. */
export function stored(vote: SignedVote, receivedAt = Date.now()): StoredVote {
  return { ...vote, received_at: receivedAt };
}

/** An in-memory x0_gov for unit tests of the logic above the store (the real bucket is tested in test/governance.test.ts). */
export function memoryGovBucket(): GovBucket & { entries: Map<string, string> } {
  const entries = new Map<string, string>();
  const revisions = new Map<string, number>();
  let revision = 0;
  const encoder = new TextEncoder();
  const write = (key: string, data: string) => {
    entries.set(key, data);
    revisions.set(key, ++revision);
    return revision;
  };
  const pattern = (filter: string) => new RegExp(`^${filter.replaceAll(".", "\\.").replaceAll("*", "[^.]+").replaceAll(">", ".+")}$`);
  return {
    entries,
    get: async (key) => {
      const data = entries.get(key);
      return data === undefined ? null : { value: encoder.encode(data), revision: revisions.get(key) ?? 0, operation: "PUT" };
    },
    create: async (key, data) => {
      if (entries.has(key)) throw new Error("wrong last sequence: key exists");
      return write(key, data);
    },
    put: async (key, data) => write(key, data),
    keys: async (filter = ">") => {
      const matching = [...entries.keys()].filter((key) => pattern(filter).test(key));
      return (async function* () {
        yield* matching;
      })();
    },
  };
}
