import { describe, expect, test } from "bun:test";
import { LabSpecError } from "../errors.ts";
import { parseProbeScriptArgs } from "./probe-options.ts";

describe("lab probe options", () => {
  test("lab probe options - the prober script checks its own options", () => {
    expect(parseProbeScriptArgs({ from: "n1", to: "n2", address: "10.255.0.2", port: "7471", "interval-ms": "10", "summary-ms": "1000" })).toEqual({
      from: "n1",
      to: "n2",
      address: "10.255.0.2",
      port: 7471,
      intervalMs: 10,
      summaryMs: 1000,
    });
    expect(() => parseProbeScriptArgs({ from: "n1", to: "n2" })).toThrow(LabSpecError);
    expect(() => parseProbeScriptArgs({ from: "n1", to: "n2", address: "host" })).toThrow(LabSpecError);
  });
});
