// One federated round as the coordinator keeps it: updates are accepted until the deadline, once per agent, if they
// pass the checks; closing aggregates them into the next parameters, or publishes nothing with too few participants.
import { type AggregatorName, type AggregatorSettings, aggregate } from "../aggregate/aggregators.ts";
import { updateProblem } from "../aggregate/update-check.ts";
import { type PrivacySettings, type PrivateRule, privateAggregate } from "../privacy/dp.ts";

/** How rounds are run. */
export interface RoundSettings extends AggregatorSettings {
  aggregator: AggregatorName;
  /** Fewer accepted updates than this publish no model. */
  minParticipants: number;
  /** Updates arriving later than this after the round opened are left out (stragglers). */
  deadlineMs: number;
  /** The largest norm an update (the change to the parameters) may have. */
  maxUpdateNorm: number;
  /** Differential privacy: the updates are clipped and their mean noised (DP-FedAvg) instead of the rule. */
  privacy?: PrivacySettings;
  /** The noise source of the private mean (cryptographic by default). */
  gaussian?: () => number;
}

/** Whether an update was taken, or why not (the reason goes to the dead-letter subject). */
export type Submission = { accepted: true } | { accepted: false; reason: string };

/** What closing the round gave: the next parameters and who contributed, or why there are none. */
export type RoundOutcome =
  | { published: true; params: Float32Array; participants: string[]; used: string[]; refused: number }
  | { published: false; reason: string; participants: string[]; refused: number };

/** A round of one model version: updates are changes to `base`, the global parameters announced with the round. */
export class Round {
  readonly #updates = new Map<string, { delta: Float32Array; samples: number }>();
  #refused = 0;
  #closed = false;

  constructor(
    readonly id: number,
    readonly modelVersion: number,
    readonly base: Float32Array,
    readonly openedAt: number,
    readonly settings: RoundSettings,
  ) {}

  /** Agents whose updates were accepted so far. */
  get participants(): string[] {
    return [...this.#updates.keys()];
  }

  /** Offers an agent's update (the change it made to `base`) trained on `samples` samples, at time `at`. */
  submit(agent: string, delta: Float32Array, samples: number, at: number): Submission {
    const refuse = (reason: string): Submission => {
      this.#refused++;
      return { accepted: false, reason };
    };
    if (this.#closed) return refuse(`round ${this.id} is closed`);
    if (at > this.openedAt + this.settings.deadlineMs) return refuse(`after round ${this.id}'s deadline (${at - this.openedAt} ms after it opened)`);
    if (this.#updates.has(agent)) return refuse(`${agent} already submitted to round ${this.id}`);
    if (!(Number.isInteger(samples) && samples > 0)) return refuse(`sample count ${samples} is not a positive integer`);
    const problem = updateProblem(delta, this.base.length, this.settings.maxUpdateNorm);
    if (problem !== undefined) return refuse(problem);
    // A private robust rule has exactly W slots: the denominator of its guarantee.
    const privacy = this.settings.privacy;
    if (privacy && this.settings.aggregator !== "fedavg" && this.#updates.size >= privacy.expectedParticipants) {
      return refuse(`round ${this.id} is full: its private ${this.settings.aggregator} takes ${privacy.expectedParticipants} updates`);
    }
    this.#updates.set(agent, { delta, samples });
    return { accepted: true };
  }

  /** Closes the round: no update is taken after this. */
  close(): RoundOutcome {
    this.#closed = true;
    const participants = this.participants;
    if (participants.length < this.settings.minParticipants) {
      return {
        published: false,
        reason: `${participants.length} of the ${this.settings.minParticipants} participants needed`,
        participants,
        refused: this.#refused,
      };
    }
    const entries = [...this.#updates.values()];
    if (this.settings.privacy) {
      const noisy = privateAggregate(
        entries.map((entry) => entry.delta),
        this.settings.privacy,
        this.settings.aggregator as PrivateRule,
        this.settings.trim,
        this.settings.gaussian,
      );
      const params = this.base.map((value, i) => value + (noisy[i] as number));
      return { published: true, params, participants, used: participants, refused: this.#refused };
    }
    let result: ReturnType<typeof aggregate>;
    try {
      result = aggregate(
        this.settings.aggregator,
        entries.map((entry) => entry.delta),
        entries.map((entry) => entry.samples),
        this.settings,
      );
    } catch (error) {
      return { published: false, reason: (error as Error).message, participants, refused: this.#refused };
    }
    const params = this.base.map((value, i) => value + (result.vector[i] as number));
    return { published: true, params, participants, used: result.used.map((i) => participants[i] as string), refused: this.#refused };
  }
}
