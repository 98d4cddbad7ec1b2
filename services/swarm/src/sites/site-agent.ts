// A site member's part in its site's adapter rounds: from the verified base model and starting adapter the round names,
// trains only B on its own links and publishes the change to B, signed. The base and A stay frozen.
import { type AdapterRound, type AdapterUpdate, encodeFloat32, type MessageVerifier, type SignedDomain, swarmServiceOf } from "@x0/shared";
import { classWeightsOf, seedOf } from "../agent/local-update.ts";
import type { TrainingSet } from "../features/training-set.ts";
import { Adapter } from "../model/lora.ts";
import { seededRandom } from "../model/mlp.ts";
import { type LoadedAdapter, verifyAdapter } from "../models/adapter.ts";
import { type LoadedModel, ModelArtefactError, verifyModel } from "../models/artefact.ts";
import type { AdapterStore, ModelStore } from "../models/store.ts";

/** What a member did with an announcement. */
export type SiteAgentOutcome =
  | { kind: "submitted"; update: AdapterUpdate; samples: number }
  | { kind: "skipped"; reason: string }
  | { kind: "refused"; reason: string };

/** What a site member needs. */
export interface SiteAgentOptions {
  node: string;
  site: string;
  model: string;
  data: TrainingSet;
  models: ModelStore;
  adapters: AdapterStore;
  /** Verifies announcements (fresh, never replayed). */
  verifier: MessageVerifier;
  /** Verifies stored model and adapter versions. */
  artefacts: MessageVerifier;
  sign: <T extends object>(domain: SignedDomain, message: T) => T & { signature: AdapterUpdate["signature"] };
  publish: (update: AdapterUpdate) => void;
  now?: () => number;
}

/** One node's part in its site's adapter rounds. */
export class SiteAgent {
  readonly #options: SiteAgentOptions;
  readonly #now: () => number;
  readonly #answered = new Set<string>();
  /** Rounds answered since start. */
  answered = 0;

  constructor(options: SiteAgentOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Handles one announcement (`raw`: as received); refused ones are the caller's to dead-letter. */
  async onRound(round: AdapterRound, raw: unknown): Promise<SiteAgentOutcome> {
    const { node, site, model, data } = this.#options;
    if (round.site !== site || round.model !== model) return { kind: "skipped", reason: `round of ${round.model} site ${round.site}, not ours` };
    if (this.#answered.has(round.round_id)) return { kind: "skipped", reason: `adapter round ${round.round} already answered` };
    const verdict = await this.#options.verifier.verify("swarm-adapter-round", raw);
    if (!verdict.ok) return { kind: "refused", reason: `announcement ${verdict.reason}: ${verdict.detail}` };
    if (verdict.key.service !== swarmServiceOf(round.coordinator)) {
      return { kind: "refused", reason: `announcement signed by ${verdict.key.service}, not by its coordinator ${round.coordinator}` };
    }
    if (this.#now() >= round.deadline_at) return { kind: "skipped", reason: `adapter round ${round.round} is past its deadline` };
    const base = await this.#verified(round.base_version);
    const start = round.adapter_version === null ? undefined : await this.#startingAdapter(round.adapter_version);
    const samples = data.samples({ window: base.window.window, baselineAlpha: base.window.baselineAlpha });
    if (samples.length === 0) return { kind: "skipped", reason: `no labelled samples of node ${node}` };
    this.#answered.add(round.round_id);
    if (this.#answered.size > 64) this.#answered.delete(this.#answered.values().next().value as string);
    const adapter = new Adapter(base.mlp, round.adapter, start?.b.slice());
    const initial = adapter.b.slice();
    const loss = adapter.train(samples, {
      epochs: round.epochs,
      learningRate: round.learning_rate,
      batchSize: round.batch_size,
      random: seededRandom(seedOf(`${round.round_id}/${node}`)),
      classWeights: classWeightsOf(samples, base.mlp.shape.outputs),
    });
    const update = this.#options.sign("swarm-adapter-update", {
      v: 1 as const,
      model,
      site,
      round_id: round.round_id,
      round: round.round,
      base_version: round.base_version,
      adapter_version: round.adapter_version,
      node,
      samples: samples.length,
      delta: encodeFloat32(adapter.b.map((value, i) => value - (initial[i] as number))),
      train_loss: Number.isFinite(loss) ? Math.round(loss * 1e6) / 1e6 : undefined,
    });
    this.#options.publish(update);
    this.answered++;
    return { kind: "submitted", update, samples: samples.length };
  }

  async #verified(version: number): Promise<LoadedModel> {
    const stored = await this.#options.models.version(version);
    if (!stored) throw new ModelArtefactError(`${this.#options.model} v${version} is not in x0_models`);
    return verifyModel(this.#options.artefacts, stored.raw);
  }

  async #startingAdapter(version: number): Promise<LoadedAdapter> {
    const stored = await this.#options.adapters.version(version);
    if (!stored) throw new ModelArtefactError(`${this.#options.adapters.prefix} v${version} is not in x0_models`);
    return verifyAdapter(this.#options.artefacts, stored.raw);
  }
}
