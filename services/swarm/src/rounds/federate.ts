// Federated training in one process: every agent trains on its own samples from the round's model, its change goes
// through a Round like one sent over NATS, and the aggregate is the next model. The benchmark and the tests run the
// rules on the real model this way; attackers replace their change with a hostile one.
import { classWeightsOf } from "../agent/local-update.ts";
import { l2Norm } from "../aggregate/update-check.ts";
import { Mlp, type MlpShape, type Sample, seededRandom, train } from "../model/mlp.ts";
import { Round, type RoundSettings } from "./round.ts";

/** What a hostile agent sends instead of its change: −s·Δ, s·Δ, or noise of s times Δ's norm. */
export type Attack = "sign-flip" | "scale" | "random";

/** Settings of a federated run. */
export interface FederateOptions {
  shape: MlpShape;
  rounds: number;
  /** Local training; `ownClassWeights`: each agent weighs classes by its own label counts, as the service's agents do. */
  local: { epochs: number; learningRate: number; batchSize: number; classWeights?: readonly number[]; ownClassWeights?: boolean };
  settings: RoundSettings;
  seed: number;
  /** The first `count` agents attack with `attack` at strength `strength` (10 unless given). */
  attackers?: { count: number; attack: Attack; strength?: number };
  /** Each agent takes part in a round with this probability (DP rounds' sampling, drawn from the seeded source). */
  sampleRate?: number;
}

/** One round's outcome. */
export interface RoundRecord {
  round: number;
  published: boolean;
  used: string[];
  refused: number;
}

function gaussian(random: () => number): number {
  // Box-Muller on the seeded source.
  return Math.sqrt(-2 * Math.log(Math.max(random(), 1e-12))) * Math.cos(2 * Math.PI * random());
}

function hostile(delta: Float32Array, attack: Attack, strength: number, random: () => number): Float32Array {
  if (attack === "sign-flip") return delta.map((value) => -strength * value);
  if (attack === "scale") return delta.map((value) => strength * value);
  const noise = Float32Array.from(delta, () => gaussian(random));
  const factor = (strength * l2Norm(delta)) / Math.max(l2Norm(noise), 1e-12);
  return noise.map((value) => value * factor);
}

/** Runs `options.rounds` rounds over the agents' sample sets (agent i is `agent-i`); returns the model and each round. */
export function federate(agents: readonly Sample[][], options: FederateOptions): { model: Mlp; history: RoundRecord[] } {
  const random = seededRandom(options.seed);
  let model = Mlp.init(options.shape, random);
  const history: RoundRecord[] = [];
  const attackers = options.attackers?.count ?? 0;
  for (let r = 1; r <= options.rounds; r++) {
    const round = new Round(r, r - 1, model.params, 0, options.settings);
    agents.forEach((samples, i) => {
      if (options.sampleRate !== undefined && random() >= options.sampleRate) return;
      const local = model.clone();
      const classWeights = options.local.ownClassWeights ? classWeightsOf(samples, options.shape.outputs) : options.local.classWeights;
      train(local, samples, { ...options.local, classWeights, random });
      let delta: Float32Array = local.params.map((value, p) => value - (model.params[p] as number));
      if (i < attackers && options.attackers) delta = hostile(delta, options.attackers.attack, options.attackers.strength ?? 10, random);
      round.submit(`agent-${i}`, delta, samples.length, 0);
    });
    const outcome = round.close();
    history.push({ round: r, published: outcome.published, used: outcome.published ? outcome.used : [], refused: outcome.refused });
    if (outcome.published) model = new Mlp(options.shape, outcome.params);
  }
  return { model, history };
}
