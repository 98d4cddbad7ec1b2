// The analyzer's configuration (environment or X0_CONFIG_FILE), validated at start; defaults and reasons are in the README.
import { commaListSchema, NodeId, SiteName } from "@x0/shared";
import { z } from "zod";
import { type AnalyzerOptions, DEFAULT_ANALYZER_OPTIONS as D } from "./analyzer.ts";

const positive = z.coerce.number().positive();
const count = z.coerce.number().int().min(1);
const ratio = z.coerce.number().gt(0).lt(1);

/** The analyzer's variables (besides the common ones). */
export const analyzerConfigShape = {
  X0_ANALYZER_PHI_THRESHOLD: positive.default(D.phiThreshold).describe("Phi above which a probe pair's replies have stopped (link_down)."),
  X0_ANALYZER_PHI_STDDEV_RATIO: z.coerce
    .number()
    .min(0)
    .default(D.phiStddevRatio)
    .describe("Floor of the reply-interval standard deviation as a fraction of its mean."),
  X0_ANALYZER_PHI_MIN_STDDEV_MS: positive.default(D.phiMinStddevMs).describe("Absolute floor of the reply-interval standard deviation, in ms."),
  X0_ANALYZER_TICK_MS: count.max(1000).default(25).describe("How often phi, silence, correlation windows and updates are evaluated between samples."),
  X0_ANALYZER_CORRELATION_WINDOW_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(D.correlationWindowMs)
    .describe("Link detections on the nodes of an incident opened this recently are held, in case the node is the fault."),
  X0_ANALYZER_LOSS_THRESHOLD: ratio.default(D.lossThreshold).describe("Round-trip hello loss above which a link is degraded."),
  X0_ANALYZER_LOSS_WINDOW_SAMPLES: count.default(D.lossWindowSamples).describe("Telemetry samples the loss is measured over."),
  X0_ANALYZER_DEGRADED_SAMPLES: count.default(D.degradedSamples).describe("Consecutive breaching samples (loss or RTT) that open link_degraded."),
  X0_ANALYZER_RTT_Z_THRESHOLD: positive.default(D.rttZThreshold).describe("Robust z-score of the RTT above which it breaches."),
  X0_ANALYZER_RTT_MIN_DELTA_MS: z.coerce.number().min(0).default(D.rttMinDeltaMs).describe("Minimum RTT rise above its median, in ms, for a breach."),
  X0_ANALYZER_Z_THRESHOLD: positive.default(D.zThreshold).describe("Robust z-score threshold of per-neighbour packet rates and retransmit rates."),
  X0_ANALYZER_SPIKE_MIN_PPS: z.coerce
    .number()
    .min(0)
    .default(D.spikeMinPps)
    .describe("A neighbour must send more than this many packets/s to be a traffic_spike."),
  X0_ANALYZER_SPIKE_SAMPLES: count.default(D.spikeSamples).describe("Consecutive breaching samples that open traffic_spike or retransmit_storm."),
  X0_ANALYZER_RETRANSMIT_MIN_PER_S: z.coerce
    .number()
    .min(0)
    .default(D.retransmitMinPerS)
    .describe("A node must retransmit more than this many segments/s to be a retransmit_storm."),
  X0_ANALYZER_WARMUP_SAMPLES: count.default(D.warmupSamples).describe("Samples a robust baseline needs before it can breach."),
  X0_ANALYZER_ARM_SAMPLES: count
    .default(D.armSamples)
    .describe("Consecutive samples with a fresh hello reply before a probe pair is judged (start-up and restarts lose hellos without a fault)."),
  X0_ANALYZER_BASELINE_WINDOW: count.max(10_000).default(D.baselineWindow).describe("Samples in each rolling baseline (median/MAD)."),
  X0_ANALYZER_RESOLVE_AFTER: count.default(D.resolveAfter).describe("Consecutive normal samples (fresh replies, for phi) that resolve an incident."),
  X0_ANALYZER_UPDATE_EVERY_MS: count.default(D.updateEveryMs).describe("Minimum time between two keep-alive `updated` states of one incident."),
  X0_ANALYZER_SILENCE_INTERVALS: count.default(D.silenceIntervals).describe("A node silent for this many of its own intervals is unreachable."),
  X0_ANALYZER_BATMAN_LAST_SEEN_MS: positive
    .default(D.batmanLastSeenMs)
    .describe("A batman-adv neighbour not heard from (its last-seen) for longer than this, in ms, is a dead link."),
  X0_ANALYZER_BATMAN_TQ_DROP: ratio.default(D.batmanTqDrop).describe("A one-hop TQ more than this fraction below its baseline median breaches."),
  X0_ANALYZER_BATMAN_TQ_FLOOR: z.coerce
    .number()
    .int()
    .min(0)
    .max(255)
    .default(D.batmanTqFloor)
    .describe("A one-hop TQ under this value breaches too, on links whose baseline is above it."),
  X0_ANALYZER_BATMAN_TQ_SAMPLES: count.default(D.batmanTqSamples).describe("Consecutive breaching batman reads that open link_degraded."),
  X0_ANALYZER_BATMAN_BLIND_MS: positive
    .default(D.batmanBlindMs)
    .describe("A node's batman verdicts are withdrawn after this many ms without a new batman read (errored, missing or repeated)."),
  X0_ANALYZER_BASELINE_SAVE_MS: count.default(10_000).describe("How often baselines are saved to the x0_baselines bucket (by the leader)."),
  X0_ANALYZER_LEASE_MS: z.coerce
    .number()
    .int()
    .min(300)
    .max(120_000)
    .default(1000)
    .describe("How long the leader lease lasts without renewal (renewed every third of it), in ms."),
  X0_ANALYZER_LEASE_SKEW_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(10_000)
    .default(250)
    .describe("The assumed bound on clock differences between analyzer instances, in ms: a standby takes over only this long after expiry."),
  X0_ANALYZER_ADOPT_GRACE_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(600_000)
    .default(2000)
    .describe("After a takeover, how long an incident the previous leader published stays open for this instance's detectors to find it, in ms."),
  X0_ANALYZER_MODEL: z
    .enum(["off", "shadow", "on"])
    .default(D.modelMode)
    .describe(
      "The swarm's link-health model (x0_models): off; shadow (default: loaded if its signature verifies, every pair scored, scores exported and added to incidents' evidence); on (its verdicts open and hold incidents too).",
    ),
  X0_ANALYZER_MODEL_OPEN_AFTER: count
    .default(D.modelOpenAfter)
    .describe("Consecutive faulty model verdicts on a pair before the model's verdict turns (mode on)."),
  X0_ANALYZER_MODEL_RESOLVE_AFTER: count.default(D.modelResolveAfter).describe("Consecutive healthy model verdicts before it clears."),
  X0_ANALYZER_SITES: z
    .string()
    .default("")
    .pipe(commaListSchema)
    .transform((items, context) => {
      const sites: Record<string, string> = {};
      for (const item of items) {
        const [node = "", site = "", extra] = item.split("=");
        if (extra !== undefined || !NodeId.safeParse(node).success || !SiteName.safeParse(site).success) {
          context.addIssue({ code: "custom", message: `${JSON.stringify(item)} is not node=site (node: [A-Za-z0-9_-], site: [a-z0-9-])` });
          return z.NEVER;
        }
        sites[node] = site;
      }
      return sites;
    })
    .describe(
      "Which nodes belong to which swarm site, like `n1=lossy,n2=lossy`: a pair observed by a site's node is scored by the model plus the site's adopted adapter (when it adapts the loaded version).",
    ),
};

/** The analyzer's configuration as loaded. */
export type AnalyzerConfig = z.infer<z.ZodObject<typeof analyzerConfigShape>>;

/** The {@link Analyzer}'s tuning from the configuration (the rest of its options keep their defaults). */
export function analyzerOptionsOf(config: AnalyzerConfig): Partial<AnalyzerOptions> {
  return {
    phiThreshold: config.X0_ANALYZER_PHI_THRESHOLD,
    phiStddevRatio: config.X0_ANALYZER_PHI_STDDEV_RATIO,
    phiMinStddevMs: config.X0_ANALYZER_PHI_MIN_STDDEV_MS,
    correlationWindowMs: config.X0_ANALYZER_CORRELATION_WINDOW_MS,
    modelMode: config.X0_ANALYZER_MODEL,
    modelOpenAfter: config.X0_ANALYZER_MODEL_OPEN_AFTER,
    modelResolveAfter: config.X0_ANALYZER_MODEL_RESOLVE_AFTER,
    sites: config.X0_ANALYZER_SITES,
    lossThreshold: config.X0_ANALYZER_LOSS_THRESHOLD,
    lossWindowSamples: config.X0_ANALYZER_LOSS_WINDOW_SAMPLES,
    degradedSamples: config.X0_ANALYZER_DEGRADED_SAMPLES,
    rttZThreshold: config.X0_ANALYZER_RTT_Z_THRESHOLD,
    rttMinDeltaMs: config.X0_ANALYZER_RTT_MIN_DELTA_MS,
    zThreshold: config.X0_ANALYZER_Z_THRESHOLD,
    spikeMinPps: config.X0_ANALYZER_SPIKE_MIN_PPS,
    spikeSamples: config.X0_ANALYZER_SPIKE_SAMPLES,
    retransmitMinPerS: config.X0_ANALYZER_RETRANSMIT_MIN_PER_S,
    warmupSamples: config.X0_ANALYZER_WARMUP_SAMPLES,
    baselineWindow: config.X0_ANALYZER_BASELINE_WINDOW,
    armSamples: config.X0_ANALYZER_ARM_SAMPLES,
    resolveAfter: config.X0_ANALYZER_RESOLVE_AFTER,
    updateEveryMs: config.X0_ANALYZER_UPDATE_EVERY_MS,
    silenceIntervals: config.X0_ANALYZER_SILENCE_INTERVALS,
    batmanLastSeenMs: config.X0_ANALYZER_BATMAN_LAST_SEEN_MS,
    batmanTqDrop: config.X0_ANALYZER_BATMAN_TQ_DROP,
    batmanTqFloor: config.X0_ANALYZER_BATMAN_TQ_FLOOR,
    batmanTqSamples: config.X0_ANALYZER_BATMAN_TQ_SAMPLES,
    batmanBlindMs: config.X0_ANALYZER_BATMAN_BLIND_MS,
  };
}
