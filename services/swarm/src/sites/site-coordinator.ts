// A site's adapter coordinator (the member holding leader.swarm-site.<site>): opens adapter rounds on the adopted model,
// takes its members' signed changes to B, averages them (FFA-LoRA: A is frozen, so the mean B is the mean change), and
// adopts the adapter only if base + adapter scores at least what the site runs now on the site's held-out set.
import { randomUUID } from "node:crypto";
import {
  type AdapterRound,
  type AdapterSpec,
  type AdapterUpdate,
  type AdapterVersion,
  type AggregatorName,
  type Logger,
  type MessageVerifier,
  type SignedDomain,
  X0Error,
} from "@x0/shared";
import { acceptSigned, type RefusalKind, type UpdateVerdict } from "../coordinator/coordinator.ts";
import { waitForRound } from "../coordinator/loop.ts";
import type { TrainingSet } from "../features/training-set.ts";
import { evaluate } from "../model/evaluate.ts";
import { Adapter, adapterParameterCount } from "../model/lora.ts";
import { adapterRecord, type LoadedAdapter, verifyAdapter } from "../models/adapter.ts";
import { type LoadedModel, validationOf, verifyModel } from "../models/artefact.ts";
import type { AdapterStore, ModelStore } from "../models/store.ts";
import { Round, type RoundOutcome } from "../rounds/round.ts";

/** No model is adopted yet: a site has nothing to adapt. */
export class NoBaseModel extends X0Error {}

/** How a site's adapter rounds run (config). */
export interface SiteSettings {
  adapter: AdapterSpec;
  deadlineMs: number;
  epochs: number;
  learningRate: number;
  batchSize: number;
  maxUpdateNorm: number;
  /** fedavg or median of the members' B changes (trim and byzantine for the other rules). */
  aggregator: AggregatorName;
  trim: number;
  byzantine: number;
  minParticipants: number;
  /** Close as soon as this many updates were accepted (0: wait for the deadline). */
  expectedAgents: number;
}

/** What closing an adapter round gave. */
export interface AdapterRoundResult {
  round: AdapterRound;
  outcome: RoundOutcome;
  version?: AdapterVersion;
  durationMs: number;
}

/** What a site coordinator needs. */
export interface SiteCoordinatorOptions {
  node: string;
  site: string;
  model: string;
  settings: SiteSettings;
  models: ModelStore;
  adapters: AdapterStore;
  /** The site's held-out set (every member's links): the adoption guard's yardstick. */
  validation: TrainingSet;
  verifier: MessageVerifier;
  artefacts: MessageVerifier;
  sign: <T extends object>(domain: SignedDomain, message: T) => T & { signature: AdapterVersion["signature"] };
  publishRound: (round: AdapterRound) => void;
  isLeader: () => boolean;
  logger: Logger;
  now?: () => number;
}

interface OpenAdapterRound {
  announcement: AdapterRound;
  round: Round;
  base: LoadedModel;
  /** What the site's nodes run now on this base: the adopted adapter if it adapts this base. */
  running: LoadedAdapter | undefined;
  adapterRevision: number;
  full: PromiseWithResolvers<void>;
}

/** The adapter coordinator of one site. */
export class SiteCoordinator {
  readonly #options: SiteCoordinatorOptions;
  readonly #now: () => number;
  #open: OpenAdapterRound | undefined;
  /** The highest adapter round number seen announced for this site. */
  lastRound = 0;

  constructor(options: SiteCoordinatorOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** The open round's announcement, if one is open. */
  get openRound(): AdapterRound | undefined {
    return this.#open?.announcement;
  }

  /**
   * Opens an adapter round on the adopted model. Members start from the site's adopted adapter (also one trained on an
   * older base: its B is a warm start), or from B = 0.
   */
  async open(): Promise<AdapterRound> {
    const { models, adapters, settings, artefacts } = this.#options;
    const storedBase = await models.current();
    if (!storedBase) throw new NoBaseModel(`no ${this.#options.model} model is adopted yet: site ${this.#options.site} has nothing to adapt`);
    const base = await verifyModel(artefacts, storedBase.raw);
    const storedAdapter = await adapters.current();
    const current = storedAdapter ? await verifyAdapter(artefacts, storedAdapter.raw) : undefined;
    // An adapter of another rank or seed cannot be a starting point: the site starts again from B = 0.
    const start = current && sameSpec(current.record.adapter, settings.adapter) ? current : undefined;
    const startB = start?.b ?? new Float32Array(adapterParameterCount(base.mlp, settings.adapter.rank));
    const now = this.#now();
    const number = this.lastRound + 1;
    const announcement = this.#options.sign("swarm-adapter-round", {
      v: 1 as const,
      model: this.#options.model,
      site: this.#options.site,
      round_id: randomUUID(),
      round: number,
      base_version: base.record.version,
      adapter_version: start?.record.version ?? null,
      adapter: settings.adapter,
      coordinator: this.#options.node,
      opened_at: now,
      deadline_at: now + settings.deadlineMs,
      epochs: settings.epochs,
      learning_rate: settings.learningRate,
      batch_size: settings.batchSize,
      max_update_norm: settings.maxUpdateNorm,
    });
    this.#open = {
      announcement,
      round: new Round(number, base.record.version, startB, now, {
        aggregator: settings.aggregator,
        minParticipants: settings.minParticipants,
        deadlineMs: settings.deadlineMs,
        maxUpdateNorm: settings.maxUpdateNorm,
        trim: settings.trim,
        byzantine: settings.byzantine,
      }),
      base,
      running: current && current.record.base_version === base.record.version ? current : undefined,
      adapterRevision: storedAdapter?.revision ?? 0,
      full: Promise.withResolvers<void>(),
    };
    this.lastRound = number;
    this.#assertLeader("announce an adapter round");
    this.#options.publishRound(announcement);
    return announcement;
  }

  /** Takes or refuses one member's update (`raw`: as received; `subjectNode`: the node token of its subject). */
  async submit(update: AdapterUpdate, raw: unknown, subjectNode: string): Promise<UpdateVerdict> {
    const open = this.#open;
    const refuse = (kind: RefusalKind, reason: string): UpdateVerdict => ({ accepted: false, kind, reason });
    if (!open) return refuse("round", `no adapter round of site ${this.#options.site} is open (update for round ${update.round})`);
    const { announcement } = open;
    if (
      update.round_id !== announcement.round_id ||
      update.model !== announcement.model ||
      update.base_version !== announcement.base_version ||
      update.adapter_version !== announcement.adapter_version
    ) {
      return refuse("round", `update for adapter round ${update.round} (${update.round_id}); the open one is ${announcement.round} (${announcement.round_id})`);
    }
    return acceptSigned({
      update,
      raw,
      subjectNode,
      domain: "swarm-adapter-update",
      verifier: this.#options.verifier,
      round: open.round,
      at: this.#now(),
      expectedAgents: this.#options.settings.expectedAgents,
      full: open.full,
    });
  }

  /** Waits until the open round's deadline (or every expected member answered, or `signal` aborts). */
  async waitForUpdates(signal: AbortSignal): Promise<void> {
    const open = this.#open;
    if (open) await waitForRound(open.announcement.deadline_at, open.full.promise, signal, this.#now);
  }

  /** Closes the open round: averages B, scores base + adapter on the site's set, signs and writes the version. */
  async close(): Promise<AdapterRoundResult | undefined> {
    const open = this.#open;
    if (!open) return undefined;
    this.#open = undefined;
    const outcome = open.round.close();
    const durationMs = this.#now() - open.announcement.opened_at;
    if (!outcome.published) return { round: open.announcement, outcome, durationMs };
    const { base, announcement, running } = open;
    const spec = announcement.adapter;
    const samples = this.#options.validation.samples({ window: base.window.window, baselineAlpha: base.window.baselineAlpha });
    const scored = evaluate(new Adapter(base.mlp, spec, outcome.params).apply(), samples);
    const baseScore = evaluate(base.mlp, samples).macroF1;
    const runningScore = running ? evaluate(new Adapter(base.mlp, running.record.adapter, running.b).apply(), samples).macroF1 : baseScore;
    const adopted = Number.isFinite(scored.macroF1) && scored.macroF1 >= runningScore;
    const runningName = running ? `base v${base.record.version} + adapter v${running.record.version}` : `base v${base.record.version} alone`;
    const round6 = (value: number) => Math.round(value * 1e6) / 1e6;
    const record = this.#options.sign(
      "swarm-adapter",
      adapterRecord({
        model: this.#options.model,
        site: this.#options.site,
        version: (await this.#options.adapters.highestVersion()) + 1,
        parent: announcement.adapter_version,
        base_version: base.record.version,
        round_id: announcement.round_id,
        adapter: spec,
        b: outcome.params,
        aggregator: this.#options.settings.aggregator,
        participants: outcome.participants,
        used: outcome.used,
        refused: outcome.refused,
        validation: validationOf(scored, base.record.classes),
        base_macro_f1: round6(baseScore),
        current_macro_f1: round6(runningScore),
        status: adopted ? "adopted" : "rejected",
        ...(adopted ? {} : { reason: `macro F1 ${scored.macroF1.toFixed(4)} on the site's held-out set is below ${runningName}'s ${runningScore.toFixed(4)}` }),
        coordinator: this.#options.node,
        created_at: this.#now(),
      }),
    );
    this.#assertLeader(`write site ${record.site} adapter v${record.version}`);
    await this.#options.adapters.publish(record, open.adapterRevision);
    return { round: announcement, outcome, version: record, durationMs };
  }

  /** Forgets the open round without writing anything (the lease was lost). */
  abandon(): void {
    this.#open = undefined;
  }

  #assertLeader(what: string): void {
    if (!this.#options.isLeader()) throw new SiteNotCoordinator(`cannot ${what}: this instance no longer holds leader.swarm-site.${this.#options.site}`);
  }
}

/** The site coordinator may not write: it no longer holds the site's lease. */
export class SiteNotCoordinator extends X0Error {}

function sameSpec(a: AdapterSpec, b: AdapterSpec): boolean {
  return a.rank === b.rank && a.alpha === b.alpha && a.seed === b.seed;
}
