// The member set: a genesis every listed member signed (pinned by the deployment's X0_GOV_MEMBERS file), then versions
// each made by a passed members proposal decided by the version before. A chain is verified by recounting every link.
import { readFileSync } from "node:fs";
import { hashTypedData } from "viem";
import { z } from "zod";
import { MemberSet, type Proposal, type StoredVote } from "../contracts/governance.ts";
import { GovernanceError } from "./errors.ts";
import { type RecoveryCache, recount } from "./tally.ts";
import { governanceDomain, memberSetHash, memberSetTypedData, recoverSigner, VoteDigester, ZERO_HASH } from "./typed-data.ts";

/** Why a member set's own list is unusable (duplicates), or undefined. */
export function memberListProblem(members: MemberSet["members"]): string | undefined {
  const seen = new Set<string>();
  for (const member of members) {
    const address = member.address.toLowerCase();
    if (seen.has(address)) return `${member.address} is listed twice`;
    seen.add(address);
  }
  return undefined;
}

/** Checks a genesis member set: version 1, zero links, and a valid EIP-712 signature by every member it lists. */
export async function verifyGenesis(set: MemberSet): Promise<void> {
  if (set.version !== 1 || set.previous !== ZERO_HASH || set.proposal !== ZERO_HASH) {
    throw new GovernanceError(`a genesis member set has version 1 and zero previous and proposal hashes (this one: version ${set.version})`);
  }
  const duplicate = memberListProblem(set.members);
  if (duplicate) throw new GovernanceError(`genesis member set: ${duplicate}`);
  const digest = hashTypedData(memberSetTypedData(set));
  const signed = new Set<string>();
  for (const { address, signature } of set.signatures) {
    let signer: string;
    try {
      signer = await recoverSigner(digest, signature);
    } catch (error) {
      throw new GovernanceError(`genesis member set: ${address}'s signature is malformed`, { cause: error });
    }
    if (signer !== address.toLowerCase()) throw new GovernanceError(`genesis member set: the signature listed for ${address} is by ${signer}`);
    signed.add(signer);
  }
  const missing = set.members.filter((member) => !signed.has(member.address.toLowerCase())).map((member) => member.address);
  if (missing.length > 0) throw new GovernanceError(`genesis member set: not signed by ${missing.join(", ")} (every initial member signs it)`);
}

/** Reads and verifies the genesis member set file (`X0_GOV_MEMBERS`). */
export async function loadGenesis(path: string): Promise<MemberSet> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new GovernanceError(`cannot read the genesis member set ${path}`, { cause: error });
  }
  const parsed = MemberSet.safeParse(raw);
  if (!parsed.success) throw new GovernanceError(`invalid genesis member set ${path}: ${z.prettifyError(parsed.error)}`, { cause: parsed.error });
  await verifyGenesis(parsed.data);
  return parsed.data;
}

/** The member set a passed members proposal makes from `previous`. */
export function successorOf(previous: MemberSet, members: MemberSet["members"], proposalHash: string): MemberSet {
  return {
    v: 1,
    space: previous.space,
    chain_id: previous.chain_id,
    version: previous.version + 1,
    members,
    previous: memberSetHash(previous),
    proposal: proposalHash,
    signatures: [],
  };
}

/** The content hash a members proposal binds: the proposed version with a zero `proposal` (the proposal names itself by hash). */
export function proposedMembersHash(set: MemberSet): string {
  return memberSetHash({ ...set, proposal: ZERO_HASH });
}

/** What verifying a member set version reads: stored versions, proposals and their votes. */
export interface MemberChainSource {
  memberSet(version: number): Promise<MemberSet | undefined>;
  proposal(id: string): Promise<Proposal | undefined>;
  votes(id: string): Promise<StoredVote[]>;
  /** Finds the proposal whose hash is `hash` (a version names the proposal that made it by hash). */
  proposalByHash(hash: string): Promise<Proposal | undefined>;
}

/** Member set versions verified from the pinned genesis, each once. */
export class MemberChain {
  readonly #verified = new Map<number, MemberSet>();
  readonly digester: VoteDigester;

  constructor(
    readonly genesis: MemberSet,
    readonly source: MemberChainSource,
    readonly cache?: RecoveryCache,
  ) {
    this.#verified.set(1, genesis);
    this.digester = new VoteDigester(governanceDomain(genesis.space, genesis.chain_id));
  }

  /** The latest verified version number known so far. */
  get latestVerified(): number {
    return Math.max(...this.#verified.keys());
  }

  /** Version `version` of the member set, verified link by link from the genesis; throws GovernanceError when a link fails. */
  async resolve(version: number): Promise<MemberSet> {
    const known = this.#verified.get(version);
    if (known) return known;
    if (!Number.isInteger(version) || version < 1) throw new GovernanceError(`no member set version ${version}`);
    const previous = await this.resolve(version - 1);
    const set = await this.source.memberSet(version);
    if (!set) throw new GovernanceError(`member set version ${version} is not stored`);
    const label = `member set version ${version}`;
    if (set.space !== previous.space || set.chain_id !== previous.chain_id) throw new GovernanceError(`${label} changes the space or chain id`);
    if (set.previous !== memberSetHash(previous)) throw new GovernanceError(`${label} does not follow version ${version - 1} (previous hash differs)`);
    const duplicate = memberListProblem(set.members);
    if (duplicate) throw new GovernanceError(`${label}: ${duplicate}`);
    const proposal = await this.source.proposalByHash(set.proposal);
    if (!proposal) throw new GovernanceError(`${label} names proposal ${set.proposal}, which is not stored`);
    if (proposal.kind !== "members" || proposal.members_version !== previous.version) {
      throw new GovernanceError(`${label}: proposal ${proposal.proposal_id} is not a members proposal decided by version ${previous.version}`);
    }
    if (proposal.content !== proposedMembersHash(set)) throw new GovernanceError(`${label} is not the member set proposal ${proposal.proposal_id} voted on`);
    const count = await recount(proposal, previous, await this.source.votes(proposal.proposal_id), {
      now: Date.now(),
      digester: this.digester,
      ...(this.cache ? { cache: this.cache } : {}),
    });
    if (count.state !== "passed") throw new GovernanceError(`${label}: its proposal ${proposal.proposal_id} did not pass on recount (${count.reason})`);
    this.#verified.set(version, set);
    return set;
  }
}
