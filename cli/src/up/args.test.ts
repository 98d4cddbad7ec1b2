import { describe, expect, test } from "bun:test";
import { LabUnavailableError, UsageError } from "../errors.ts";
import { parseUpArgs } from "./args.ts";

describe("up args", () => {
  test("up args - no arguments start NATS and every service", () => {
    expect(parseUpArgs([])).toEqual({ startNats: true, only: undefined, help: false });
  });

  test("up args - --no-nats and --only lists (comma-separated, repeatable, deduplicated)", () => {
    expect(parseUpArgs(["--no-nats", "--only", "monitor, analyzer", "--only=planner,monitor"])).toEqual({
      startNats: false,
      only: ["monitor", "analyzer", "planner"],
      help: false,
    });
  });

  test("up args - -h and --help ask for help", () => {
    expect(parseUpArgs(["-h"]).help).toBe(true);
    expect(parseUpArgs(["--help"]).help).toBe(true);
  });

  test("up args - unknown options, positionals and an empty --only are usage errors", () => {
    expect(() => parseUpArgs(["--frob"])).toThrow(UsageError);
    expect(() => parseUpArgs(["monitor"])).toThrow(UsageError);
    expect(() => parseUpArgs(["--only", " , "])).toThrow(UsageError);
    expect(() => parseUpArgs(["--only"])).toThrow(UsageError);
  });

  test("up args - --lab, with or without a topology, says the lab is not in this version", () => {
    for (const argv of [["--lab", "ring"], ["--lab=ring"], ["--lab"], ["--no-nats", "--lab", "x"]]) {
      expect(() => parseUpArgs(argv)).toThrow(LabUnavailableError);
    }
    expect(() => parseUpArgs(["--lab", "ring"])).toThrow(/self-healing lab/);
  });
});
