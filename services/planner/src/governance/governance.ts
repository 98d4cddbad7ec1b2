// The planner's side of governance: it opens proposals (for vote plans, and operators' member and policy changes),
// takes EIP-712 votes (checked, stored once, dead-lettered when refused) and closes proposals with a signed tally.
import type { Logger, MemberSet, Plan, Proposal, ProposalEvent, ProposeRequest, SignedVote, StoredVote, Tally, VoteReceipt, VoteRules } from "@x0/shared";
import {
  type Count,
  checkVote,
  GovConflict,
  GovernanceError,
  type GovStore,
  type MemberChain,
  memberIndex,
  memberListProblem,
  type ProposalFields,
  planContentHash,
  policyContentHash,
  proposalHash,
  proposedMembersHash,
  type RecoveryCache,
  recount,
  successorOf,
  ZERO_HASH,
} from "@x0/shared/governance";
import type { GovernanceMetrics } from "./metrics.ts";

/** What governance needs from the planner's service. */
export interface GovernanceOptions {
  store: GovStore;
  chain: MemberChain;
  /** The current policy's vote rules. */
  rules(): VoteRules;
  /** Signs a proposal or tally with the planner's key. */
  sign<T extends object>(domain: "gov-proposal" | "gov-tally", message: T): T;
  publishEvent(event: ProposalEvent): Promise<void>;
  /** Dead-letters a refused vote with its reason. */
  deadLetter(vote: SignedVote, reason: string): void;
  /** Why a proposed policy text is invalid, or undefined. */
  policyProblem(text: string): string | undefined;
  /** A policy proposal passed: the planner adopts `text`. */
  adoptPolicy(text: string, proposal: Proposal): Promise<void>;
  /** Who proposes (the planner instance). */
  proposer: string;
  cache: RecoveryCache;
  metrics: GovernanceMetrics;
  logger: Logger;
  now?: () => number;
}

/** A proposal operators asked for is invalid (a duplicate member, an invalid policy). */
export class InvalidProposal extends GovernanceError {}

/** Proposals, votes and tallies of the planner. */
export class Governance {
  readonly #o: GovernanceOptions;
  readonly #now: () => number;
  /** Proposals this instance knows to be open, by id. */
  readonly #open = new Map<string, Proposal>();

  constructor(options: GovernanceOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** The member set proposals are decided by now: the latest stored version, verified from the genesis. */
  async currentMembers(): Promise<MemberSet> {
    const latest = Math.max(1, await this.#o.store.latestMembersVersion());
    return this.#o.chain.resolve(latest);
  }

  /** Opens the proposal that decides `plan` (signed, approval vote); a proposal already opened for it is returned as stored. */
  async openForPlan(plan: Plan): Promise<Proposal> {
    if (plan.approval !== "vote" || !plan.proposal_id) throw new GovernanceError(`plan ${plan.plan_id} does not wait for a vote`);
    const existing = await this.#o.store.proposal(plan.proposal_id);
    if (existing) return existing;
    const target = plan.target ? ` ${plan.target.type} ${plan.target.id}` : "";
    return this.#create(
      {
        kind: "plan",
        proposal_id: plan.proposal_id,
        title: `${plan.rule}${target} (incident ${plan.incident_id})`.slice(0, 256),
        content: planContentHash(plan),
      },
      { plan },
    );
  }

  /** Opens an operator's proposal of a new member set or policy; throws InvalidProposal when its content is invalid. */
  async propose(request: ProposeRequest): Promise<Proposal> {
    const id = crypto.randomUUID();
    if (request.kind === "members") {
      const problem = memberListProblem(request.members);
      if (problem) throw new InvalidProposal(`invalid member set: ${problem}`);
      const draft = successorOf(await this.currentMembers(), request.members, ZERO_HASH);
      return this.#create({ kind: "members", proposal_id: id, title: request.title, content: proposedMembersHash(draft) }, { members: draft });
    }
    const problem = this.#o.policyProblem(request.policy);
    if (problem) throw new InvalidProposal(`invalid policy: ${problem}`);
    return this.#create({ kind: "policy", proposal_id: id, title: request.title, content: policyContentHash(request.policy) }, { policy: request.policy });
  }

  async #create(
    what: Pick<ProposalFields, "kind" | "proposal_id" | "title" | "content">,
    body: Pick<Proposal, "plan" | "members" | "policy">,
  ): Promise<Proposal> {
    const members = await this.currentMembers();
    const rules = this.#o.rules();
    const now = this.#now();
    const fields: ProposalFields = {
      ...what,
      space: members.space,
      members_version: members.version,
      created_at: now,
      deadline_at: now + rules.duration_ms,
      quorum_bps: rules.quorum_bps,
      threshold_bps: rules.threshold_bps,
      tally: rules.tally,
      revote: rules.revote,
    };
    const proposal = this.#o.sign("gov-proposal", { v: 1 as const, ...fields, hash: proposalHash(fields), proposer: this.#o.proposer, ...body });
    try {
      await this.#o.store.createProposal(proposal);
    } catch (error) {
      if (!(error instanceof GovConflict)) throw error;
      return (await this.#o.store.proposal(proposal.proposal_id)) ?? proposal;
    }
    this.#open.set(proposal.proposal_id, proposal);
    this.#o.metrics.opened.inc({ kind: proposal.kind });
    this.#o.metrics.open.set(this.#open.size);
    this.#o.logger.info("proposal opened", {
      proposal_id: proposal.proposal_id,
      kind: proposal.kind,
      hash: proposal.hash,
      deadline: new Date(proposal.deadline_at).toISOString(),
      members_version: proposal.members_version,
    });
    await this.#o.publishEvent({ v: 1, state: "open", proposal });
    return proposal;
  }

  /** Takes one signed vote: stored once and counted, or refused with the reason (and dead-lettered). */
  async vote(vote: SignedVote): Promise<VoteReceipt> {
    const now = this.#now();
    const refuse = (reason: string, state: VoteReceipt["state"] = "open"): VoteReceipt => {
      this.#o.metrics.votes.inc({ outcome: "refused" });
      this.#o.deadLetter(vote, reason);
      this.#o.logger.warn("vote refused", { proposal_id: vote.proposal_id, from: vote.message.from, reason });
      return { proposal_id: vote.proposal_id, accepted: false, reason, power: 0, state };
    };
    const { store } = this.#o;
    const [proposal, tally] = await Promise.all([store.proposal(vote.proposal_id), store.tallyRecord(vote.proposal_id)]);
    if (!proposal) return refuse(`unknown proposal ${vote.proposal_id}`);
    if (tally) return refuse(`proposal ${proposal.proposal_id} is closed (${tally.value.result})`, tally.value.result);
    if (now > proposal.deadline_at) return refuse(`received after the deadline ${new Date(proposal.deadline_at).toISOString()}`);
    const set = await this.#o.chain.resolve(proposal.members_version);
    const received: StoredVote = { ...vote, received_at: now };
    const check = await checkVote(received, proposal, set, memberIndex(set), this.#o.chain.digester, this.#o.cache);
    if (!check.ok) return refuse(check.reason);
    const earlier = await store.vote(proposal.proposal_id, vote.message.from);
    if (earlier?.signature === vote.signature) return refuse(`replayed: this vote of ${vote.message.from} is already stored`);
    if (earlier && !proposal.revote) return refuse(`${vote.message.from} already voted and this proposal does not allow a vote to be replaced`);
    if (earlier && vote.message.timestamp <= earlier.message.timestamp) {
      return refuse(
        `${vote.message.from}'s stored vote is as new or newer (timestamp ${earlier.message.timestamp}): a replayed earlier vote cannot replace it`,
      );
    }
    try {
      await store.putVote(received, proposal.revote);
    } catch (error) {
      if (error instanceof GovConflict) return refuse(`${vote.message.from} already voted and this proposal does not allow a vote to be replaced`);
      throw error;
    }
    this.#o.metrics.votes.inc({ outcome: "accepted" });
    const count = await this.#recount(proposal, now);
    this.#o.logger.info("vote counted", { proposal_id: proposal.proposal_id, from: vote.message.from, choice: vote.message.choice, state: count.state });
    if (count.state !== "open") await this.#close(proposal, count, now);
    return {
      proposal_id: proposal.proposal_id,
      accepted: true,
      reason: earlier ? "replaced" : "counted",
      power: check.power,
      state: count.state,
      totals: count.totals,
    };
  }

  async #recount(proposal: Proposal, now: number): Promise<Count> {
    const set = await this.#o.chain.resolve(proposal.members_version);
    return recount(proposal, set, await this.#o.store.votes(proposal.proposal_id), { now, digester: this.#o.chain.digester, cache: this.#o.cache });
  }

  /** Reads every proposal without a tally (the leader's view at the start of its term, and every few seconds). */
  async load(): Promise<void> {
    const { store } = this.#o;
    // Two key listings, then only the open proposals are read: closed ones pile up, open ones are few.
    const [ids, closed] = await Promise.all([store.proposalIds(), store.closedIds()]);
    const records = await Promise.all(ids.filter((id) => !closed.has(id)).map((id) => store.proposal(id)));
    this.#open.clear();
    for (const proposal of records) if (proposal) this.#open.set(proposal.proposal_id, proposal);
    this.#o.metrics.open.set(this.#open.size);
  }

  /** Closes the open proposals whose deadline has passed (the leader's tick). */
  async closeDue(): Promise<void> {
    const now = this.#now();
    for (const proposal of [...this.#open.values()]) {
      if (now <= proposal.deadline_at) continue;
      await this.#close(proposal, await this.#recount(proposal, now), now);
    }
  }

  /** Writes the tally (once: another instance may have closed it first) and carries out a passed members or policy change. */
  async #close(proposal: Proposal, count: Count, now: number): Promise<Tally | undefined> {
    let { state, reason } = count;
    const { store } = this.#o;
    if (state === "passed" && proposal.kind === "members") {
      const latest = Math.max(1, await store.latestMembersVersion());
      if (latest !== proposal.members_version) {
        state = "rejected";
        reason = `${reason}; but the member set changed since (now version ${latest}): propose again`;
      }
    }
    const tally = this.#o.sign("gov-tally", {
      v: 1 as const,
      proposal_id: proposal.proposal_id,
      proposal_hash: proposal.hash,
      result: state === "passed" ? ("passed" as const) : ("rejected" as const),
      reason: reason.slice(0, 1024),
      decided: count.decided ?? "deadline",
      totals: count.totals,
      votes: count.counted.map((counted) => counted.vote),
      closed_at: now,
    });
    try {
      await store.createTally(tally);
    } catch (error) {
      if (!(error instanceof GovConflict)) throw error;
      this.#open.delete(proposal.proposal_id);
      return undefined;
    }
    this.#open.delete(proposal.proposal_id);
    this.#o.metrics.open.set(this.#open.size);
    this.#o.metrics.closed.inc({ kind: proposal.kind, result: tally.result });
    this.#o.logger.info("proposal closed", { proposal_id: proposal.proposal_id, kind: proposal.kind, result: tally.result, reason: tally.reason });
    if (tally.result === "passed" && proposal.kind === "members" && proposal.members) {
      await store.putMemberSet({ ...proposal.members, proposal: proposal.hash });
    }
    if (tally.result === "passed" && proposal.kind === "policy" && proposal.policy !== undefined) {
      await this.#o.adoptPolicy(proposal.policy, proposal);
    }
    await this.#o.publishEvent({ v: 1, state: tally.result, proposal, tally });
    return tally;
  }
}
