import { describe, expect, test } from "bun:test";
import { UsageError } from "../errors.ts";
import { normaliseServiceUrl, parseStatusArgs } from "./args.ts";

describe("status args", () => {
  test("status args - defaults to a table of the stack's services", () => {
    expect(parseStatusArgs([])).toMatchObject({ json: false, urls: [], nats: {} });
  });

  test("status args - --json, repeated --url, and where to ask NATS for discovery", () => {
    expect(parseStatusArgs(["--json", "--url", "http://10.0.0.2:9102/", "--url=https://h:1"])).toMatchObject({
      json: true,
      urls: ["http://10.0.0.2:9102", "https://h:1"],
    });
    expect(parseStatusArgs(["-s", "nats://h:4222", "--tlscert", "c", "--tlskey", "k", "--tlsca", "a"]).nats).toEqual({
      server: "nats://h:4222",
      nats: undefined,
      tlscert: "c",
      tlskey: "k",
      tlsca: "a",
    });
  });

  test("status args - unknown options, positionals and bad URLs are usage errors", () => {
    expect(() => parseStatusArgs(["--frob"])).toThrow(UsageError);
    expect(() => parseStatusArgs(["monitor"])).toThrow(UsageError);
    expect(() => parseStatusArgs(["--url"])).toThrow(UsageError);
    expect(() => normaliseServiceUrl("not a url")).toThrow(UsageError);
    expect(() => normaliseServiceUrl("nats://127.0.0.1:4222")).toThrow(/http/);
  });
});
