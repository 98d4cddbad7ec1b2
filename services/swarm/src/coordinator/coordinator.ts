// The coordinator role (held by one swarm instance through leader.swarm): opens a round on the adopted model, takes
// signed updates until the deadline, aggregates, scores the result on its held-out set and writes a signed version,
// adopted only if it scores at least as well as the current one.
import { randomUUID } from "node:crypto";
import {
  type AggregatorName,
  decodeFloat32,
  type Logger,
  type MessageVerifier,
  type ModelPrivacy,
  ModelVersion,
  type SignedDomain,
  type SwarmRound,
  type SwarmUpdate,
  swarmServiceOf,
  X0Error,
} from "@x0/shared";
import { LINK_CLASSES } from "../features/labels.ts";
import { LINK_FEATURES } from "../features/link-features.ts";
import type { TrainingSet } from "../features/training-set.ts";
import { evaluate } from "../model/evaluate.ts";
import { Mlp, type MlpShape, seededRandom } from "../model/mlp.ts";
import { type LoadedModel, modelRecord, validationOf, verifyModel } from "../models/artefact.ts";
import { ModelConflict, type ModelStore } from "../models/store.ts";
import { nextRoundEpsilon, PRIVATE_RULES, type PrivacySettings, type PrivateRule } from "../privacy/dp.ts";
import { Round, type RoundOutcome } from "../rounds/round.ts";
import { waitForRound } from "./loop.ts";

/** The coordinator may not write: it is no longer the leader. */
export class NotCoordinator extends X0Error {}

/** How rounds are run (config). */
export interface CoordinatorSettings {
  deadlineMs: number;
  epochs: number;
  learningRate: number;
  batchSize: number;
  maxUpdateNorm: number;
  aggregator: AggregatorName;
  trim: number;
  byzantine: number;
  minParticipants: number;
  /** Close a round as soon as this many updates were accepted (0: always wait for the deadline). */
  expectedAgents: number;
  /** Differential privacy of the rounds (DP-FedAvg with the fedavg rule), with the budget; absent: none. */
  privacy?: PrivacySettings;
  /** The initial model: hidden layer widths, seed, feature window. */
  hidden: number[];
  seed: number;
  window: number;
  baselineAlpha: number;
}

/** Why an update was refused, as a bounded metric label. */
export type RefusalKind = "round" | "signature" | "identity" | "check";

/** An update's fate. */
export type UpdateVerdict = { accepted: true } | { accepted: false; kind: RefusalKind; reason: string };

/** An update as the checks common to model and adapter rounds see it. */
export interface SignedUpdate {
  node: string;
  samples: number;
  delta: string;
}

/**
 * The checks after the round's own: published on its node's subject, signed (`domain`) by that node's swarm identity,
 * a whole float32 vector the round takes; resolves `full` once `expectedAgents` (> 0) were accepted.
 */
export async function acceptSigned(options: {
  update: SignedUpdate;
  raw: unknown;
  subjectNode: string;
  domain: SignedDomain;
  verifier: MessageVerifier;
  round: Round;
  at: number;
  expectedAgents: number;
  full: PromiseWithResolvers<void>;
}): Promise<UpdateVerdict> {
  const { update, subjectNode, round } = options;
  const refuse = (kind: RefusalKind, reason: string): UpdateVerdict => ({ accepted: false, kind, reason });
  if (subjectNode !== update.node) return refuse("identity", `update of node ${update.node} published on node ${subjectNode}'s subject`);
  const verdict = await options.verifier.verify(options.domain, options.raw);
  if (!verdict.ok) return refuse("signature", `${verdict.reason}: ${verdict.detail}`);
  if (verdict.key.service !== swarmServiceOf(update.node)) {
    return refuse("identity", `update of node ${update.node} signed by ${verdict.key.service}, not by ${swarmServiceOf(update.node)}`);
  }
  const delta = decodeFloat32(update.delta);
  if (!delta) return refuse("check", "delta is not a whole number of float32 values");
  const submission = round.submit(update.node, delta, update.samples, options.at);
  if (!submission.accepted) return refuse("check", submission.reason);
  if (options.expectedAgents > 0 && round.participants.length >= options.expectedAgents) options.full.resolve();
  return { accepted: true };
}

/** What closing a round gave. */
export interface RoundResult {
  round: SwarmRound;
  outcome: RoundOutcome;
  /** The version written (adopted or rejected), when the round produced parameters. */
  version?: ModelVersion;
  durationMs: number;
}

/** What the coordinator needs. */
export interface CoordinatorOptions {
  node: string;
  model: string;
  settings: CoordinatorSettings;
  store: ModelStore;
  validation: TrainingSet;
  /** Verifies updates (fresh, each nonce once). */
  verifier: MessageVerifier;
  /** Verifies stored model versions. */
  artefacts: MessageVerifier;
  sign: <T extends object>(domain: SignedDomain, message: T) => T & { signature: ModelVersion["signature"] };
  publishRound: (round: SwarmRound) => void;
  /** Checked immediately before every write and announcement. */
  isLeader: () => boolean;
  logger: Logger;
  now?: () => number;
}

interface OpenRound {
  announcement: SwarmRound;
  /** With DP: the rounds released before this one and ε once it is released. */
  privacy?: { roundsBefore: number; epsilon: number };
  round: Round;
  base: LoadedModel;
  baseRevision: number;
  /** Resolves when the expected number of updates was accepted. */
  full: PromiseWithResolvers<void>;
}

/** The coordinator of one model. */
export class Coordinator {
  readonly #options: CoordinatorOptions;
  readonly #now: () => number;
  #open: OpenRound | undefined;
  /** The highest round number seen announced (by any coordinator). */
  lastRound = 0;

  constructor(options: CoordinatorOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** The open round's announcement, if one is open. */
  get openRound(): SwarmRound | undefined {
    return this.#open?.announcement;
  }

  /** The adopted model and its KV revision; writes the initial model (v0) when none was adopted yet. */
  async current(): Promise<{ model: LoadedModel; revision: number }> {
    const stored = await this.#options.store.current();
    if (stored) return { model: await verifyModel(this.#options.artefacts, stored.raw), revision: stored.revision };
    const { settings } = this.#options;
    const shape: MlpShape = { inputs: LINK_FEATURES.length, hidden: settings.hidden, outputs: LINK_CLASSES.length };
    const mlp = Mlp.init(shape, seededRandom(settings.seed));
    const window = { window: settings.window, baselineAlpha: settings.baselineAlpha };
    const evaluation = evaluate(mlp, this.#options.validation.samples(window));
    const record = this.#options.sign(
      "swarm-model",
      modelRecord({
        model: this.#options.model,
        version: (await this.#options.store.highestVersion()) + 1,
        parent: null,
        round_id: null,
        mlp,
        classes: [...LINK_CLASSES],
        features: [...LINK_FEATURES],
        window: { ...window, helloIntervalMs: this.#helloIntervalMs() },
        aggregator: null,
        participants: [],
        used: [],
        refused: 0,
        validation: validationOf(evaluation, LINK_CLASSES),
        current_macro_f1: null,
        status: "adopted",
        reason: `initial model (seed ${settings.seed})`,
        coordinator: this.#options.node,
        created_at: this.#now(),
      }),
    );
    try {
      await this.#options.store.publish(record, 0);
      this.#options.logger.info("initial model written", { model: record.model, version: record.version, macro_f1: record.validation.macro_f1 });
    } catch (error) {
      if (!(error instanceof ModelConflict)) throw error;
      this.#options.logger.info("another coordinator wrote the initial model first", { model: record.model });
    }
    return this.current();
  }

  /** DP rounds released so far for this model: the privacy record of the highest version written. */
  async privateRoundsDone(): Promise<number> {
    const highest = await this.#options.store.highestVersion();
    if (highest < 0) return 0;
    const stored = await this.#options.store.version(highest);
    const record = ModelVersion.safeParse(stored?.raw);
    return record.success ? (record.data.privacy?.rounds ?? 0) : 0;
  }

  /**
   * Opens a round on the adopted model and announces it. With DP, a round that would spend more than the budget is not
   * opened: {@link PrivacyBudgetExhausted} says by how much.
   */
  async open(): Promise<SwarmRound> {
    const { model: base, revision } = await this.current();
    const { settings } = this.#options;
    let privacy: OpenRound["privacy"];
    if (settings.privacy) {
      const roundsBefore = await this.privateRoundsDone();
      privacy = { roundsBefore, epsilon: nextRoundEpsilon(roundsBefore, settings.privacy) };
    }
    const now = this.#now();
    const round = this.lastRound + 1;
    const announcement = this.#options.sign("swarm-round", {
      v: 1 as const,
      model: this.#options.model,
      round_id: randomUUID(),
      round,
      base_version: base.record.version,
      coordinator: this.#options.node,
      opened_at: now,
      deadline_at: now + settings.deadlineMs,
      epochs: settings.epochs,
      learning_rate: settings.learningRate,
      batch_size: settings.batchSize,
      max_update_norm: settings.maxUpdateNorm,
      ...(settings.privacy ? { sample_rate: settings.privacy.sampleRate } : {}),
    });
    this.#open = {
      announcement,
      ...(privacy ? { privacy } : {}),
      round: new Round(round, base.record.version, base.mlp.params, now, {
        aggregator: settings.aggregator,
        minParticipants: settings.minParticipants,
        deadlineMs: settings.deadlineMs,
        maxUpdateNorm: settings.maxUpdateNorm,
        trim: settings.trim,
        byzantine: settings.byzantine,
        ...(settings.privacy ? { privacy: settings.privacy } : {}),
      }),
      base,
      baseRevision: revision,
      full: Promise.withResolvers<void>(),
    };
    this.lastRound = round;
    this.#assertLeader("announce a round");
    this.#options.publishRound(announcement);
    return announcement;
  }

  /** Takes or refuses one update (`raw`: as received; `subjectNode`: the node token of its subject). */
  async submit(update: SwarmUpdate, raw: unknown, subjectNode: string): Promise<UpdateVerdict> {
    const open = this.#open;
    const refuse = (kind: RefusalKind, reason: string): UpdateVerdict => ({ accepted: false, kind, reason });
    if (!open) return refuse("round", `no round is open (update for round ${update.round})`);
    const { announcement } = open;
    if (update.round_id !== announcement.round_id || update.model !== announcement.model || update.base_version !== announcement.base_version) {
      return refuse(
        "round",
        `update for round ${update.round} (${update.round_id}) on v${update.base_version}; the open round is ${announcement.round} (${announcement.round_id}) on v${announcement.base_version}`,
      );
    }
    return acceptSigned({
      update,
      raw,
      subjectNode,
      domain: "swarm-update",
      verifier: this.#options.verifier,
      round: open.round,
      at: this.#now(),
      expectedAgents: this.#options.settings.expectedAgents,
      full: open.full,
    });
  }

  /** Waits until the open round's deadline (or until every expected agent answered, or `signal` aborts). */
  async waitForUpdates(signal: AbortSignal): Promise<void> {
    const open = this.#open;
    if (open) await waitForRound(open.announcement.deadline_at, open.full.promise, signal, this.#now);
  }

  /** Closes the open round: aggregates, scores, signs and writes the version (only while leader). */
  async close(): Promise<RoundResult | undefined> {
    const open = this.#open;
    if (!open) return undefined;
    this.#open = undefined;
    const outcome = open.round.close();
    const durationMs = this.#now() - open.announcement.opened_at;
    if (!outcome.published) return { round: open.announcement, outcome, durationMs };
    const { base, announcement } = open;
    const window = { window: base.window.window, baselineAlpha: base.window.baselineAlpha };
    const validation = this.#options.validation.samples(window);
    const candidate = new Mlp(base.mlp.shape, outcome.params);
    const scored = evaluate(candidate, validation);
    const currentScore = evaluate(base.mlp, validation).macroF1;
    const adopted = Number.isFinite(scored.macroF1) && scored.macroF1 >= currentScore;
    const record = this.#options.sign(
      "swarm-model",
      modelRecord({
        model: this.#options.model,
        version: (await this.#options.store.highestVersion()) + 1,
        parent: base.record.version,
        round_id: announcement.round_id,
        mlp: candidate,
        classes: base.record.classes,
        features: base.record.features,
        window: base.window,
        aggregator: this.#options.settings.aggregator,
        participants: outcome.participants,
        used: outcome.used,
        refused: outcome.refused,
        validation: validationOf(scored, base.record.classes),
        current_macro_f1: Math.round(currentScore * 1e6) / 1e6,
        ...(open.privacy && this.#options.settings.privacy
          ? { privacy: privacyRecord(this.#options.settings.privacy, this.#options.settings.aggregator, open.privacy) }
          : {}),
        status: adopted ? "adopted" : "rejected",
        ...(adopted
          ? {}
          : { reason: `macro F1 ${scored.macroF1.toFixed(4)} on the held-out set is below the adopted v${base.record.version}'s ${currentScore.toFixed(4)}` }),
        coordinator: this.#options.node,
        created_at: this.#now(),
      }),
    );
    this.#assertLeader(`write ${record.model} v${record.version}`);
    await this.#options.store.publish(record, open.baseRevision);
    return { round: announcement, outcome, version: record, durationMs };
  }

  /** Forgets the open round without writing anything (the lease was lost). */
  abandon(): void {
    this.#open = undefined;
  }

  #assertLeader(what: string): void {
    if (!this.#options.isLeader()) throw new NotCoordinator(`cannot ${what}: this instance no longer holds leader.swarm`);
  }

  #helloIntervalMs(): number {
    return this.#options.validation.recordings[0]?.meta.hello_interval_ms ?? 100;
  }
}

function privacyRecord(settings: PrivacySettings, rule: AggregatorName, spent: { roundsBefore: number; epsilon: number }): ModelPrivacy {
  return {
    noise_multiplier: settings.noiseMultiplier,
    clip_norm: settings.clipNorm,
    sample_rate: settings.sampleRate,
    expected_participants: settings.expectedParticipants,
    adjacency: PRIVATE_RULES[rule as PrivateRule],
    rounds: spent.roundsBefore + 1,
    epsilon: Math.round(spent.epsilon * 1e6) / 1e6,
    delta: settings.delta,
  };
}
