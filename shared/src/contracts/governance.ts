// Contracts of governance: members, proposals, EIP-712 votes and tallies (shared/src/governance/README.md).
// Every signed part is checkable with standard Ethereum tooling; the typed data is built in governance/typed-data.ts.
import { z } from "zod";
import { EpochMillis, MessageSignature, Plan } from "./schemas.ts";

/** An Ethereum address (any case; compared lower-cased). */
export const Address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "must be a 0x-prefixed 20-byte hex address");
/** A 32-byte hash, 0x-prefixed lower-case hex. */
export const Bytes32 = z.string().regex(/^0x[0-9a-f]{64}$/, "must be a 0x-prefixed 32-byte lower-case hex hash");
/** A 65-byte secp256k1 signature (r, s, v), 0x-prefixed hex. */
export const EthSignature = z.string().regex(/^0x[0-9a-fA-F]{130}$/, "must be a 0x-prefixed 65-byte hex signature");
/** The mesh's governance space: names the EIP-712 domain (its salt is the keccak-256 of this name). */
export const SpaceName = z.string().regex(/^[a-z0-9][a-z0-9.-]{0,63}$/, "space must be 1-64 of [a-z0-9.-]");
/** Longest vote reason accepted. */
export const MAX_VOTE_REASON = 256;
/**
 * Most members a member set may list: a tally lists every vote whole (about 400 bytes, 650 with the longest reason) and
 * must fit one NATS message (1 MiB by default).
 */
export const MAX_MEMBERS = 1000;
/** Basis points (1/100 of a percent): quorum and threshold are integers in the signed typed data. */
export const BasisPoints = z.number().int().min(0).max(10_000);

/** One member: an address and its weight (voting power is the weight, or its square root in a quadratic tally). */
export const Member = z.strictObject({
  address: Address,
  weight: z.number().int().min(1).max(1_000_000_000),
  name: z.string().max(64).default(""),
});
/** A member. */
export type Member = z.infer<typeof Member>;

/** A genesis member's EIP-712 signature over the member set. */
export const MemberSignature = z.strictObject({ address: Address, signature: EthSignature });

/** A version of the member set: the genesis (signed by every member it lists) or one an approved proposal made. */
export const MemberSet = z
  .strictObject({
    v: z.literal(1),
    space: SpaceName,
    chain_id: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).describe("EIP-712 chainId of the mesh's domain (off-chain: any agreed id)."),
    version: z.number().int().positive(),
    members: z.array(Member).min(1).max(MAX_MEMBERS),
    previous: Bytes32.describe("Hash of the version before (zero for the genesis)."),
    proposal: Bytes32.describe("Hash of the proposal that approved this version (zero for the genesis)."),
    signatures: z.array(MemberSignature).max(MAX_MEMBERS).default([]).describe("Genesis only: every member's signature."),
  })
  .describe("A version of the governance member set.");
/** A member set. */
export type MemberSet = z.infer<typeof MemberSet>;

/** What a proposal decides: a plan to run, a new member set, or a new planner policy. */
export const ProposalKind = z.enum(["plan", "members", "policy"]);
/** A proposal kind. */
export type ProposalKind = z.infer<typeof ProposalKind>;

/** How votes become power: quadratic (square root of the weight) or weighted (the weight). */
export const TallyMode = z.enum(["quadratic", "weighted"]);
/** A tally mode. */
export type TallyMode = z.infer<typeof TallyMode>;

/** The rules a proposal is decided by (the policy's `governance` section gives them). */
export const VoteRules = z.strictObject({
  duration_ms: z
    .number()
    .int()
    .min(1000)
    .max(30 * 24 * 3600_000)
    .default(3600_000),
  quorum_bps: BasisPoints.default(5000).describe("Share of all members' power that must vote (yes, no or abstain)."),
  threshold_bps: BasisPoints.default(5000).describe("Yes must exceed this share of yes + no power."),
  tally: TallyMode.default("quadratic"),
  revote: z.boolean().default(false).describe("Whether a member's later vote replaces its earlier one."),
});
/** Vote rules. */
export type VoteRules = z.infer<typeof VoteRules>;

/** A proposal: what it binds (its content hash) and how it is decided; `hash` is the EIP-712 struct hash votes sign. */
export const Proposal = z
  .object({
    v: z.literal(1),
    proposal_id: z.uuid(),
    space: SpaceName,
    kind: ProposalKind,
    title: z.string().min(1).max(256),
    content: Bytes32.describe("plan: keccak-256 of the signed plan's canonical JSON; members: the new set's hash; policy: keccak-256 of its text."),
    members_version: z.number().int().positive().describe("The member set the proposal is decided by."),
    created_at: EpochMillis,
    deadline_at: EpochMillis,
    quorum_bps: BasisPoints,
    threshold_bps: BasisPoints,
    tally: TallyMode,
    revote: z.boolean(),
    hash: Bytes32.describe("EIP-712 struct hash of the Proposal typed data: what a vote's `proposal` field names."),
    proposer: z.string().min(1).max(256),
    plan: Plan.optional().describe("kind plan: the signed plan."),
    members: MemberSet.optional().describe("kind members: the proposed member set."),
    policy: z.string().max(65_536).optional().describe("kind policy: the proposed policy text (YAML)."),
    signature: MessageSignature.optional().describe("The planner's signature."),
  })
  .describe("A governance proposal.");
/** A proposal. */
export type Proposal = z.infer<typeof Proposal>;

/** A vote's choice, as Snapshot's basic voting numbers it. */
export const Choice = z.union([z.literal(1), z.literal(2), z.literal(3)]).describe("1 yes, 2 no, 3 abstain.");
/** The choices by name. */
export const CHOICES = { yes: 1, no: 2, abstain: 3 } as const;

/** The EIP-712 Vote message (modelled on Snapshot's Vote type). */
export const VoteMessage = z.strictObject({
  from: Address,
  space: SpaceName,
  timestamp: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).describe("Seconds since the Unix epoch."),
  proposal: Bytes32,
  choice: Choice,
  reason: z.string().max(MAX_VOTE_REASON),
  app: z.string().max(64),
  metadata: z.string().max(1024),
});
/** A vote message. */
export type VoteMessage = z.infer<typeof VoteMessage>;

/** `x0.gov.vote` request: a signed vote for one proposal. */
export const SignedVote = z.strictObject({
  v: z.literal(1),
  proposal_id: z.uuid(),
  message: VoteMessage,
  signature: EthSignature,
});
/** A signed vote. */
export type SignedVote = z.infer<typeof SignedVote>;

/** A stored vote: as signed, with when it was accepted. */
export const StoredVote = SignedVote.extend({ received_at: EpochMillis });
/** A stored vote. */
export type StoredVote = z.infer<typeof StoredVote>;

/** Power totals of a count. */
export const TallyTotals = z.strictObject({
  yes: z.number().nonnegative(),
  no: z.number().nonnegative(),
  abstain: z.number().nonnegative(),
  eligible: z.number().nonnegative().describe("All members' power."),
  votes: z.number().int().nonnegative(),
});
/** Tally totals. */
export type TallyTotals = z.infer<typeof TallyTotals>;

/** How a proposal ended, or that it has not yet. */
export const ProposalState = z.enum(["open", "passed", "rejected"]);
/** A proposal state. */
export type ProposalState = z.infer<typeof ProposalState>;

/** `x0.gov.tally.<proposal>`: the closing record, listing every counted vote with its signature so anyone can recount. */
export const Tally = z
  .object({
    v: z.literal(1),
    proposal_id: z.uuid(),
    proposal_hash: Bytes32,
    result: ProposalState.exclude(["open"]),
    reason: z.string().max(1024),
    decided: z.enum(["early", "deadline"]).describe("early: no remaining vote could change the result."),
    totals: TallyTotals,
    votes: z.array(StoredVote).max(MAX_MEMBERS),
    closed_at: EpochMillis,
    signature: MessageSignature.optional().describe("The planner's signature."),
  })
  .describe("The result of a proposal.");
/** A tally. */
export type Tally = z.infer<typeof Tally>;

/** `policy.current` in x0_gov: the planner policy the last passed policy proposal adopted (it replaces the file's). */
export const AdoptedPolicy = z.strictObject({
  v: z.literal(1),
  proposal_id: z.uuid(),
  content: Bytes32,
  policy: z.string().max(65_536),
  adopted_at: EpochMillis,
});
/** An adopted policy. */
export type AdoptedPolicy = z.infer<typeof AdoptedPolicy>;

/** `x0.gov.vote` reply: whether the vote was stored, and the count so far. */
export const VoteReceipt = z.strictObject({
  proposal_id: z.uuid(),
  accepted: z.boolean(),
  reason: z.string().max(1024).describe("Why it was refused, or `counted`/`replaced`."),
  power: z.number().nonnegative().describe("The voter's power in this proposal's tally (0 when refused)."),
  state: ProposalState,
  totals: TallyTotals.optional(),
});
/** A vote receipt. */
export type VoteReceipt = z.infer<typeof VoteReceipt>;

/** `x0.gov.propose` request: an operator's proposal of a new member set or policy. */
export const ProposeRequest = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("members"), title: z.string().min(1).max(256), members: z.array(Member).min(1).max(MAX_MEMBERS) }),
  z.strictObject({ kind: z.literal("policy"), title: z.string().min(1).max(256), policy: z.string().min(1).max(65_536) }),
]);
/** A propose request. */
export type ProposeRequest = z.infer<typeof ProposeRequest>;

/** `x0.gov.proposal.<proposal>`: a proposal as opened (state open) and as closed (with its tally). */
export const ProposalEvent = z
  .object({
    v: z.literal(1),
    state: ProposalState,
    proposal: Proposal,
    tally: Tally.optional(),
  })
  .describe("A proposal was opened or closed.");
/** A proposal event. */
export type ProposalEvent = z.infer<typeof ProposalEvent>;
