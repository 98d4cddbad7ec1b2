import { describe, expect, test } from "bun:test";
import { parseConsoleArgs } from "./args.ts";

describe("console args", () => {
  test("console args - defaults: 127.0.0.1:9180, no lab, the latest 20,000 events", () => {
    expect(parseConsoleArgs([])).toEqual({ help: false, port: 9180, host: "127.0.0.1", nats: undefined, lab: false, prefix: "x0", history: 20_000 });
    expect(parseConsoleArgs(["--port", "0", "--lab", "--prefix", "cl", "--history", "500"])).toMatchObject({ port: 0, lab: true, prefix: "cl", history: 500 });
  });

  test("console args - bad values are usage errors naming the option", () => {
    expect(() => parseConsoleArgs(["--port", "70000"])).toThrow('--port "70000" must be a whole number in 0…65535');
    expect(() => parseConsoleArgs(["--history", "-1"])).toThrow("--history");
    expect(() => parseConsoleArgs(["--host", "a b"])).toThrow("--host");
    expect(() => parseConsoleArgs(["--prefix", "Bad!"])).toThrow("lab prefix");
    expect(() => parseConsoleArgs(["--open"])).toThrow("Unknown option '--open'");
  });

  test("console args - NATS from -s/--server as everywhere; --nats is its old spelling, not both", () => {
    expect(parseConsoleArgs(["-s", "nats://a:4222"]).nats).toBe("nats://a:4222");
    expect(parseConsoleArgs(["--server", "nats://b:4222"]).nats).toBe("nats://b:4222");
    expect(parseConsoleArgs(["--nats", "nats://c:4222"]).nats).toBe("nats://c:4222");
    expect(() => parseConsoleArgs(["-s", "nats://a:4222", "--nats", "nats://c:4222"])).toThrow("give --server once");
  });
});
