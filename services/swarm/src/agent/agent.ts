// A node's swarm agent: answers each verified round announcement with one signed update trained on its own links, from
// the verified base model the round names. Stateless between rounds, so a restarted agent joins the next one.
import { encodeFloat32, type MessageVerifier, type SignedDomain, type SwarmRound, type SwarmUpdate, swarmServiceOf, X0Error } from "@x0/shared";
import type { TrainingSet } from "../features/training-set.ts";
import { type LoadedModel, verifyModel } from "../models/artefact.ts";
import type { ModelStore } from "../models/store.ts";
import { localUpdate, seedOf } from "./local-update.ts";

/** Round ids remembered as answered. */
const ANSWERED_KEPT = 64;

/** What an agent did with an announcement. */
export type AgentOutcome =
  | { kind: "submitted"; update: SwarmUpdate; samples: number }
  | { kind: "skipped"; reason: string }
  | { kind: "refused"; reason: string };

/** What an agent needs. */
export interface AgentOptions {
  node: string;
  model: string;
  data: TrainingSet;
  store: ModelStore;
  /** Verifies announcements (fresh, never replayed). */
  verifier: MessageVerifier;
  /** Verifies stored model versions (no freshness window). */
  artefacts: MessageVerifier;
  sign: <T extends object>(domain: SignedDomain, message: T) => T & { signature: SwarmUpdate["signature"] };
  publish: (update: SwarmUpdate) => void;
  now?: () => number;
  /** A uniform draw in [0, 1) for the DP rounds' sampling (cryptographic by default). */
  draw?: () => number;
}

/** One node's agent. */
export class Agent {
  readonly #options: AgentOptions;
  readonly #now: () => number;
  readonly #draw: () => number;
  readonly #answered = new Set<string>();
  #base: LoadedModel | undefined;

  constructor(options: AgentOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#draw = options.draw ?? (() => (crypto.getRandomValues(new Uint32Array(1))[0] as number) / 2 ** 32);
  }

  /** Rounds answered since start. */
  answered = 0;

  /** Handles one announcement (`raw`: as received, for the signature); refused ones are the caller's to dead-letter. */
  async onRound(round: SwarmRound, raw: unknown): Promise<AgentOutcome> {
    const { node, model, data } = this.#options;
    if (round.model !== model) return { kind: "skipped", reason: `model ${round.model} is not ${model}` };
    if (this.#answered.has(round.round_id)) return { kind: "skipped", reason: `round ${round.round} already answered` };
    const verdict = await this.#options.verifier.verify("swarm-round", raw);
    if (!verdict.ok) return { kind: "refused", reason: `announcement ${verdict.reason}: ${verdict.detail}` };
    if (verdict.key.service !== swarmServiceOf(round.coordinator)) {
      return { kind: "refused", reason: `announcement signed by ${verdict.key.service}, not by its coordinator ${round.coordinator}` };
    }
    if (this.#now() >= round.deadline_at) return { kind: "skipped", reason: `round ${round.round} is past its deadline` };
    // A DP round samples its agents: each draws on its own, so no one learns who took part from who was asked.
    if (round.sample_rate !== undefined && this.#draw() >= round.sample_rate) {
      this.#remember(round.round_id);
      return { kind: "skipped", reason: `not sampled for round ${round.round} (rate ${round.sample_rate})` };
    }
    const base = await this.#baseModel(round.base_version);
    const samples = data.samples({ window: base.window.window, baselineAlpha: base.window.baselineAlpha });
    if (samples.length === 0) return { kind: "skipped", reason: `no labelled samples of node ${node}` };
    this.#remember(round.round_id);
    const { delta, loss } = localUpdate(
      base.mlp,
      samples,
      { epochs: round.epochs, learningRate: round.learning_rate, batchSize: round.batch_size },
      seedOf(`${round.round_id}/${node}`),
    );
    const update = this.#options.sign("swarm-update", {
      v: 1 as const,
      model,
      round_id: round.round_id,
      round: round.round,
      base_version: round.base_version,
      node,
      samples: samples.length,
      delta: encodeFloat32(delta),
      train_loss: Number.isFinite(loss) ? Math.round(loss * 1e6) / 1e6 : undefined,
    });
    this.#options.publish(update);
    this.answered++;
    return { kind: "submitted", update, samples: samples.length };
  }

  #remember(roundId: string): void {
    this.#answered.add(roundId);
    // Only recent rounds can come again (a redelivery, a replay): the set stays small.
    if (this.#answered.size > ANSWERED_KEPT) this.#answered.delete(this.#answered.values().next().value as string);
  }

  async #baseModel(version: number): Promise<LoadedModel> {
    if (this.#base?.record.version === version) return this.#base;
    const stored = await this.#options.store.version(version);
    if (!stored) throw new BaseModelMissing(`${this.#options.model} v${version} is not in x0_models`);
    this.#base = await verifyModel(this.#options.artefacts, stored.raw);
    return this.#base;
  }
}

/** The round's base model is not stored (or not yet visible). */
export class BaseModelMissing extends X0Error {}
