// EIP-712 typed data of governance: the mesh's domain, and the Vote, Proposal and MemberSet types (hashed with viem).
// A vote's digest is keccak256(0x1901 ‖ domainSeparator ‖ hashStruct(Vote)); the separator is computed once per mesh.
import { concat, domainSeparator, type Hex, hashStruct, keccak256, recoverAddress, stringToBytes, type TypedDataDomain } from "viem";
import type { MemberSet, Proposal, VoteMessage } from "../contracts/governance.ts";
import type { Plan } from "../contracts/schemas.ts";
import { canonicalJson } from "../crypto/canonical.ts";

/** The EIP-712 domain name of every x0tta6bl4 mesh; the salt tells meshes apart. */
export const DOMAIN_NAME = "x0tta6bl4";
/** The domain version: changes when the typed data below does. */
export const DOMAIN_VERSION = "1";
/** The zero hash (the genesis member set's `previous` and `proposal`). */
export const ZERO_HASH: Hex = `0x${"00".repeat(32)}`;

/** The mesh's EIP-712 domain: name, version, chainId and a salt that is the keccak-256 of the space name. */
export function governanceDomain(space: string, chainId: number): TypedDataDomain {
  return { name: DOMAIN_NAME, version: DOMAIN_VERSION, chainId, salt: keccak256(stringToBytes(space)) };
}

/** Snapshot's Vote type, with choice 1 yes, 2 no, 3 abstain. */
export const VOTE_TYPES = {
  Vote: [
    { name: "from", type: "address" },
    { name: "space", type: "string" },
    { name: "timestamp", type: "uint64" },
    { name: "proposal", type: "bytes32" },
    { name: "choice", type: "uint32" },
    { name: "reason", type: "string" },
    { name: "app", type: "string" },
    { name: "metadata", type: "string" },
  ],
} as const;

/** What a proposal binds and how it is decided: its struct hash is the `proposal` a vote names. */
export const PROPOSAL_TYPES = {
  Proposal: [
    { name: "space", type: "string" },
    { name: "id", type: "string" },
    { name: "kind", type: "string" },
    { name: "title", type: "string" },
    { name: "content", type: "bytes32" },
    { name: "membersVersion", type: "uint64" },
    { name: "created", type: "uint64" },
    { name: "deadline", type: "uint64" },
    { name: "quorumBps", type: "uint32" },
    { name: "thresholdBps", type: "uint32" },
    { name: "tally", type: "string" },
    { name: "revote", type: "bool" },
  ],
} as const;

/** A version of the member set (what genesis members sign). */
export const MEMBER_SET_TYPES = {
  MemberSet: [
    { name: "space", type: "string" },
    { name: "version", type: "uint64" },
    { name: "members", type: "Member[]" },
    { name: "previous", type: "bytes32" },
    { name: "proposal", type: "bytes32" },
  ],
  Member: [
    { name: "account", type: "address" },
    { name: "weight", type: "uint256" },
    { name: "name", type: "string" },
  ],
} as const;

/** The typed data of a vote, ready for any EIP-712 signer (viem's signTypedData, ethers' Wallet.signTypedData). */
export function voteTypedData(message: VoteMessage, domain: TypedDataDomain) {
  return {
    domain,
    types: VOTE_TYPES,
    primaryType: "Vote" as const,
    message: { ...message, from: message.from as Hex, proposal: message.proposal as Hex, timestamp: BigInt(message.timestamp) },
  };
}

/** The typed data of a member set, for the genesis members to sign. */
export function memberSetTypedData(set: Pick<MemberSet, "space" | "chain_id" | "version" | "members" | "previous" | "proposal">) {
  return {
    domain: governanceDomain(set.space, set.chain_id),
    types: MEMBER_SET_TYPES,
    primaryType: "MemberSet" as const,
    message: {
      space: set.space,
      version: BigInt(set.version),
      members: set.members.map((member) => ({ account: member.address as Hex, weight: BigInt(member.weight), name: member.name })),
      previous: set.previous as Hex,
      proposal: set.proposal as Hex,
    },
  };
}

/** The struct hash of a member set (its identity: a later version's `previous`, a members proposal's content). */
export function memberSetHash(set: Pick<MemberSet, "space" | "chain_id" | "version" | "members" | "previous" | "proposal">): Hex {
  const { types, primaryType, message } = memberSetTypedData(set);
  return hashStruct({ types, primaryType, data: message });
}

/** The fields of a proposal its hash covers. */
export type ProposalFields = Pick<
  Proposal,
  | "space"
  | "proposal_id"
  | "kind"
  | "title"
  | "content"
  | "members_version"
  | "created_at"
  | "deadline_at"
  | "quorum_bps"
  | "threshold_bps"
  | "tally"
  | "revote"
>;

/** The typed data of a proposal (what `x0 gov verify` prints and a wallet can display). */
export function proposalTypedData(proposal: ProposalFields, domain: TypedDataDomain) {
  return {
    domain,
    types: PROPOSAL_TYPES,
    primaryType: "Proposal" as const,
    message: {
      space: proposal.space,
      id: proposal.proposal_id,
      kind: proposal.kind,
      title: proposal.title,
      content: proposal.content as Hex,
      membersVersion: BigInt(proposal.members_version),
      created: BigInt(proposal.created_at),
      deadline: BigInt(proposal.deadline_at),
      quorumBps: proposal.quorum_bps,
      thresholdBps: proposal.threshold_bps,
      tally: proposal.tally,
      revote: proposal.revote,
    },
  };
}

/** The EIP-712 struct hash of a proposal. */
export function proposalHash(proposal: ProposalFields): Hex {
  const { types, primaryType, message } = proposalTypedData(proposal, {});
  return hashStruct({ types, primaryType, data: message });
}

/** keccak-256 of a signed plan's canonical JSON (RFC 8785): the content a plan proposal binds. */
export function planContentHash(plan: Plan): Hex {
  return keccak256(stringToBytes(canonicalJson(plan)));
}

/** keccak-256 of a policy's text: the content a policy proposal binds. */
export function policyContentHash(text: string): Hex {
  return keccak256(stringToBytes(text));
}

/** Vote digests of one mesh: the domain separator computed once. */
export class VoteDigester {
  readonly #separator: Hex;
  constructor(readonly domain: TypedDataDomain) {
    this.#separator = domainSeparator({ domain });
  }

  /** The EIP-712 digest a vote's signature signs. */
  digest(message: VoteMessage): Hex {
    const { types, primaryType, message: data } = voteTypedData(message, this.domain);
    return keccak256(concat(["0x1901", this.#separator, hashStruct({ types, primaryType, data })]));
  }
}

/** The address (lower-case) whose key made `signature` over `digest`. */
export async function recoverSigner(digest: Hex, signature: string): Promise<string> {
  return (await recoverAddress({ hash: digest, signature: signature as Hex })).toLowerCase();
}
