// Public surface of @x0/shared. Services import from here only.
export { BatctlParseError, parseBatctlInterfaces, parseBatctlMesh, parseBatctlNeighbours, parseBatctlOriginators } from "./batman/batctl.ts";
export type { BaseConfig, ConfigShape, ConfigVariable, LoadConfigOptions } from "./config/config.ts";
export { baseConfigShape, boolSchema, CONFIG_FILE_VARIABLE, commaListSchema, describeConfig, loadConfig, portSchema, tokenSchema } from "./config/config.ts";
export { AnnouncedBatman, AnnouncedInterface, announcementKey, Ipv4Cidr, NodeAnnouncement } from "./contracts/announcement.ts";
export type { Delivery, Endpoint, Handler, Live } from "./contracts/bus.ts";
export { Bus, HandlerError, RequestError } from "./contracts/bus.ts";
export type { CryptoEndpoint, CryptoRequest, CryptoResponse } from "./contracts/crypto.ts";
export { CRYPTO_GROUP, CRYPTO_SERVICE_NAME, cryptoEndpoints } from "./contracts/crypto.ts";
export {
  Address,
  AdoptedPolicy,
  BasisPoints,
  Bytes32,
  CHOICES,
  Choice,
  EthSignature,
  MAX_MEMBERS,
  MAX_VOTE_REASON,
  Member,
  MemberSet,
  MemberSignature,
  Proposal,
  ProposalEvent,
  ProposalKind,
  ProposalState,
  ProposeRequest,
  SignedVote,
  SpaceName,
  StoredVote,
  Tally,
  TallyMode,
  TallyTotals,
  VoteMessage,
  VoteReceipt,
  VoteRules,
} from "./contracts/governance.ts";
export { KeyRecord, Revocation, RotationOrder } from "./contracts/keyring.ts";
export type { RagEndpoint, RagRequest, RagResponse } from "./contracts/rag.ts";
export {
  CaseOutcome,
  CasePlan,
  CaseResult,
  CaseSituation,
  EmbedderIdentity,
  RAG_GROUP,
  RAG_MAX_K,
  RAG_MAX_QUERY_CHARS,
  RAG_SERVICE_NAME,
  RagCase,
  RagHit,
  RunbookSection,
  ragEndpoints,
} from "./contracts/rag.ts";
export type { RecordContract } from "./contracts/records.ts";
export {
  BATMAN_KEY,
  BatmanCurrent,
  BatmanSetting,
  Coordination,
  Journal,
  JournalEntry,
  journalKey,
  LeaderLease,
  Lease,
  LinkMark,
  LinkRecord,
  LinkStateName,
  leaderKey,
  leaseKey,
  linkKey,
  nodeJournalKey,
  nodeLeaseKey,
  OutcomeRecord,
  OutcomeStats,
  outcomeKey,
  PlanRecord,
  parseRecord,
  planKey,
  ROUTES_KEY,
  RouteRecord,
  RoutesCurrent,
  records,
  statsKey,
  TOPOLOGY_ANALYSIS_KEY,
  TopologyAnalysis,
  TTR_SAMPLES,
  TxnParticipant,
  TxnPhase,
  txnKey,
  txnParticipantKey,
} from "./contracts/records.ts";
export type { ActionResultFields } from "./contracts/results.ts";
export { actionResult, clipDetail } from "./contracts/results.ts";
export {
  ActionResult,
  ActionType,
  Anomaly,
  AnomalyKind,
  AnomalyState,
  BatmanSample,
  type CounterName,
  DataplaneEvent,
  DeadLetter,
  DropSample,
  EbpfState,
  EpochMillis,
  Evidence,
  ExpectedEffect,
  FragilityCounts,
  IncidentTarget,
  InterfaceCounters,
  InterfaceRates,
  InterfaceSample,
  MacAddress,
  MessageSignature,
  NeighbourSample,
  NodeId,
  OperState,
  ParticipantStatus,
  Plan,
  PlanAlternative,
  PlanFragility,
  PlannedAction,
  ProbeOverdue,
  ProbeRequest,
  ProbeResponse,
  ProbeSample,
  ResultStatus,
  RetransmitSample,
  Severity,
  SignatureAlg,
  StepStatus,
  Telemetry,
  VerifyCheck,
  XdpMode,
  XdpSample,
} from "./contracts/schemas.ts";
export type { Contract, Contracts, EndpointContract, MessageOf } from "./contracts/subjects.ts";
export {
  contracts,
  DLQ_STREAM,
  DLQ_SUBJECTS,
  EVENTS_STREAM,
  EVENTS_SUBJECTS,
  endpoints,
  govProposeEndpoint,
  govVoteEndpoint,
  probeEndpoint,
  SUBJECT_ROOT,
  subjectOf,
  tokenOf,
} from "./contracts/subjects.ts";
export {
  AdapterRound,
  AdapterSpec,
  AdapterUpdate,
  AdapterVersion,
  AggregatorName,
  adapterKeyPrefix,
  currentModelKey,
  decodeFloat32,
  encodeFloat32,
  LINK_HEALTH_MODEL,
  MAX_MODEL_PARAMETERS,
  ModelName,
  ModelPrivacy,
  ModelShape,
  ModelValidation,
  ModelVersion,
  modelVersionKey,
  SiteName,
  SwarmRound,
  SwarmUpdate,
  siteLeaseService,
  swarmServiceOf,
} from "./contracts/swarm.ts";
export * from "./crypto/mod.ts";
export { ConfigError, ContractViolation, InvalidRecord, InvalidSubjectToken, NatsSetupError, RedeliverLater, X0Error } from "./errors.ts";
// Governance (EIP-712 votes, viem) is its own entry point, @x0/shared/governance: services without it do not load viem.
export { governanceConfigShape } from "./governance/config.ts";
export * from "./identity/mod.ts";
export { readJsonFile, writeJsonFile } from "./json-file.ts";
export type { EventHistory } from "./knowledge/history.ts";
export { readEventHistory } from "./knowledge/history.ts";
export type { Bucket, StreamLimits } from "./knowledge/knowledge.ts";
export { BucketReplicasError, Buckets, DEFAULT_STREAM_LIMITS, ensureStreams, forgetBucket, openBucket } from "./knowledge/knowledge.ts";
export type { KvValue, StoredMessage } from "./knowledge/read-only.ts";
export { StoredReader } from "./knowledge/read-only.ts";
export * from "./leadership/mod.ts";
export type { ConnectOptions } from "./nats/connect.ts";
export { connectNats } from "./nats/connect.ts";
export * from "./netlink/mod.ts";
export type { LogFields, Logger, LoggerOptions } from "./observability/logger.ts";
export { createLogger, LogLevel, RateLimiter } from "./observability/logger.ts";
export type { CatalogueEntry, ServiceMetrics } from "./observability/metrics.ts";
export { createServiceMetrics, METRIC_PREFIX, metricsCatalogue } from "./observability/metrics.ts";
export { Attr, MESSAGING_SYSTEM_NATS } from "./observability/semconv.ts";
export type { Tracing, TracingOptions } from "./observability/tracing.ts";
export { createTracing, extractTraceContext, injectTraceContext, traceIdOf } from "./observability/tracing.ts";
export { isProcessAlive, processStartedAt, signalGroup } from "./processes.ts";
export { mulberry32 } from "./random.ts";
export type { MicroEndpoint, MicroHandlers, MicroOptions } from "./service/micro.ts";
export { parseMicroRequest, serveMicro } from "./service/micro.ts";
export type { RunningService, RunOptions, Runtime, ServiceDefinition } from "./service/runtime.ts";
export { EXIT_CONFIG, PRINT_CONFIG_FLAG, runService } from "./service/runtime.ts";
export * from "./topology/mod.ts";
