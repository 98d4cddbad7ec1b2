// Wires the planner's governance (when X0_GOV_MEMBERS is set): the pinned genesis, the x0_gov bucket, the vote and propose
// endpoints, the events, and the leader's closing of proposals at their deadline.
import { type Bus, ConfigError, contracts, govProposeEndpoint, govVoteEndpoint, type Live, type Logger, type Proposal, type VoteRules } from "@x0/shared";
import { type GovBucket, GovConflict, GovStore, loadGenesis, MemberChain, memberSetHash, RecoveryCache } from "@x0/shared/governance";
import { type Policy, parsePolicy } from "../policy/policy.ts";
import { Governance, InvalidProposal } from "./governance.ts";
import type { GovernanceMetrics } from "./metrics.ts";

/** How often the leader looks for proposals past their deadline, and re-reads which are open. */
const CLOSE_EVERY_MS = 250;
const RELOAD_EVERY_MS = 5000;

const encoder = new TextEncoder();

/** The planner's running governance. */
export interface PlannerGovernance {
  governance: Governance;
  store: GovStore;
  /** The policy a passed proposal adopted, if any (it replaces the file's). */
  adopted: Policy | undefined;
  /** Starts closing proposals (elected) or stops (demoted). */
  lead(leading: boolean): Promise<void>;
  lives: Live[];
}

/** Starts governance when X0_GOV_MEMBERS names a genesis; throws ConfigError when it is invalid or differs from the stored one. */
export async function startGovernance(options: {
  membersPath: string;
  /** The x0_gov bucket. */
  bucket: GovBucket;
  bus: Bus;
  rules: () => VoteRules;
  sign<T extends object>(domain: "gov-proposal" | "gov-tally", message: T): T;
  adoptPolicy(policy: Policy, proposal: Proposal): Promise<void>;
  proposer: string;
  metrics: GovernanceMetrics;
  logger: Logger;
}): Promise<PlannerGovernance> {
  const { membersPath, bus, logger } = options;
  const genesis = await loadGenesis(membersPath).catch((error: Error) => {
    throw new ConfigError("X0_GOV_MEMBERS", error.message, { cause: error });
  });
  const store = new GovStore(options.bucket);
  const stored = await store.memberSet(1);
  if (!stored) {
    // Another planner starting at the same moment may store it first: the same file, so the same record.
    await store.putMemberSet(genesis).catch((error) => {
      if (!(error instanceof GovConflict)) throw error;
    });
  } else if (memberSetHash(stored) !== memberSetHash(genesis)) {
    throw new ConfigError(
      "X0_GOV_MEMBERS",
      `x0_gov holds another genesis member set than ${membersPath} (space ${stored.space}): this mesh was set up with other members`,
    );
  }
  const cache = new RecoveryCache();
  const governance = new Governance({
    store,
    chain: new MemberChain(genesis, store, cache),
    rules: options.rules,
    sign: options.sign,
    // Core NATS: x0_gov is the durable record; the event tells subscribers (console, dashboards) at once.
    publishEvent: async (event) => {
      bus.publish(contracts.govProposal, event.proposal.proposal_id, event);
    },
    deadLetter: (vote, reason) =>
      bus.deadLetter(govVoteEndpoint.subject, govVoteEndpoint.subject, encoder.encode(JSON.stringify(vote)), undefined, `vote refused: ${reason}`),
    policyProblem: (text) => {
      try {
        parsePolicy(text, "proposed");
        return undefined;
      } catch (error) {
        return (error as Error).message;
      }
    },
    adoptPolicy: async (text, proposal) => {
      await store.adoptPolicy({ v: 1, proposal_id: proposal.proposal_id, content: proposal.content, policy: text, adopted_at: Date.now() });
      await options.adoptPolicy(parsePolicy(text, `of proposal ${proposal.proposal_id}`), proposal);
    },
    proposer: options.proposer,
    cache,
    metrics: options.metrics,
    logger,
  });
  const adoptedRecord = await store.adoptedPolicy();
  const adopted = adoptedRecord ? parsePolicy(adoptedRecord.policy, `adopted by proposal ${adoptedRecord.proposal_id}`) : undefined;
  if (adoptedRecord) logger.info("policy adopted by governance replaces the file's", { proposal_id: adoptedRecord.proposal_id });

  const lives: Live[] = [
    bus.serve(govVoteEndpoint, (vote) => governance.vote(vote)),
    bus.serve(govProposeEndpoint, async (request) => {
      try {
        return await governance.propose(request);
      } catch (error) {
        if (error instanceof InvalidProposal) logger.warn("proposal refused", { error: error.message });
        throw error;
      }
    }),
  ];
  let closer: ReturnType<typeof setInterval> | undefined;
  let reloader: ReturnType<typeof setInterval> | undefined;
  let closing = false;
  const stopClosing = () => {
    clearInterval(closer);
    clearInterval(reloader);
  };
  lives.push({ name: "governance closer", isLive: () => true, stop: async () => stopClosing() });
  return {
    governance,
    store,
    adopted,
    lives,
    async lead(leading) {
      stopClosing();
      if (!leading) return;
      await governance.load();
      reloader = setInterval(() => governance.load().catch((error) => logger.error("cannot read open proposals", { error })), RELOAD_EVERY_MS);
      closer = setInterval(() => {
        if (closing) return;
        closing = true;
        governance
          .closeDue()
          .catch((error) => logger.error("cannot close proposals", { error }))
          .finally(() => {
            closing = false;
          });
      }, CLOSE_EVERY_MS);
    },
  };
}
