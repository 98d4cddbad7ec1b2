// The swarm's configuration variables (besides the common ones and the signing key's), validated at start.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { AggregatorName, ConfigError, commaListSchema, cryptoConfigShape, SiteName } from "@x0/shared";
import { z } from "zod";
import { seedOf } from "./agent/local-update.ts";
import type { AdapterSpec } from "./model/lora.ts";
import type { PrivacySettings } from "./privacy/dp.ts";

/** The recordings shipped with the service: lab traces of a grid:2x2 mesh (testdata/README.md). */
export const SHIPPED_TRAINING = join(import.meta.dir, "..", "testdata", "grid2x2-train");
export const SHIPPED_VALIDATION = join(import.meta.dir, "..", "testdata", "grid2x2-validation");
/** A lab site whose every link drops 10 % of frames as its normal (testdata/README.md): the adapters' data. */
export const SHIPPED_SITE_TRAINING = join(import.meta.dir, "..", "testdata", "site-lossy-train");
export const SHIPPED_SITE_VALIDATION = join(import.meta.dir, "..", "testdata", "site-lossy-validation");

const recordingDirs = commaListSchema.pipe(
  z.array(z.string().refine((dir) => existsSync(join(dir, "recording.json")), "no recording.json in this folder (x0 lab record --out DIR)")),
);
const millis = (min: number, max: number, fallback: number) => z.coerce.number().int().min(min).max(max).default(fallback);

/** The swarm's variables: where its data are, how rounds run, and the coordinator lease. */
export const swarmConfigShape = {
  ...cryptoConfigShape,
  X0_SWARM_DATA: z
    .string()
    .default(SHIPPED_TRAINING)
    .pipe(recordingDirs)
    .describe("Recording folders the agent trains on (its own node's links only); empty: the agent takes no part."),
  X0_SWARM_DATA_NODE: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/)
    .optional()
    .describe("The node of the recordings that is this agent's own [X0_NODE]."),
  X0_SWARM_VALIDATION: z
    .string()
    .default(SHIPPED_VALIDATION)
    .pipe(recordingDirs)
    .refine((dirs) => dirs.length > 0, "the adoption guard needs at least one recording")
    .describe("Recording folders of the coordinator's held-out validation set (every node), the adoption guard's yardstick."),
  X0_SWARM_ROUND_INTERVAL_MS: millis(100, 86_400_000, 60_000).describe("Time from the end of one round to the start of the next, in ms."),
  X0_SWARM_ROUND_DEADLINE_MS: millis(100, 3_600_000, 10_000).describe("How long a round takes updates, in ms; later ones are stragglers and left out."),
  X0_SWARM_EXPECTED_AGENTS: z.coerce
    .number()
    .int()
    .min(0)
    .max(4096)
    .default(0)
    .describe("Close a round as soon as this many updates were accepted; 0 always waits for the deadline."),
  X0_SWARM_MIN_PARTICIPANTS: z.coerce.number().int().min(1).max(4096).default(3).describe("A round with fewer accepted updates publishes no model."),
  X0_SWARM_AGGREGATOR: AggregatorName.default("median").describe("fedavg, median, trimmed-mean or multi-krum."),
  X0_SWARM_TRIM: z.coerce.number().min(0).lt(0.5).default(0.2).describe("trimmed-mean: fraction trimmed at each end."),
  X0_SWARM_BYZANTINE: z.coerce.number().int().min(0).max(1024).default(1).describe("multi-krum: Byzantine agents tolerated (f)."),
  X0_SWARM_MAX_UPDATE_NORM: z.coerce.number().positive().default(5).describe("Largest L2 norm of an update; larger ones are refused."),
  X0_SWARM_EPOCHS: z.coerce.number().int().min(1).max(100).default(3).describe("Local training per round: epochs over the agent's recordings."),
  X0_SWARM_LEARNING_RATE: z.coerce.number().positive().max(10).default(0.05).describe("Local training per round: the learning rate."),
  X0_SWARM_BATCH_SIZE: z.coerce.number().int().min(1).max(65_536).default(32).describe("Local training per round: samples in each batch."),
  X0_SWARM_HIDDEN: z
    .string()
    .default("16")
    .pipe(commaListSchema)
    .transform((widths) => widths.map(Number))
    .pipe(z.array(z.number().int().min(1).max(512)).max(4))
    .describe("The initial model: its hidden layer widths (comma list, at most 4 layers)."),
  X0_SWARM_SEED: z.coerce
    .number()
    .int()
    .min(0)
    .max(2 ** 32 - 1)
    .default(1)
    .describe("The initial model: the seed of its weights."),
  X0_SWARM_WINDOW: z.coerce.number().int().min(1).max(1000).default(5).describe("The initial model: its feature window, in samples."),
  X0_SWARM_BASELINE_ALPHA: z.coerce.number().positive().max(1).default(0.05).describe("The initial model: the weight of a new sample in its baselines."),
  X0_SWARM_DP_NOISE: z.coerce
    .number()
    .min(0)
    .max(100)
    .default(0)
    .describe(
      "Differential privacy of the rounds (DP-FedAvg): the noise multiplier σ; 0 turns it off. With it on, the aggregator must be fedavg (the clipped mean the accountant accounts for).",
    ),
  X0_SWARM_DP_CLIP: z.coerce.number().positive().default(1).describe("L2 norm each update is clipped to (at most X0_SWARM_MAX_UPDATE_NORM)."),
  X0_SWARM_DP_SAMPLE_RATE: z.coerce.number().gt(0).max(1).default(1).describe("The probability each agent takes part in a DP round."),
  X0_SWARM_DP_PARTICIPANTS: z.coerce
    .number()
    .min(0)
    .default(0)
    .describe("The expected participants per DP round (sample rate × agents): the noisy mean's fixed denominator."),
  X0_SWARM_DP_EPSILON: z.coerce.number().positive().default(8).describe("The ε budget at X0_SWARM_DP_DELTA: a round that would exceed it is not opened."),
  X0_SWARM_DP_DELTA: z.coerce.number().gt(0).lt(1).default(1e-5).describe("The δ of the DP guarantee (the ε budget is spent at it)."),
  X0_SWARM_SITE: SiteName.optional().describe(
    "The site this node belongs to: its members fine-tune a LoRA adapter of the adopted model on their own links, and the member holding leader.swarm-site.<site> coordinates them. Unset: no site rounds.",
  ),
  X0_SWARM_SITE_VALIDATION: z
    .string()
    .default("")
    .pipe(recordingDirs)
    .describe("Recording folders of the site's held-out set (every member's links): the adapter's adoption guard."),
  X0_SWARM_ADAPTER_RANK: z.coerce.number().int().min(1).max(64).default(4).describe("The site adapter's rank r (the change is alpha / r · B·A)."),
  X0_SWARM_ADAPTER_ALPHA: z.coerce.number().positive().max(1024).default(8).describe("The site adapter's scale alpha (the change is alpha / r · B·A)."),
  X0_SWARM_ADAPTER_SEED: z.coerce
    .number()
    .int()
    .min(0)
    .max(2 ** 32 - 1)
    .optional()
    .describe("The seed of the site adapter's frozen A (default: from the site name)."),
  X0_SWARM_SITE_AGGREGATOR: AggregatorName.default("fedavg").describe("How a site's updates are combined (members are one owner's nodes: fedavg by default)."),
  X0_SWARM_SITE_MIN_PARTICIPANTS: z.coerce
    .number()
    .int()
    .min(1)
    .max(4096)
    .default(1)
    .describe("An adapter round with fewer accepted updates publishes nothing."),
  X0_SWARM_SITE_EXPECTED_AGENTS: z.coerce
    .number()
    .int()
    .min(0)
    .max(4096)
    .default(0)
    .describe("Close an adapter round as soon as this many updates were accepted; 0 always waits for the deadline."),
  X0_SWARM_LEASE_MS: millis(300, 120_000, 5000).describe("How long the coordinator lease (leader.swarm) lasts without renewal, in ms."),
  X0_SWARM_LEASE_SKEW_MS: millis(0, 10_000, 250).describe(
    "The clock skew allowed between swarm instances, in ms: a standby takes over only this long after expiry.",
  ),
};

/** The parsed swarm config. */
export type SwarmConfig = z.infer<z.ZodObject<typeof swarmConfigShape>>;

/**
 * Checks across variables at start: DP needs a rule it can bound (fedavg; trimmed mean or median over a fixed set of
 * agents), a denominator and a clip within the refusal bound.
 */
export function checkSwarmConfig(config: SwarmConfig): void {
  if (config.X0_SWARM_SITE && config.X0_SWARM_SITE_VALIDATION.length === 0) {
    throw new ConfigError(
      "X0_SWARM_SITE_VALIDATION",
      `must name the held-out recordings of site ${config.X0_SWARM_SITE}: its adapters are adopted against them`,
    );
  }
  if (config.X0_SWARM_DP_NOISE === 0) return;
  const rule = config.X0_SWARM_AGGREGATOR;
  if (rule === "multi-krum") {
    throw new ConfigError(
      "X0_SWARM_AGGREGATOR",
      "must be fedavg, trimmed-mean or median while X0_SWARM_DP_NOISE is set: Multi-Krum's choice depends on every update, so no noise bounds one node's influence",
    );
  }
  if (config.X0_SWARM_DP_PARTICIPANTS <= 0) {
    throw new ConfigError("X0_SWARM_DP_PARTICIPANTS", "must be the expected participants per round (sample rate × agents) while X0_SWARM_DP_NOISE is set");
  }
  if (rule !== "fedavg") {
    if (config.X0_SWARM_DP_SAMPLE_RATE !== 1) {
      throw new ConfigError(
        "X0_SWARM_DP_SAMPLE_RATE",
        `must be 1 with the private ${rule}: its guarantee is for a fixed set of W agents (replace-one), without sampling`,
      );
    }
    if (!Number.isInteger(config.X0_SWARM_DP_PARTICIPANTS)) {
      throw new ConfigError("X0_SWARM_DP_PARTICIPANTS", `must be a whole number of agents with the private ${rule}`);
    }
  }
  if (config.X0_SWARM_DP_CLIP > config.X0_SWARM_MAX_UPDATE_NORM) {
    throw new ConfigError("X0_SWARM_DP_CLIP", `must not exceed X0_SWARM_MAX_UPDATE_NORM (${config.X0_SWARM_MAX_UPDATE_NORM})`);
  }
}

/** The DP settings of the config, or undefined when X0_SWARM_DP_NOISE is 0. */
export function privacyOf(config: SwarmConfig): PrivacySettings | undefined {
  if (config.X0_SWARM_DP_NOISE === 0) return undefined;
  return {
    noiseMultiplier: config.X0_SWARM_DP_NOISE,
    clipNorm: config.X0_SWARM_DP_CLIP,
    sampleRate: config.X0_SWARM_DP_SAMPLE_RATE,
    expectedParticipants: config.X0_SWARM_DP_PARTICIPANTS,
    epsilonBudget: config.X0_SWARM_DP_EPSILON,
    delta: config.X0_SWARM_DP_DELTA,
  };
}

/** The adapter spec of the config's site (the seed of A from the site name unless X0_SWARM_ADAPTER_SEED is set). */
export function adapterSpecOf(config: SwarmConfig, site: string): AdapterSpec {
  return { rank: config.X0_SWARM_ADAPTER_RANK, alpha: config.X0_SWARM_ADAPTER_ALPHA, seed: config.X0_SWARM_ADAPTER_SEED ?? seedOf(`adapter/${site}`) };
}
