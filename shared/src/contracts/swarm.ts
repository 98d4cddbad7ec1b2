// Contracts of the swarm's federated rounds: the coordinator's round announcement, an agent's signed update, and the
// signed model versions kept in x0_models (services/swarm/README.md).
import { z } from "zod";
import { EpochMillis, MessageSignature, NodeId } from "./schemas.ts";

/** Name of a learnt model; the last token of its round subject and the first part of its x0_models keys. */
export const ModelName = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, "model name must be 1-32 of [a-z0-9-], starting with a letter");
/** The link-health model (the one model the swarm learns today). */
export const LINK_HEALTH_MODEL = "link-health";
/** Most parameters a model may have (base64 of little-endian float32 values). */
export const MAX_MODEL_PARAMETERS = 65_536;
/** The aggregation rules a coordinator may use. */
export const AggregatorName = z.enum(["fedavg", "median", "trimmed-mean", "multi-krum"]);
/** An aggregator name. */
export type AggregatorName = z.infer<typeof AggregatorName>;

const Float32Vector = z
  .string()
  .max(Math.ceil((MAX_MODEL_PARAMETERS * 4) / 3) + 4)
  .regex(/^[A-Za-z0-9+/]*={0,2}$/, "must be base64")
  .describe("Little-endian float32 values, base64.");

/** Layer widths of a model: inputs, hidden layers, output classes. */
export const ModelShape = z.object({
  inputs: z.number().int().min(1).max(256),
  hidden: z.array(z.number().int().min(1).max(512)).max(4),
  outputs: z.number().int().min(2).max(16),
});
/** A model shape. */
export type ModelShape = z.infer<typeof ModelShape>;

/** `x0.swarm.round.<model>`: the coordinator opens a round on a model version; agents answer before the deadline. */
export const SwarmRound = z
  .object({
    v: z.literal(1),
    model: ModelName,
    round_id: z.uuid().describe("This round; an update names it, so an update of another round is refused."),
    round: z.number().int().positive().describe("Round number, counted per model (the base version + attempts)."),
    base_version: z.number().int().nonnegative().describe("The adopted model version agents train from (x0_models `<model>.v<version>`)."),
    coordinator: NodeId.describe("The swarm instance holding the coordinator lease."),
    opened_at: EpochMillis,
    deadline_at: EpochMillis.describe("Updates arriving later are left out (stragglers)."),
    epochs: z.number().int().min(1).max(100),
    learning_rate: z.number().positive().max(10),
    batch_size: z.number().int().min(1).max(65_536),
    max_update_norm: z.number().positive().describe("Updates with a larger L2 norm are refused."),
    sample_rate: z
      .number()
      .gt(0)
      .max(1)
      .optional()
      .describe("With differential privacy: each agent takes part with this probability, drawn on its own (absent: every agent)."),
    signature: MessageSignature.describe("ML-DSA-65 by the coordinator's swarm identity (domain swarm-round)."),
  })
  .describe("A federated round opened by the swarm coordinator.");
/** A round announcement. */
export type SwarmRound = z.infer<typeof SwarmRound>;

/** `x0.swarm.update.<node>`: one agent's change to the round's base parameters, trained on its own links only. */
export const SwarmUpdate = z
  .object({
    v: z.literal(1),
    model: ModelName,
    round_id: z.uuid(),
    round: z.number().int().positive(),
    base_version: z.number().int().nonnegative(),
    node: NodeId.describe("The agent's node; the signing key must be that node's swarm identity (swarm-<node>)."),
    samples: z.number().int().positive().describe("Local training samples (FedAvg's weight)."),
    delta: Float32Vector.describe("New parameters minus the base parameters, little-endian float32, base64."),
    train_loss: z.number().nonnegative().optional().describe("Mean local loss after training (diagnostic only)."),
    signature: MessageSignature.describe("ML-DSA-65 by the agent's identity (domain swarm-update)."),
  })
  .describe("A signed federated update.");
/** A swarm update. */
export type SwarmUpdate = z.infer<typeof SwarmUpdate>;

/** How a model was scored on the coordinator's held-out validation set. */
export const ModelValidation = z.object({
  samples: z.number().int().nonnegative(),
  macro_f1: z.number().min(0).max(1),
  accuracy: z.number().min(0).max(1),
  f1: z.record(z.string().max(32), z.number().min(0).max(1)).describe("F1 per class."),
});
/** A validation score. */
export type ModelValidation = z.infer<typeof ModelValidation>;

/** The differential privacy of a model version: its mechanism and the budget spent up to and including it. */
export const ModelPrivacy = z.object({
  noise_multiplier: z.number().positive().describe("σ: Gaussian noise of σ · clip_norm on the sum of the clipped updates."),
  clip_norm: z.number().positive().describe("Each update is scaled down to this L2 norm before the sum."),
  sample_rate: z.number().gt(0).max(1).describe("The probability each agent took part in a round (Poisson sampling)."),
  expected_participants: z.number().positive().describe("W: the fixed denominator (fedavg) or the fixed slots (trimmed mean, median)."),
  adjacency: z
    .enum(["add-remove", "replace-one"])
    .describe("The neighbouring datasets the guarantee is about: a node added or removed (fedavg), or its data replaced (robust rules)."),
  rounds: z.number().int().nonnegative().describe("DP rounds released so far for this model, this one included."),
  epsilon: z.number().nonnegative().describe("ε spent by those rounds at delta (Rényi-DP accountant, improved conversion)."),
  delta: z.number().gt(0).lt(1),
});
/** A model version's privacy. */
export type ModelPrivacy = z.infer<typeof ModelPrivacy>;

/** `<model>.v<version>` and `<model>.current` in x0_models: a signed model artefact. */
export const ModelVersion = z
  .object({
    v: z.literal(1),
    model: ModelName,
    version: z.number().int().nonnegative(),
    parent: z.number().int().nonnegative().nullable().describe("The version it was trained from (null for the initial model)."),
    round_id: z.uuid().nullable(),
    shape: ModelShape,
    classes: z.array(z.string().max(32)).min(2).max(16),
    features: z.array(z.string().max(32)).max(256).describe("Feature names, in input order."),
    window: z.object({
      window: z.number().int().min(1).max(1000),
      baseline_alpha: z.number().positive().max(1),
      hello_interval_ms: z.number().int().positive(),
    }),
    params: Float32Vector,
    aggregator: AggregatorName.nullable(),
    participants: z.array(NodeId).max(4096).describe("Agents whose updates were accepted."),
    used: z.array(NodeId).max(4096).describe("Agents the aggregator kept (Multi-Krum leaves some out)."),
    refused: z.number().int().nonnegative().describe("Updates refused in the round."),
    validation: ModelValidation,
    current_macro_f1: z.number().min(0).max(1).nullable().describe("The adopted model's score on the same set when this was judged."),
    privacy: ModelPrivacy.optional().describe("Present when the version came from a differentially private round."),
    status: z.enum(["adopted", "rejected"]),
    reason: z.string().max(512).optional(),
    coordinator: NodeId,
    created_at: EpochMillis,
    signature: MessageSignature.describe("ML-DSA-65 by the coordinator's swarm identity (domain swarm-model)."),
  })
  .describe("A model version the swarm coordinator produced, adopted or rejected by its adoption guard.");
/** A model version. */
export type ModelVersion = z.infer<typeof ModelVersion>;

/** x0_models key of one version of `model`. */
export function modelVersionKey(model: string, version: number): string {
  return `${ModelName.parse(model)}.v${version}`;
}

/** x0_models key of the adopted version of `model` (replaced by compare-and-set). */
export function currentModelKey(model: string): string {
  return `${ModelName.parse(model)}.current`;
}

/** The swarm identity (keyring service name) of a node's agent: a node signs only its own updates. */
export function swarmServiceOf(node: string): string {
  return `swarm-${NodeId.parse(node)}`;
}

/** Float32 values as base64 (little-endian). */
export function encodeFloat32(values: Float32Array): string {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i] as number, true);
  return Buffer.from(bytes).toString("base64");
}

/** Decodes base64 little-endian float32 values; undefined when the byte count is not a multiple of 4. */
export function decodeFloat32(text: string): Float32Array | undefined {
  const bytes = Buffer.from(text, "base64");
  if (bytes.length % 4 !== 0) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const values = new Float32Array(bytes.length / 4);
  for (let i = 0; i < values.length; i++) values[i] = view.getFloat32(i * 4, true);
  return values;
}

/** A site: nodes configured as one site fine-tune a low-rank adapter of the model on their own links. */
export const SiteName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, "site name must be 1-32 of [a-z0-9-]");

/** What defines an adapter besides its trained B: rank, scale alpha, the seed of the frozen A (FFA-LoRA). */
export const AdapterSpec = z.object({
  rank: z.number().int().min(1).max(64),
  alpha: z.number().positive().max(1024).describe("The layer change is (alpha / rank)·B·A."),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 32 - 1)
    .describe("Seed of the frozen A matrices every site member draws the same."),
});
/** An adapter spec. */
export type AdapterSpec = z.infer<typeof AdapterSpec>;

/** `x0.swarm.adapter.round.<site>`: a site's coordinator opens an adapter round; only B travels. */
export const AdapterRound = z
  .object({
    v: z.literal(1),
    model: ModelName,
    site: SiteName,
    round_id: z.uuid(),
    round: z.number().int().positive(),
    base_version: z.number().int().nonnegative().describe("The adopted model version (frozen base) the adapter adapts."),
    adapter_version: z
      .number()
      .int()
      .nonnegative()
      .nullable()
      .describe("The site's adapter version whose B the agents start from (null: B = 0, the base unchanged)."),
    adapter: AdapterSpec,
    coordinator: NodeId.describe("The swarm instance holding the site's lease leader.swarm-site.<site>."),
    opened_at: EpochMillis,
    deadline_at: EpochMillis,
    epochs: z.number().int().min(1).max(100),
    learning_rate: z.number().positive().max(10),
    batch_size: z.number().int().min(1).max(65_536),
    max_update_norm: z.number().positive(),
    signature: MessageSignature.describe("ML-DSA-65 by the site coordinator's swarm identity (domain swarm-adapter-round)."),
  })
  .describe("An adapter round of one site, opened by that site's coordinator.");
/** An adapter round announcement. */
export type AdapterRound = z.infer<typeof AdapterRound>;

/** `x0.swarm.adapter.update.<node>`: a site member's change to the adapter's B, trained on its own links. */
export const AdapterUpdate = z
  .object({
    v: z.literal(1),
    model: ModelName,
    site: SiteName,
    round_id: z.uuid(),
    round: z.number().int().positive(),
    base_version: z.number().int().nonnegative(),
    adapter_version: z.number().int().nonnegative().nullable(),
    node: NodeId.describe("The member's node; the signing key must be its swarm identity (swarm-<node>)."),
    samples: z.number().int().positive(),
    delta: Float32Vector.describe("New B minus the round's starting B, little-endian float32, base64."),
    train_loss: z.number().nonnegative().optional(),
    signature: MessageSignature.describe("ML-DSA-65 by the member's identity (domain swarm-adapter-update)."),
  })
  .describe("A signed adapter update of a site member.");
/** An adapter update. */
export type AdapterUpdate = z.infer<typeof AdapterUpdate>;

/** `<model>.site.<site>.v<version>` and `.current` in x0_models: a signed site adapter. */
export const AdapterVersion = z
  .object({
    v: z.literal(1),
    model: ModelName,
    site: SiteName,
    version: z.number().int().nonnegative(),
    parent: z.number().int().nonnegative().nullable().describe("The adapter version the round started from (null: B = 0)."),
    base_version: z.number().int().nonnegative().describe("The model version it adapts; the analyzer applies it only on that version."),
    round_id: z.uuid(),
    adapter: AdapterSpec,
    params: Float32Vector.describe("B of every layer (out × rank each, row-major, concatenated), little-endian float32, base64."),
    aggregator: AggregatorName,
    participants: z.array(NodeId).max(4096),
    used: z.array(NodeId).max(4096),
    refused: z.number().int().nonnegative(),
    validation: ModelValidation.describe("Base + this adapter on the site's held-out set."),
    base_macro_f1: z.number().min(0).max(1).describe("The base alone on the same set."),
    current_macro_f1: z.number().min(0).max(1).describe("What the site ran when this was judged (base + adopted adapter, or the base alone)."),
    status: z.enum(["adopted", "rejected"]),
    reason: z.string().max(512).optional(),
    coordinator: NodeId,
    created_at: EpochMillis,
    signature: MessageSignature.describe("ML-DSA-65 by the site coordinator's swarm identity (domain swarm-adapter)."),
  })
  .describe("A site adapter version, adopted or rejected by the site's held-out adoption guard.");
/** An adapter version. */
export type AdapterVersion = z.infer<typeof AdapterVersion>;

/** x0_models key prefix of a site's adapter versions. */
export function adapterKeyPrefix(model: string, site: string): string {
  return `${ModelName.parse(model)}.site.${SiteName.parse(site)}`;
}

/** The lease service of a site's adapter coordinator (x0_leases `leader.swarm-site.<site>`). */
export function siteLeaseService(site: string): string {
  return `swarm-site.${SiteName.parse(site)}`;
}
