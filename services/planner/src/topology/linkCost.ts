// Link cost from measured probe loss and RTT: ETX-like, smoothed, and quantized with hysteresis so noise does not move routes.

/** How measurements become a routing cost (the policy's `link_cost` section). */
export interface LinkCostParams {
  /** EWMA weight of a new sample (0..1]. */
  alpha: number;
  /** RTT that doubles the cost before the cap: factor = 1 + rtt / rtt_scale_ms. */
  rttScaleMs: number;
  /** Upper bound of the RTT factor, so latency never outweighs loss. */
  rttFactorMax: number;
  /** Routing costs are multiples of this. */
  quantum: number;
  /** Relative change of the smoothed cost needed before the routing cost follows it. */
  hysteresis: number;
  /** Loss is clamped to this, so a dead-but-unreported link has a large finite cost, not a division by zero. */
  maxLoss: number;
}

/** Defaults that suit probes every 20 ms and telemetry every 100 ms (see services/planner/README.md). */
export const DEFAULT_LINK_COST: LinkCostParams = { alpha: 0.3, rttScaleMs: 100, rttFactorMax: 2, quantum: 0.25, hysteresis: 0.25, maxLoss: 0.95 };

/**
 * ETX from the two ends' probe loss. Each end's hello probe measures a round trip, not one direction, so
 * `lossAb` (a's probes) stands in for the a→b delivery and `lossBa` for b→a. With symmetric per-direction loss p,
 * both round trips lose 1-(1-p)², and this gives 1/(1-p)⁴, i.e. ETX²: it overstates loss, which only steepens the
 * penalty on lossy links (their order among themselves is kept).
 */
export function etx(lossAb: number, lossBa: number, maxLoss = DEFAULT_LINK_COST.maxLoss): number {
  const clamp = (loss: number) => Math.min(Math.max(loss, 0), maxLoss);
  return 1 / ((1 - clamp(lossAb)) * (1 - clamp(lossBa)));
}

/** The small latency factor the ETX is multiplied by: 1 at zero RTT, capped at `rttFactorMax`. */
export function rttFactor(rttMs: number | undefined, { rttScaleMs, rttFactorMax }: Pick<LinkCostParams, "rttScaleMs" | "rttFactorMax">): number {
  if (rttMs === undefined || !Number.isFinite(rttMs) || rttMs <= 0) return 1;
  return Math.min(1 + rttMs / rttScaleMs, rttFactorMax);
}

/** The routing cost after `smoothed`: unchanged inside the hysteresis band, else `smoothed` rounded to the quantum (never below 1). */
export function quantize(current: number, smoothed: number, { quantum, hysteresis }: Pick<LinkCostParams, "quantum" | "hysteresis">): number {
  const target = Math.max(1, Math.round(smoothed / quantum) * quantum);
  if (target === current) return current;
  // A clean link returns to the floor: the band keeps noise from moving routes, not a recovered link from its base cost
  // (rounding already gives the way back down its own band: below 1 + quantum/2).
  if (target === 1) return 1;
  if (Math.abs(smoothed - current) <= hysteresis * current) return current;
  return target;
}

/** The smoothed loss and RTT of one link and the routing cost derived from them. */
export class LinkMeasurement {
  /** EWMA of the round-trip loss seen by the `a` end's probes (stands for a→b). */
  lossAb: number | undefined;
  /** EWMA of the round-trip loss seen by the `b` end's probes (stands for b→a). */
  lossBa: number | undefined;
  /** EWMA of the RTT over both ends. */
  rttMs: number | undefined;
  /** The quantized cost routes are computed with. */
  routingCost = 1;
  /** Samples before this time (epoch ms) are ignored: they still describe an outage that is over. */
  ignoreUntil = 0;

  /** The state to come back to after an outage (the hellos lost in it say nothing of the link's quality). */
  snapshot(): Pick<LinkMeasurement, "lossAb" | "lossBa" | "rttMs" | "routingCost"> {
    return { lossAb: this.lossAb, lossBa: this.lossBa, rttMs: this.rttMs, routingCost: this.routingCost };
  }

  /** Returns to a snapshot and ignores samples for `graceMs` (the monitors' loss windows still hold the outage). */
  resume(snapshot: Pick<LinkMeasurement, "lossAb" | "lossBa" | "rttMs" | "routingCost">, now: number, graceMs: number): void {
    Object.assign(this, snapshot);
    this.ignoreUntil = now + graceMs;
  }

  /** Folds one probe sample of `end` in; returns true when the routing cost changed. */
  observe(end: "a" | "b", loss: number, rttMs: number | null, params: LinkCostParams, now = Date.now()): boolean {
    if (now < this.ignoreUntil) return false;
    const ewma = (previous: number | undefined, sample: number) => (previous === undefined ? sample : previous + params.alpha * (sample - previous));
    if (end === "a") this.lossAb = ewma(this.lossAb, loss);
    else this.lossBa = ewma(this.lossBa, loss);
    if (rttMs !== null) this.rttMs = ewma(this.rttMs, rttMs);
    const next = quantize(this.routingCost, this.smoothedCost(params), params);
    if (next === this.routingCost) return false;
    this.routingCost = next;
    return true;
  }

  /** The unquantized cost: ETX (one end's loss stands for both when the other end has not reported) times the RTT factor. */
  smoothedCost(params: LinkCostParams): number {
    const ab = this.lossAb ?? this.lossBa ?? 0;
    const ba = this.lossBa ?? this.lossAb ?? 0;
    return etx(ab, ba, params.maxLoss) * rttFactor(this.rttMs, params);
  }
}
