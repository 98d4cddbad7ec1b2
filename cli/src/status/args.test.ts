import { describe, expect, test } from "bun:test";
import { UsageError } from "../errors.ts";
import { normaliseServiceUrl, parseStatusArgs } from "./args.ts";

describe("status args", () => {
  test("status args - defaults to a table of the stack's services", () => {
    expect(parseStatusArgs([])).toEqual({ json: false, urls: [], help: false });
  });

  test("status args - --json, repeated --url and --help", () => {
    expect(parseStatusArgs(["--json", "--url", "http://10.0.0.2:9102/", "--url=https://h:1"])).toEqual({
      json: true,
      urls: ["http://10.0.0.2:9102", "https://h:1"],
      help: false,
    });
    expect(parseStatusArgs(["-h"]).help).toBe(true);
  });

  test("status args - unknown options, positionals and bad URLs are usage errors", () => {
    expect(() => parseStatusArgs(["--frob"])).toThrow(UsageError);
    expect(() => parseStatusArgs(["monitor"])).toThrow(UsageError);
    expect(() => parseStatusArgs(["--url"])).toThrow(UsageError);
    expect(() => normaliseServiceUrl("not a url")).toThrow(UsageError);
    expect(() => normaliseServiceUrl("nats://127.0.0.1:4222")).toThrow(/http/);
  });
});
