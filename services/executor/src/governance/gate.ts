// The executor's own decision on a vote plan: it recounts the plan's proposal from the signed votes in x0_gov (trusting
// no tally it did not compute), checks the proposal binds this exact plan, and says run, wait or reject.
import { ConfigError, type MessageVerifier, type Plan } from "@x0/shared";
import { type GovBucket, GovStore, loadGenesis, MemberChain, planContentHash, proposalHash, RecoveryCache, recount } from "@x0/shared/governance";

/** What becomes of a vote plan now. */
export type GateVerdict = { kind: "run"; detail: string } | { kind: "wait"; retryMs: number; detail: string } | { kind: "reject"; detail: string };

/** Options of {@link VoteGate}. */
export interface VoteGateOptions {
  governance: { store: GovStore; chain: MemberChain; cache: RecoveryCache };
  /** Verifies the planner's signature on proposals (its freshness window spans a proposal's life). */
  verifier: MessageVerifier;
  /** Services whose keys may sign proposals (the plan signers). */
  signers: readonly string[];
  /** Longest wait between two looks at an open proposal. */
  recheckMs: number;
  now?: () => number;
}

/** Decides vote plans from recounts. */
export class VoteGate {
  readonly #o: VoteGateOptions;
  readonly #now: () => number;

  constructor(options: VoteGateOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** Whether `plan` (approval vote, signature already checked) may run now, must wait, or never runs. */
  async decide(plan: Plan): Promise<GateVerdict> {
    const reject = (detail: string): GateVerdict => ({ kind: "reject", detail });
    const gov = this.#o.governance;
    const id = plan.proposal_id;
    if (!id) return reject("the plan needs a governance vote but names no proposal");
    const record = await gov.store.proposalRecord(id);
    if (!record) return reject(`proposal ${id} is not in x0_gov`);
    const proposal = record.value;
    if (proposal.kind !== "plan" || proposal.plan?.plan_id !== plan.plan_id) return reject(`proposal ${id} does not decide plan ${plan.plan_id}`);
    if (proposal.content !== planContentHash(plan)) {
      return reject(
        `the plan differs from the one proposal ${id} binds (plan hash ${planContentHash(plan)}, proposal ${proposal.content}): altered plan refused`,
      );
    }
    if (proposalHash(proposal) !== proposal.hash) return reject(`proposal ${id}'s hash does not match its fields: altered proposal refused`);
    const signed = await this.#o.verifier.verify("gov-proposal", record.raw, { remember: false });
    if (!signed.ok) return reject(`proposal ${id}'s signature: ${signed.reason}: ${signed.detail}`);
    if (!this.#o.signers.includes(signed.key.service)) return reject(`proposal ${id} is signed by ${signed.key.service}, not a plan signer`);
    let set: Awaited<ReturnType<MemberChain["resolve"]>>;
    try {
      set = await gov.chain.resolve(proposal.members_version);
    } catch (error) {
      return reject(`proposal ${id}'s member set: ${(error as Error).message}`);
    }
    const now = this.#now();
    const [votes, tally] = await Promise.all([gov.store.votes(id), gov.store.tallyRecord(id)]);
    const count = await recount(proposal, set, votes, { now, digester: gov.chain.digester, cache: gov.cache });
    const recounted = `recount of ${count.totals.votes} signed vote(s): ${count.reason}`;
    if (tally && tally.value.proposal_hash !== proposal.hash) return reject(`the tally of proposal ${id} is for another proposal hash: refused`);
    if (count.state === "open") {
      if (tally) return reject(`the tally says ${tally.value.result}, but the ${recounted}: tally refused`);
      return { kind: "wait", retryMs: Math.max(50, Math.min(this.#o.recheckMs, proposal.deadline_at - now + 1)), detail: recounted };
    }
    if (tally && tally.value.result !== count.state) return reject(`the tally says ${tally.value.result}, but the ${recounted}: tally refused`);
    if (count.state === "rejected") return reject(`proposal ${id} did not pass: ${recounted}`);
    return { kind: "run", detail: `approved by proposal ${id}: ${recounted}` };
  }
}

/** The pinned genesis (X0_GOV_MEMBERS) and the x0_gov bucket as a gate; ConfigError naming the variable when the genesis is invalid. */
export async function openVoteGate(options: { membersPath: string; bucket: GovBucket } & Omit<VoteGateOptions, "governance">): Promise<VoteGate> {
  const genesis = await loadGenesis(options.membersPath).catch((error: Error) => {
    throw new ConfigError("X0_GOV_MEMBERS", error.message, { cause: error });
  });
  const store = new GovStore(options.bucket);
  const cache = new RecoveryCache();
  return new VoteGate({ ...options, governance: { store, chain: new MemberChain(genesis, store, cache), cache } });
}
