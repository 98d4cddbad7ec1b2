// Public surface of governance (re-exported from @x0/shared's mod.ts).
export { governanceConfigShape } from "./config.ts";
export { GovernanceError } from "./errors.ts";
export { loadGenesis, MemberChain, type MemberChainSource, memberListProblem, proposedMembersHash, successorOf, verifyGenesis } from "./members.ts";
export { type GovBucket, GovConflict, type GovReader, GovStore, govKeys, readOnlyGovBucket } from "./store.ts";
export {
  type Count,
  type CountedVote,
  checkVote,
  type Decision,
  decide,
  memberIndex,
  powerOf,
  RecoveryCache,
  type RefusedVote,
  recount,
  voteFieldsProblem,
} from "./tally.ts";
export {
  DOMAIN_NAME,
  DOMAIN_VERSION,
  governanceDomain,
  MEMBER_SET_TYPES,
  memberSetHash,
  memberSetTypedData,
  PROPOSAL_TYPES,
  type ProposalFields,
  planContentHash,
  policyContentHash,
  proposalHash,
  proposalTypedData,
  recoverSigner,
  VOTE_TYPES,
  VoteDigester,
  voteTypedData,
  ZERO_HASH,
} from "./typed-data.ts";
