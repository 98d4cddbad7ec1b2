import { describe, expect, test } from "bun:test";
import { ReaperProtocolError } from "../errors.ts";
import { encodeReaperCommand, parseReaperCommand, type ReaperCommand, WatchList } from "./reaper-protocol.ts";

describe("reaper-protocol", () => {
  test("reaper-protocol - commands survive encoding and parsing", () => {
    const commands: ReaperCommand[] = [
      { kind: "watch", pid: 123, phase: "service" },
      { kind: "watch", pid: 124, phase: "nats" },
      { kind: "release", pid: 123 },
      { kind: "lab", prefix: "x0" },
      { kind: "unlab", prefix: "x0t42" },
    ];
    for (const command of commands) expect(parseReaperCommand(encodeReaperCommand(command))).toEqual(command);
  });

  test("reaper-protocol - rejects anything else", () => {
    const processLines = ["", "watch", "watch x service", "watch 12 lab", "release 12 extra", "kill 12", "watch 1 service", "watch -5 nats"];
    const labLines = ["lab", "lab X0", "lab x0 extra", "unlab ../x"];
    for (const line of [...processLines, ...labLines]) expect(() => parseReaperCommand(line)).toThrow(ReaperProtocolError);
  });

  test("reaper-protocol - stops what is still watched, services before NATS", () => {
    const watched = new WatchList();
    watched.apply({ kind: "watch", pid: 10, phase: "nats" });
    watched.apply({ kind: "watch", pid: 11, phase: "service" });
    watched.apply({ kind: "watch", pid: 12, phase: "service" });
    watched.apply({ kind: "release", pid: 11 });
    expect(watched.stopOrder()).toEqual([[12], [10]]);
    watched.apply({ kind: "release", pid: 12 });
    watched.apply({ kind: "release", pid: 10 });
    expect(watched.stopOrder()).toEqual([]);
  });

  test("reaper-protocol - labs to remove are kept until unlab", () => {
    const watched = new WatchList();
    watched.apply({ kind: "lab", prefix: "x0" });
    watched.apply({ kind: "lab", prefix: "x1" });
    watched.apply({ kind: "unlab", prefix: "x1" });
    expect(watched.labs()).toEqual(["x0"]);
  });
});
