import { describe, expect, test } from "bun:test";
import { evaluate } from "../model/evaluate.ts";
import { type Sample, seededRandom } from "../model/mlp.ts";
import { type FederateOptions, federate } from "./federate.ts";

/**
 * Three classes around three centres in four dimensions, each agent with its own class mix (non-IID, as nodes whose
 * links fail differently): agent i has mostly class i mod 3.
 */
function agentData(agents: number, perAgent: number, seed: number): Sample[][] {
  const random = seededRandom(seed);
  const centres = [
    [0, 0, 0, 0],
    [1.5, 0.5, 0, 0],
    [0, 1.5, 1.5, 0],
  ];
  return Array.from({ length: agents }, (_, agent) =>
    Array.from({ length: perAgent }, (_, i) => {
      const y = i % 4 === 0 ? (i >> 2) % 3 : agent % 3;
      return { x: Float32Array.from(centres[y] as number[], (c) => c + (random() - 0.5) * 0.8), y };
    }),
  );
}

const base: FederateOptions = {
  shape: { inputs: 4, hidden: [8], outputs: 3 },
  rounds: 15,
  local: { epochs: 2, learningRate: 0.2, batchSize: 16 },
  settings: { aggregator: "fedavg", minParticipants: 5, deadlineMs: 1000, maxUpdateNorm: 1e6, trim: 0.3, byzantine: 3 },
  seed: 1,
};

describe("federate", () => {
  test("federate - ten agents with skewed class mixes learn one model; with three sign-flipping agents FedAvg fails and the robust rules hold", () => {
    const agents = agentData(10, 120, 2);
    const heldOut = agentData(3, 200, 3).flat();
    const f1 = (options: Partial<FederateOptions>) => evaluate(federate(agents, { ...base, ...options }).model, heldOut).macroF1;
    const clean = f1({});
    expect(clean).toBeGreaterThan(0.9);
    const attackers = { count: 3, attack: "sign-flip" as const };
    expect(f1({ attackers })).toBeLessThan(clean - 0.3);
    for (const aggregator of ["median", "trimmed-mean", "multi-krum"] as const) {
      expect(f1({ attackers, settings: { ...base.settings, aggregator } }), aggregator).toBeGreaterThan(clean - 0.05);
    }
  });

  test("federate - Multi-Krum leaves the scaled and the random attackers out of every round", () => {
    const agents = agentData(10, 120, 4);
    for (const attack of ["scale", "random"] as const) {
      const { history } = federate(agents, { ...base, rounds: 5, attackers: { count: 3, attack }, settings: { ...base.settings, aggregator: "multi-krum" } });
      for (const round of history)
        expect(
          round.used.filter((agent) => ["agent-0", "agent-1", "agent-2"].includes(agent)),
          attack,
        ).toEqual([]);
    }
  });

  test("federate - the norm bound refuses the scaled updates before any rule sees them", () => {
    const agents = agentData(10, 120, 5);
    const { history } = federate(agents, {
      ...base,
      rounds: 3,
      attackers: { count: 3, attack: "scale", strength: 1000 },
      settings: { ...base.settings, maxUpdateNorm: 20 },
    });
    expect(history.map((round) => round.refused)).toEqual([3, 3, 3]);
    expect(history.every((round) => round.used.length === 7)).toBe(true);
  });
});
