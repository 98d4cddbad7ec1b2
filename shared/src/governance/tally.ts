// The count of a proposal from its signed votes: each vote checked (member, proposal hash, deadline, EIP-712 signature),
// one per member, powers summed in address order (the same float bits for anyone who recounts), quorum and threshold.
import type { MemberSet, Proposal, ProposalState, SignedVote, StoredVote, TallyMode, TallyTotals } from "../contracts/governance.ts";
import { GovernanceError } from "./errors.ts";
import { recoverSigner, type VoteDigester } from "./typed-data.ts";

/** A member's voting power: the square root of its weight in a quadratic tally, the weight in a weighted one. */
export function powerOf(weight: number, mode: TallyMode): number {
  return mode === "quadratic" ? Math.sqrt(weight) : weight;
}

/** A vote that counts: who cast it and with what power. */
export interface CountedVote {
  vote: StoredVote;
  voter: string;
  power: number;
}

/** A vote that does not count, and why. */
export interface RefusedVote {
  vote: SignedVote;
  reason: string;
}

/** A member set prepared for counting: members by lower-case address, and the addresses sorted (the summing order). */
interface MemberTable {
  index: Map<string, MemberSet["members"][number]>;
  /** All members' power per tally mode, summed in address order. */
  eligible: Record<TallyMode, number>;
}

// Member sets are immutable records: a recount repeated while a proposal is open reuses its set's table.
const tables = new WeakMap<MemberSet, MemberTable>();

function tableOf(set: MemberSet): MemberTable {
  let table = tables.get(set);
  if (!table) {
    const index = new Map(set.members.map((member) => [member.address.toLowerCase(), member]));
    const eligible = { quadratic: 0, weighted: 0 };
    for (const address of [...index.keys()].sort()) {
      const { weight } = index.get(address) as MemberSet["members"][number];
      eligible.quadratic += powerOf(weight, "quadratic");
      eligible.weighted += powerOf(weight, "weighted");
    }
    table = { index, eligible };
    tables.set(set, table);
  }
  return table;
}

/** The members of a set by lower-case address. */
export function memberIndex(set: MemberSet): ReadonlyMap<string, MemberSet["members"][number]> {
  return tableOf(set).index;
}

/** Why `vote` cannot count in `proposal` (checks that need no signature recovery), or undefined. */
export function voteFieldsProblem(
  vote: SignedVote & { received_at?: number },
  proposal: Proposal,
  members: ReadonlyMap<string, unknown>,
  membersVersion: number,
): string | undefined {
  if (vote.proposal_id !== proposal.proposal_id) return `the vote is for proposal ${vote.proposal_id}, not ${proposal.proposal_id}`;
  if (vote.message.space !== proposal.space) return `the vote is for space ${vote.message.space}, not ${proposal.space}`;
  if (vote.message.proposal !== proposal.hash) return `the signature is over another proposal (hash ${vote.message.proposal}, this one is ${proposal.hash})`;
  if (!members.has(vote.message.from.toLowerCase())) return `${vote.message.from} is not a member (member set version ${membersVersion})`;
  if (vote.message.timestamp * 1000 > proposal.deadline_at)
    return `signed at ${vote.message.timestamp} s, after the deadline ${new Date(proposal.deadline_at).toISOString()}`;
  if (vote.received_at !== undefined && vote.received_at > proposal.deadline_at)
    return `received at ${new Date(vote.received_at).toISOString()}, after the deadline ${new Date(proposal.deadline_at).toISOString()}`;
  return undefined;
}

/** Signatures already recovered, by digest and signature (a recount repeats while a proposal is open). */
export class RecoveryCache {
  readonly #known = new Map<string, string>();
  constructor(readonly limit = 200_000) {}

  /** The signer of `signature` over `digest`, recovered once. */
  async signer(digest: string, signature: string): Promise<string> {
    const key = `${digest}${signature}`;
    const known = this.#known.get(key);
    if (known !== undefined) return known;
    const signer = await recoverSigner(digest as `0x${string}`, signature);
    if (this.#known.size >= this.limit) this.#known.clear();
    this.#known.set(key, signer);
    return signer;
  }
}

/** Checks one vote completely: the fields, then that its EIP-712 signature is by `from` under this mesh's domain. */
export async function checkVote(
  vote: SignedVote & { received_at?: number },
  proposal: Proposal,
  set: MemberSet,
  members: ReadonlyMap<string, MemberSet["members"][number]>,
  digester: VoteDigester,
  cache?: RecoveryCache,
): Promise<{ ok: true; voter: string; power: number } | { ok: false; reason: string }> {
  const problem = voteFieldsProblem(vote, proposal, members, set.version);
  if (problem) return { ok: false, reason: problem };
  const voter = vote.message.from.toLowerCase();
  let signer: string;
  try {
    const digest = digester.digest(vote.message);
    signer = cache ? await cache.signer(digest, vote.signature) : await recoverSigner(digest, vote.signature);
  } catch (error) {
    return { ok: false, reason: `invalid signature: ${(error as Error).message.split("\n")[0]}` };
  }
  if (signer !== voter) {
    return {
      ok: false,
      reason: `the signature is not ${vote.message.from}'s over this vote in ${proposal.space}'s domain (it recovers to ${signer}): wrong chain id, domain or message`,
    };
  }
  return { ok: true, voter, power: powerOf((members.get(voter) as MemberSet["members"][number]).weight, proposal.tally) };
}

/** The state of a proposal from its counted powers: open, or passed/rejected with why and whether early. */
export interface Decision {
  state: ProposalState;
  reason: string;
  decided?: "early" | "deadline";
}

/** Decides from totals: at the deadline by quorum and threshold; before it only when no remaining vote could change the result. */
export function decide(
  totals: TallyTotals,
  remaining: number,
  rules: Pick<Proposal, "quorum_bps" | "threshold_bps" | "revote" | "deadline_at">,
  now: number,
): Decision {
  const { yes, no, abstain, eligible } = totals;
  const cast = yes + no + abstain;
  const quorumMet = cast * 10_000 >= eligible * rules.quorum_bps;
  const exceeds = (yesPower: number, noPower: number) => yesPower + noPower > 0 && yesPower * 10_000 > (yesPower + noPower) * rules.threshold_bps;
  const shares = `yes ${format(yes)}, no ${format(no)}, abstain ${format(abstain)} of ${format(eligible)}`;
  if (now > rules.deadline_at) {
    if (!quorumMet)
      return { state: "rejected", reason: `quorum not met at the deadline: ${shares} voted, ${rules.quorum_bps / 100} % needed`, decided: "deadline" };
    if (!exceeds(yes, no))
      return {
        state: "rejected",
        reason: `threshold not met at the deadline: ${shares}; yes must exceed ${rules.threshold_bps / 100} % of yes + no`,
        decided: "deadline",
      };
    return { state: "passed", reason: `passed at the deadline: ${shares}`, decided: "deadline" };
  }
  // A later vote may replace an earlier one: nothing is certain before the deadline.
  if (rules.revote) return { state: "open", reason: `open until ${new Date(rules.deadline_at).toISOString()} (votes may change): ${shares}` };
  if (quorumMet && exceeds(yes, no + remaining))
    return { state: "passed", reason: `passed early: ${shares}; the remaining ${format(remaining)} cannot change it`, decided: "early" };
  // Quorum cannot become unreachable early: every member who has not voted still may.
  if (!exceeds(yes + remaining, no)) return { state: "rejected", reason: `rejected early: threshold can no longer be met (${shares})`, decided: "early" };
  return { state: "open", reason: `open until ${new Date(rules.deadline_at).toISOString()}: ${shares}` };
}

function format(power: number): string {
  return Number.isInteger(power) ? String(power) : power.toFixed(3);
}

/** A recount: the decision, the totals, and which votes counted and which did not. */
export interface Count extends Decision {
  totals: TallyTotals;
  counted: CountedVote[];
  refused: RefusedVote[];
}

/**
 * Recounts `proposal` from `votes` (as stored, any order) against its member set `set`: every vote is checked, one per
 * member (the earliest, or with `revote` the latest), and the result decided at `now`.
 */
export async function recount(
  proposal: Proposal,
  set: MemberSet,
  votes: readonly StoredVote[],
  { now, digester, cache }: { now: number; digester: VoteDigester; cache?: RecoveryCache },
): Promise<Count> {
  if (set.version !== proposal.members_version) {
    throw new GovernanceError(`proposal ${proposal.proposal_id} is decided by member set ${proposal.members_version}, not ${set.version}`);
  }
  const { index: members, eligible } = tableOf(set);
  const ordered = [...votes].sort((a, b) => a.received_at - b.received_at);
  const checks = await Promise.all(ordered.map((vote) => checkVote(vote, proposal, set, members, digester, cache)));
  const byVoter = new Map<string, CountedVote>();
  const refused: RefusedVote[] = [];
  for (const [index, check] of checks.entries()) {
    const vote = ordered[index] as StoredVote;
    if (!check.ok) {
      refused.push({ vote, reason: check.reason });
      continue;
    }
    const earlier = byVoter.get(check.voter);
    if (earlier && !proposal.revote) {
      refused.push({ vote, reason: `${vote.message.from} already voted and this proposal does not allow a vote to be replaced` });
      continue;
    }
    if (earlier) refused.push({ vote: earlier.vote, reason: `replaced by ${vote.message.from}'s later vote` });
    byVoter.set(check.voter, { vote, voter: check.voter, power: check.power });
  }
  // Summed in address order (all members for `eligible`, the voters for each choice): a recount anywhere adds the same
  // floats in the same order. What has not voted is `eligible` less what has.
  const totals: TallyTotals = { yes: 0, no: 0, abstain: 0, eligible: eligible[proposal.tally], votes: byVoter.size };
  const counted = [...byVoter.keys()].sort().map((address) => byVoter.get(address) as CountedVote);
  for (const { vote, power } of counted) {
    if (vote.message.choice === 1) totals.yes += power;
    else if (vote.message.choice === 2) totals.no += power;
    else totals.abstain += power;
  }
  const remaining = Math.max(0, totals.eligible - (totals.yes + totals.no + totals.abstain));
  return { ...decide(totals, remaining, proposal, now), totals, counted, refused };
}
