import { describe, expect, test } from "bun:test";
import { loadConfig } from "@x0/shared";
import { DEFAULT_ANALYZER_OPTIONS } from "./analyzer.ts";
import { analyzerConfigShape, analyzerOptionsOf } from "./config.ts";

describe("config", () => {
  test("config - with nothing set, every tuning option is the analyzer's default", () => {
    const options = analyzerOptionsOf(loadConfig(analyzerConfigShape, { env: {} }));
    expect(Object.keys(options)).toHaveLength(28);
    for (const [name, value] of Object.entries(options)) expect(value, name).toEqual(DEFAULT_ANALYZER_OPTIONS[name as keyof typeof options] as number);
  });

  test("config - a variable reaches its option, and a value out of range names the variable", () => {
    const options = analyzerOptionsOf(loadConfig(analyzerConfigShape, { env: { X0_ANALYZER_PHI_THRESHOLD: "5", X0_ANALYZER_BATMAN_TQ_FLOOR: "100" } }));
    expect(options).toMatchObject({ phiThreshold: 5, batmanTqFloor: 100 });
    expect(() => loadConfig(analyzerConfigShape, { env: { X0_ANALYZER_LOSS_THRESHOLD: "1.5" } })).toThrow(/X0_ANALYZER_LOSS_THRESHOLD/);
  });

  test("config - X0_ANALYZER_SITES maps nodes to swarm sites; an item that is not node=site names the variable", () => {
    expect(analyzerOptionsOf(loadConfig(analyzerConfigShape, { env: { X0_ANALYZER_SITES: "n1=lossy, n2=lossy,n7=hill-top" } })).sites).toEqual({
      n1: "lossy",
      n2: "lossy",
      n7: "hill-top",
    });
    expect(() => loadConfig(analyzerConfigShape, { env: { X0_ANALYZER_SITES: "n1=Lossy" } })).toThrow(/X0_ANALYZER_SITES.*"n1=Lossy" is not node=site/s);
    expect(() => loadConfig(analyzerConfigShape, { env: { X0_ANALYZER_SITES: "n1" } })).toThrow(/X0_ANALYZER_SITES/);
  });
});
