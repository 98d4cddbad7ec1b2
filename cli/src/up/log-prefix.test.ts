import { describe, expect, test } from "bun:test";
import { compactLogLine, LineSplitter, Prefixer, shouldUseColour } from "./log-prefix.ts";

describe("log-prefix", () => {
  test("log-prefix - colour only on a terminal without NO_COLOR", () => {
    expect(shouldUseColour({}, true)).toBe(true);
    expect(shouldUseColour({}, false)).toBe(false);
    expect(shouldUseColour({}, undefined)).toBe(false);
    expect(shouldUseColour({ NO_COLOR: "1" }, true)).toBe(false);
    expect(shouldUseColour({ NO_COLOR: "" }, true)).toBe(true);
  });

  test("log-prefix - pads names to the longest one", () => {
    const prefixer = new Prefixer(["up", "analyzer"], false);
    expect(prefixer.line("up", "hello")).toBe("up       | hello");
    expect(prefixer.line("analyzer", "hi")).toBe("analyzer | hi");
  });

  test("log-prefix - colours each name differently and resets after it", () => {
    const prefixer = new Prefixer(["monitor", "planner"], true);
    expect(prefixer.prefix("monitor")).toBe("\u001b[36mmonitor |\u001b[0m");
    expect(prefixer.prefix("planner")).toBe("\u001b[35mplanner |\u001b[0m");
  });

  test("log-prefix - compacts service JSON lines to level, msg and the other fields", () => {
    const line = JSON.stringify({
      ts: "2025-01-01T00:00:00Z",
      level: "warn",
      service: "analyzer",
      node: "n1",
      msg: "nats disconnected",
      server: "127.0.0.1:4222",
      attempt: 2,
      note: "two words",
    });
    expect(compactLogLine(line)).toBe('warn  nats disconnected server=127.0.0.1:4222 attempt=2 note="two words"');
    expect(compactLogLine(line, true)).toStartWith("\u001b[33mwarn \u001b[0m nats disconnected");
  });

  test("log-prefix - leaves lines that are not JSON log objects as they are", () => {
    for (const line of ["[12] [INF] Server is ready", "{broken", "[1,2]", '{"no":"msg"}', ""]) expect(compactLogLine(line)).toBe(line);
  });

  test("log-prefix - splits chunks into whole lines and keeps the unterminated rest", () => {
    const splitter = new LineSplitter();
    expect(splitter.push("one\ntw")).toEqual(["one"]);
    expect(splitter.push("o\r\nthree\n\nfo")).toEqual(["two", "three", ""]);
    expect(splitter.flush()).toEqual(["fo"]);
    expect(splitter.flush()).toEqual([]);
  });
});
