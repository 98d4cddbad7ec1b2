// Public surface of @x0/swarm for benchmarks and tools: the link-health model, its features, the aggregation rules and
// the coordinator's round.

export { classWeightsOf, localUpdate, seedOf } from "./agent/local-update.ts";
export {
  AGGREGATORS,
  type Aggregate,
  AggregationError,
  type AggregatorName,
  type AggregatorSettings,
  aggregate,
  coordinateMedian,
  fedAvg,
  multiKrum,
  trimmedMean,
} from "./aggregate/aggregators.ts";
export { l2Norm, updateProblem } from "./aggregate/update-check.ts";
export { SHIPPED_SITE_TRAINING, SHIPPED_SITE_VALIDATION, SHIPPED_TRAINING, SHIPPED_VALIDATION } from "./config.ts";
export { type Recording, RecordingError, RecordingMeta, readRecording, type SampleOptions, samplesOf } from "./features/dataset.ts";
export { GroundTruthFault, type LabelOptions, LINK_CLASSES, type LinkClass, labelAt } from "./features/labels.ts";
export {
  DEFAULT_WINDOW,
  FEATURE_COUNT,
  LINK_FEATURES,
  observationsOf,
  type PairObservation,
  PairWindow,
  peerHost,
  type WindowOptions,
} from "./features/link-features.ts";
export { type SampleWindow, TrainingSet } from "./features/training-set.ts";
export { argmax, type ClassScore, type Evaluation, evaluate } from "./model/evaluate.ts";
export { Adapter, AdapterError, type AdapterSpec, adapterParameterCount, averageAdapters } from "./model/lora.ts";
export { Mlp, type MlpShape, ModelShapeError, parameterCount, type Sample, seededRandom, type TrainOptions, train } from "./model/mlp.ts";
export { adaptedModel, adapterOf, adapterRecord, type LoadedAdapter, unsignedAdapter, verifyAdapter } from "./models/adapter.ts";
export { artefactVerifier, type LoadedModel, ModelArtefactError, modelOf, modelRecord, unsignedModel, validationOf, verifyModel } from "./models/artefact.ts";
export { AdapterStore, type ModelBucket, ModelConflict, ModelStore, VersionStore } from "./models/store.ts";
export {
  clipUpdate,
  epsilonAfter,
  nextRoundEpsilon,
  PRIVATE_RULES,
  PrivacyBudgetExhausted,
  type PrivacySettings,
  type PrivateRule,
  privateAggregate,
  privateMean,
  sensitivityOf,
} from "./privacy/dp.ts";
export { type Conversion, DEFAULT_ORDERS, epsilonOf, PrivacyParameterError, rdpOf, rdpOfStep } from "./privacy/rdp.ts";
export { type Attack, type FederateOptions, federate, type RoundRecord } from "./rounds/federate.ts";
export { Round, type RoundOutcome, type RoundSettings, type Submission } from "./rounds/round.ts";
export { SiteAgent, type SiteAgentOutcome } from "./sites/site-agent.ts";
export { type AdapterRoundResult, NoBaseModel, SiteCoordinator, type SiteSettings } from "./sites/site-coordinator.ts";
