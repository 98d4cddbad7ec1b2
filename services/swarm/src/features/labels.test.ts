import { describe, expect, test } from "bun:test";
import { GroundTruthFault, labelAt } from "./labels.ts";

const faults = [
  GroundTruthFault.parse({ kind: "loss", link: ["n1", "n2"], loss: 0.3, start: 1000, end: 2000 }),
  GroundTruthFault.parse({ kind: "cut", link: ["n2", "n1"], start: 1500, end: 1800 }),
  GroundTruthFault.parse({ kind: "node-down", node: "n3", start: 5000, end: 6000 }),
];
const options = { settleMs: 500 };

describe("labels", () => {
  test("labels - a pair is healthy, degraded under a loss fault, down under a cut or with a node down, either direction", () => {
    expect(labelAt("n1", "n2", 999, faults, options)).toBe(0);
    expect(labelAt("n1", "n2", 1000, faults, options)).toBe(1);
    expect(labelAt("n2", "n1", 1600, faults, options)).toBe(2);
    expect(labelAt("n1", "n2", 1900, faults, options)).toBe(1);
    expect(labelAt("n1", "n3", 5500, faults, options)).toBe(2);
    expect(labelAt("n3", "n4", 5500, faults, options)).toBe(2);
    expect(labelAt("n1", "n4", 5500, faults, options)).toBe(0);
  });

  test("labels - samples just after a fault ends get no label; after the settling time they are healthy again", () => {
    expect(labelAt("n1", "n2", 2000, faults, options)).toBeUndefined();
    expect(labelAt("n1", "n2", 2499, faults, options)).toBeUndefined();
    expect(labelAt("n1", "n2", 2500, faults, options)).toBe(0);
    expect(() => GroundTruthFault.parse({ kind: "loss", link: ["n1", "n2"], loss: 0, start: 0, end: 1 })).toThrow();
  });
});
