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
});
