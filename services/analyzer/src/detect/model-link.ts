// The swarm's link-health model as one more detector of a probe pair: its feature window over the pair's samples, the
// class probabilities of each sample, and a verdict with the same hysteresis as the hand-set detectors.
import type { Evidence } from "@x0/shared";
import { argmax, type LoadedModel, type PairObservation, PairWindow } from "@x0/swarm";
import type { LinkStatus } from "../incidents/correlator.ts";
import type { Detection } from "../incidents/incident.ts";

/** How the model may act: off (not loaded), shadow (scores recorded, evidence only), on (opens incidents too). */
export type ModelMode = "off" | "shadow" | "on";

/** Hysteresis of the model's verdict. */
export interface ModelLinkOptions {
  /** Consecutive samples of a faulty class before the verdict turns (down wins over degraded). */
  openAfter: number;
  /** Consecutive healthy samples before it clears. */
  resolveAfter: number;
}

const STATUS_OF_CLASS: Record<string, LinkStatus> = { healthy: "ok", degraded: "degraded", down: "down" };

/** The model's view of one probe pair. */
export class ModelLink {
  #window: PairWindow;
  #model: LoadedModel;
  #status: LinkStatus = "ok";
  #streak = 0;
  #streakClass = "healthy";
  #onsetAt = 0;
  /** After a down spell, while the monitor's loss window drains its lost hellos (the loss only falls). */
  #draining = false;
  #lastLoss = 0;
  #cleanSamples = 0;
  /** The latest probabilities, by class name. */
  scores: Record<string, number> = {};
  /** The class of the latest sample. */
  latestClass = "healthy";
  #ts = 0;

  constructor(
    readonly node: string,
    readonly peer: string,
    public interfaceName: string | undefined,
    model: LoadedModel,
    readonly options: ModelLinkOptions,
  ) {
    this.#model = model;
    this.#window = new PairWindow(model.window);
  }

  /** The model scoring this pair in evidence: `v7`, or `v7_lossy_a3` with site lossy's adapter v3 applied. */
  get modelName(): string {
    const adapter = this.#model.adapter;
    return adapter ? `v${this.version}_${adapter.site.replaceAll("-", "_")}_a${adapter.version}` : `v${this.version}`;
  }

  /** The model version scoring this pair. */
  get version(): number {
    return this.#model.record.version;
  }

  /** Switches to another model version; its window starts again when the window settings differ. */
  useModel(model: LoadedModel): void {
    const same = JSON.stringify(model.window) === JSON.stringify(this.#model.window);
    this.#model = model;
    if (!same) this.#window = new PairWindow(model.window);
  }

  /** Scores one observation (`pairDown`: the hand-set detectors hold the pair down); true when the verdict changed. */
  observe(observation: PairObservation, pairDown = false): boolean {
    const features = this.#window.observe(observation);
    const probabilities = this.#model.mlp.predict(features);
    const classes = this.#model.record.classes;
    this.scores = Object.fromEntries(classes.map((name, i) => [name, Math.round((probabilities[i] as number) * 1e4) / 1e4]));
    this.latestClass = classes[argmax(probabilities)] ?? "healthy";
    this.#ts = observation.ts;
    if (this.latestClass === this.#streakClass) this.#streak++;
    else {
      this.#streakClass = this.latestClass;
      this.#streak = 1;
    }
    // Right after a down spell the windows (the monitor's and the model's) still hold its lost hellos: "degraded" while
    // the loss only falls is the fault's echo, not a new fault. A loss that rises again ends the echo, and so does a
    // whole model window of samples without loss (README: the model as a detector).
    if (this.latestClass === "down" || pairDown) {
      this.#draining = true;
      this.#cleanSamples = 0;
    } else if (this.#draining) {
      if (observation.loss === 0) this.#cleanSamples++;
      if (observation.loss > this.#lastLoss || this.#cleanSamples > this.#window.options.window) this.#draining = false;
    }
    this.#lastLoss = observation.loss;
    const echo = this.latestClass === "degraded" && this.#draining;
    const wanted = echo ? "ok" : (STATUS_OF_CLASS[this.latestClass] ?? "ok");
    const before = this.#status;
    if (wanted === "ok") {
      if (this.#status !== "ok" && (echo || this.#streak >= this.options.resolveAfter)) this.#status = "ok";
    } else if (this.#streak >= this.options.openAfter && wanted !== this.#status) {
      if (this.#status === "ok") this.#onsetAt = observation.ts;
      this.#status = wanted;
    }
    return before !== this.#status;
  }

  /** The model's verdict on the pair. */
  status(): LinkStatus {
    return this.#status;
  }

  /** Its probabilities as evidence entries (down and degraded, against the 0.5 a verdict needs at least). */
  evidence(): Evidence[] {
    if (this.#ts === 0) return [];
    const ts = Math.max(0, Math.round(this.#ts));
    return (["down", "degraded"] as const)
      .filter((name) => this.scores[name] !== undefined)
      .map((name) => ({
        node: this.node,
        ...(this.interfaceName ? { interface: this.interfaceName } : {}),
        peer: this.peer,
        metric: `model_${this.modelName}_p_${name}`,
        observed: this.scores[name] as number,
        threshold: 0.5,
        ts,
      }));
  }

  /** The detection behind a faulty verdict. */
  detection(): Detection | undefined {
    if (this.#status === "ok") return undefined;
    const name = this.#status === "down" ? "down" : "degraded";
    const probability = this.scores[name] ?? 0;
    const ts = Math.max(0, Math.round(this.#ts));
    return {
      observer: this.node,
      ...(this.interfaceName ? { interface: this.interfaceName } : {}),
      onsetAt: this.#onsetAt,
      reading: { metric: `model_p_${name}`, observed: probability, mean: 0, stddev: 0, score: probability, ts },
      evidence: this.evidence(),
    };
  }
}
