import { describe, expect, test } from "bun:test";
import { LabSpecError } from "@x0/lab";
import { UsageError } from "../errors.ts";
import { parseUpArgs, resolveLab } from "./args.ts";

describe("up args", () => {
  test("up args - no arguments start NATS and every service", () => {
    expect(parseUpArgs([])).toEqual({
      startNats: true,
      cluster: false,
      only: undefined,
      lab: undefined,
      noLab: false,
      noConsole: false,
      labPrefix: "x0",
      help: false,
    });
  });

  test("up args - --no-nats and --only lists (comma-separated, repeatable, deduplicated)", () => {
    expect(parseUpArgs(["--no-nats", "--only", "monitor, analyzer", "--only=planner,monitor"])).toEqual({
      startNats: false,
      cluster: false,
      only: ["monitor", "analyzer", "planner"],
      lab: undefined,
      noLab: false,
      noConsole: false,
      labPrefix: "x0",
      help: false,
    });
  });

  test("up args - --cluster asks for the 3-server NATS cluster, which --no-nats contradicts", () => {
    expect(parseUpArgs(["--cluster"]).cluster).toBe(true);
    expect(() => parseUpArgs(["--cluster", "--no-nats"])).toThrow(/give one of them/);
  });

  test("up args - --executors picks node executors or the site executor on a lab; anything else is refused", () => {
    expect(parseUpArgs([]).executors).toBeUndefined();
    expect(parseUpArgs(["--executors", "site"]).executors).toBe("site");
    expect(parseUpArgs(["--executors=node"]).executors).toBe("node");
    expect(() => parseUpArgs(["--executors", "all"])).toThrow(/node or site/);
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

  test("up args - --lab takes a topology; a bad one, a bad prefix or --lab with --no-lab are usage errors", () => {
    expect(parseUpArgs(["--lab", "ring:4", "--lab-prefix", "lab2"])).toMatchObject({
      lab: { spec: "ring:4", nodes: ["n1", "n2", "n3", "n4"] },
      labPrefix: "lab2",
    });
    expect(() => parseUpArgs(["--lab", "ring"])).toThrow(LabSpecError);
    expect(() => parseUpArgs(["--lab"])).toThrow(UsageError);
    expect(() => parseUpArgs(["--lab", "line:3", "--no-lab"])).toThrow(/not both/);
    expect(() => parseUpArgs(["--lab-prefix", "X-0"])).toThrow(LabSpecError);
  });

  test("up args - the lab: --lab, else none with --no-lab or X0_LAB=off, else X0_LAB, else grid:3x3 as root only", () => {
    const none = { lab: undefined, noLab: false };
    expect(resolveLab(parseUpArgs(["--lab", "line:2"]), {}, false)?.spec).toBe("line:2");
    expect(resolveLab({ ...none, noLab: true }, { X0_LAB: "ring:3" }, true)).toBeUndefined();
    expect(resolveLab(none, { X0_LAB: "off" }, true)).toBeUndefined();
    expect(resolveLab(none, { X0_LAB: "ring:3" }, true)?.spec).toBe("ring:3");
    expect(resolveLab(none, {}, true)?.spec).toBe("grid:3x3");
    expect(resolveLab(none, {}, false)).toBeUndefined();
  });
});
