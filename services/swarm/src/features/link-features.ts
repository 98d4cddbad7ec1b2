// The link-health model's inputs: per probed peer, from the monitor's telemetry (hello results joined with the XDP
// neighbour of the same IPv4 and its batman-adv TQ), over a window of recent samples. Each feature and why: README.
import type { Telemetry } from "@x0/shared";

/** The features, in the model's input order. */
export const LINK_FEATURES = ["loss", "loss_max", "recent_loss", "silence", "misses", "rtt_ratio", "jitter", "rx_change", "tq", "tq_known"] as const;
/** Inputs of the link-health model. */
export const FEATURE_COUNT = LINK_FEATURES.length;

/** What one telemetry sample says about one probed peer. */
export interface PairObservation {
  ts: number;
  loss: number;
  sent: number;
  received: number;
  rttMs: number | null;
  lastReplyTs: number | null;
  replyIntervalMeanMs: number | null;
  replyIntervalStddevMs: number | null;
  /** Frames per second received from the peer's address (XDP), when the node runs the data plane. */
  rxPacketsPerS?: number;
  /** batman-adv transmit quality towards the peer (0–255), on batman-adv meshes. */
  tq?: number;
}

/** The peer's host part of a probe's `host:port`. */
export function peerHost(peer: string): string {
  const colon = peer.lastIndexOf(":");
  return colon > 0 ? peer.slice(0, colon) : peer;
}

/** Every probed peer of one telemetry sample, by host, with its neighbour's rate and TQ where the sample has them. */
export function observationsOf(telemetry: Telemetry): Map<string, PairObservation> {
  const neighbours = new Map<string, { rx: number; tq?: number }>();
  for (const sample of telemetry.interfaces) {
    for (const neighbour of sample.neighbours ?? []) {
      if (neighbour.ipv4 === null) continue;
      const known = neighbours.get(neighbour.ipv4);
      neighbours.set(neighbour.ipv4, {
        rx: (known?.rx ?? 0) + neighbour.packets_per_s,
        ...((neighbour.tq ?? known?.tq) !== undefined ? { tq: neighbour.tq ?? known?.tq } : {}),
      });
    }
  }
  const observations = new Map<string, PairObservation>();
  for (const probe of telemetry.probes ?? []) {
    const host = peerHost(probe.peer);
    const neighbour = neighbours.get(host);
    observations.set(host, {
      ts: telemetry.ts,
      loss: probe.loss,
      sent: probe.sent,
      received: probe.received,
      rttMs: probe.rtt_ms,
      lastReplyTs: probe.last_reply_ts ?? null,
      replyIntervalMeanMs: probe.reply_interval_mean_ms ?? null,
      replyIntervalStddevMs: probe.reply_interval_stddev_ms ?? null,
      ...(neighbour ? { rxPacketsPerS: neighbour.rx } : {}),
      ...(neighbour?.tq !== undefined ? { tq: neighbour.tq } : {}),
    });
  }
  return observations;
}

/** How a window turns observations into features. */
export interface WindowOptions {
  /** Samples the loss maximum looks back over (k). */
  window: number;
  /** Weight of a new sample in the RTT and rate baselines (an exponentially weighted mean). */
  baselineAlpha: number;
  /** The monitor's hello interval: silence and misses are measured in it. */
  helloIntervalMs: number;
}

/** Default window: 5 samples, baselines over about 20 samples, 100 ms hellos (the monitor's default). */
export const DEFAULT_WINDOW: WindowOptions = { window: 5, baselineAlpha: 0.05, helloIntervalMs: 100 };

const clip = (value: number, bound: number) => Math.max(-bound, Math.min(bound, value));

/** One peer's recent history and its baselines; `observe` returns the features after each sample. */
export class PairWindow {
  readonly #losses: number[] = [];
  /** Hellos sent and answered between consecutive samples, over the window: loss of the last k samples only. */
  readonly #sentSteps: number[] = [];
  readonly #receivedSteps: number[] = [];
  #sent: number | undefined;
  #rttBaseline: number | undefined;
  #rxBaseline: number | undefined;
  #sentAtLastReply: number | undefined;
  #received: number | undefined;

  constructor(readonly options: WindowOptions = DEFAULT_WINDOW) {}

  /** Folds one observation in; the features as they stand after it. */
  observe(o: PairObservation): Float32Array {
    this.#losses.push(o.loss);
    if (this.#losses.length > this.options.window) this.#losses.shift();
    // The monitor's loss covers its whole probe window (seconds); this covers the last k samples, so a link that
    // recovered stops looking lossy long before the monitor's window forgets the fault.
    if (this.#sent !== undefined && this.#received !== undefined && o.sent >= this.#sent && o.received >= this.#received) {
      this.#sentSteps.push(o.sent - this.#sent);
      this.#receivedSteps.push(o.received - this.#received);
      if (this.#sentSteps.length > this.options.window) {
        this.#sentSteps.shift();
        this.#receivedSteps.shift();
      }
    }
    this.#sent = o.sent;
    const sentRecently = this.#sentSteps.reduce((sum, value) => sum + value, 0);
    const receivedRecently = this.#receivedSteps.reduce((sum, value) => sum + value, 0);
    const recentLoss = sentRecently > 0 ? Math.min(1, Math.max(0, 1 - receivedRecently / sentRecently)) : o.loss;
    // A reply arrived since the last sample when the received count grew: the misses count from there.
    if (this.#received === undefined || o.received > this.#received) this.#sentAtLastReply = o.sent;
    this.#received = o.received;
    const misses = Math.max(0, o.sent - (this.#sentAtLastReply ?? o.sent));
    const silenceMs = o.lastReplyTs === null ? Number.POSITIVE_INFINITY : Math.max(0, o.ts - o.lastReplyTs);
    // Ratios against the pair's own baseline: a long link is slow without being sick.
    const rttRatio = o.rttMs !== null && this.#rttBaseline !== undefined && this.#rttBaseline > 0 ? Math.log(Math.max(o.rttMs, 1e-3) / this.#rttBaseline) : 0;
    const rxChange = o.rxPacketsPerS !== undefined && this.#rxBaseline !== undefined ? Math.log((o.rxPacketsPerS + 1) / (this.#rxBaseline + 1)) : 0;
    const jitter =
      o.replyIntervalMeanMs !== null && o.replyIntervalStddevMs !== null && o.replyIntervalMeanMs > 0 ? o.replyIntervalStddevMs / o.replyIntervalMeanMs : 0;
    const features = Float32Array.from([
      o.loss,
      Math.max(...this.#losses),
      recentLoss,
      Number.isFinite(silenceMs) ? Math.tanh(silenceMs / (4 * this.options.helloIntervalMs)) : 1,
      Math.tanh(misses / 5),
      clip(rttRatio, 2) / 2,
      Math.tanh(jitter),
      clip(rxChange, 2) / 2,
      o.tq === undefined ? 0 : o.tq / 255,
      o.tq === undefined ? 0 : 1,
    ]);
    // Baselines learn only from samples that look healthy, so a fault does not become the new normal.
    const alpha = this.options.baselineAlpha;
    if (o.loss < 0.2) {
      if (o.rttMs !== null) this.#rttBaseline = this.#rttBaseline === undefined ? o.rttMs : (1 - alpha) * this.#rttBaseline + alpha * o.rttMs;
      if (o.rxPacketsPerS !== undefined)
        this.#rxBaseline = this.#rxBaseline === undefined ? o.rxPacketsPerS : (1 - alpha) * this.#rxBaseline + alpha * o.rxPacketsPerS;
    }
    return features;
  }
}
