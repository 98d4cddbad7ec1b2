import { describe, expect, test } from "bun:test";
import { LabSpecError } from "@x0/lab";
import { UsageError } from "../errors.ts";
import { parseLabArgs, parseLoss } from "./args.ts";

describe("lab args", () => {
  test("lab args - up takes a topology, a prefix, a management subnet and NATS", () => {
    expect(parseLabArgs(["up", "--topology", "grid:3x3"])).toMatchObject({
      command: "up",
      prefix: "x0",
      topology: { spec: "grid:3x3" },
      mgmt: { octet: 254 },
      nats: { kind: "none" },
    });
    expect(parseLabArgs(["up", "--topology=ring:5", "--prefix", "lab2", "--mgmt-subnet", "10.77.0.0/16", "--nats", "nats://10.77.0.1:4222"])).toMatchObject({
      prefix: "lab2",
      mgmt: { octet: 77 },
      nats: { kind: "url", url: "nats://10.77.0.1:4222" },
    });
    expect(parseLabArgs(["up", "--topology", "line:2", "--nats-port", "14222"])).toMatchObject({ nats: { kind: "bridge-port", port: 14222 } });
    expect(parseLabArgs(["up", "--topology", "grid:2x3", "--routing", "batman"])).toMatchObject({ routing: "batman" });
    expect(parseLabArgs(["up", "--topology", "grid:2x3"])).toMatchObject({ routing: "static" });
    expect(() => parseLabArgs(["up", "--topology", "line:2", "--routing", "ospf"])).toThrow(/static or batman/);
    expect(parseLabArgs(["up", "--topology", "grid:2x3", "--routing", "batman"])).toMatchObject({ linkCosts: "equal" });
    expect(parseLabArgs(["up", "--topology", "grid:2x3", "--routing", "batman", "--link-costs", "distinct"])).toMatchObject({ linkCosts: "distinct" });
    expect(() => parseLabArgs(["up", "--topology", "grid:2x3", "--routing", "batman", "--link-costs", "random"])).toThrow(/equal or distinct/);
    expect(() => parseLabArgs(["up", "--topology", "grid:2x3", "--link-costs", "distinct"])).toThrow(/needs --routing batman/);
    expect(() => parseLabArgs(["up"])).toThrow(/--topology/);
    expect(() => parseLabArgs(["up", "--topology", "line:2", "--nats", "x", "--nats-port", "1"])).toThrow(/not both/);
    expect(() => parseLabArgs(["up", "--topology", "line:2", "--nats", "http://a:1"])).toThrow(UsageError);
    expect(() => parseLabArgs(["up", "--topology", "line:2", "extra"])).toThrow(UsageError);
  });

  test("lab args - NATS is -s/--server as for every command; --nats is still read as its old spelling", () => {
    for (const flag of ["-s", "--server", "--nats"])
      expect(parseLabArgs(["up", "--topology", "line:2", flag, "nats://10.9.0.1:4222"])).toMatchObject({ nats: { kind: "url", url: "nats://10.9.0.1:4222" } });
    expect(() => parseLabArgs(["up", "--topology", "line:2", "-s", "nats://a:1", "--nats", "nats://b:1"])).toThrow(/--server once/);
    expect(() => parseLabArgs(["up", "--topology", "line:2", "-s", "nats://a:1", "--nats-port", "4222"])).toThrow(/--server or --nats-port/);
    const record = ["record", "--faults", "cut:n1-n2:1s", "--out", "d"];
    expect(parseLabArgs([...record, "-s", "nats://h:4222", "--tlsca", "ca.pem"])).toMatchObject({ nats: { server: "nats://h:4222", tlsca: "ca.pem" } });
    expect(parseLabArgs([...record, "--nats", "nats://h:4222"])).toMatchObject({ nats: { nats: "nats://h:4222" } });
    expect(parseLabArgs(record)).not.toHaveProperty("nats");
  });

  test("lab args - up runs one executor per node by default; --executors site runs one for every node", () => {
    expect(parseLabArgs(["up", "--topology", "grid:2x2"])).toMatchObject({ executors: "node" });
    expect(parseLabArgs(["up", "--topology", "grid:2x2", "--executors", "site"])).toMatchObject({ executors: "site" });
    expect(() => parseLabArgs(["up", "--topology", "grid:2x2", "--executors", "all"])).toThrow(/node or site/);
  });

  test("lab args - vm takes its options, then the command after --", () => {
    expect(parseLabArgs(["vm", "--smp", "1", "--memory-mb", "2048", "--env", "A=1", "--env", "B=x=y", "--", "bun", "test", "--timeout", "5"])).toEqual({
      command: "vm",
      argv: ["bun", "test", "--timeout", "5"],
      cpus: 1,
      memoryMb: 2048,
      timeoutMs: 1_800_000,
      env: { A: "1", B: "x=y" },
    });
    expect(() => parseLabArgs(["vm"])).toThrow(/needs a command/);
    expect(() => parseLabArgs(["vm", "--env", "1A=2", "--", "true"])).toThrow(/NAME=value/);
    expect(() => parseLabArgs(["vm", "--smp", "0", "--", "true"])).toThrow(/--smp/);
  });

  test("lab args - faults", () => {
    expect(parseLabArgs(["fault", "cut", "n1", "n2"])).toEqual({ command: "fault", prefix: "x0", fault: { kind: "cut", a: "n1", b: "n2" } });
    expect(parseLabArgs(["fault", "loss", "n1", "n2", "30%"])).toMatchObject({ fault: { kind: "loss", probability: 0.3 } });
    expect(parseLabArgs(["fault", "node-down", "n4", "--prefix", "t1"])).toEqual({ command: "fault", prefix: "t1", fault: { kind: "node-down", a: "n4" } });
    expect(parseLabArgs(["fault", "flap", "n1", "n2", "--count", "2"])).toMatchObject({ fault: { kind: "flap", periodMs: 500, count: 2 } });
    expect(() => parseLabArgs(["fault", "cut", "n1"])).toThrow(/usage: x0 lab fault cut/);
    expect(() => parseLabArgs(["fault", "cut", "n1", "n2", "--count", "2"])).toThrow(/flap/);
    expect(() => parseLabArgs(["fault", "melt", "n1"])).toThrow(UsageError);
    expect(() => parseLabArgs(["fault", "cut", "n1", "x;y"])).toThrow(LabSpecError);
  });

  test("lab args - loss is a percentage or a fraction", () => {
    expect(parseLoss("30%")).toBeCloseTo(0.3);
    expect(parseLoss("0.25")).toBe(0.25);
    expect(parseLoss("100%")).toBe(1);
    for (const text of ["30", "130%", "-1%", "abc", "1.5"]) expect(() => parseLoss(text)).toThrow(UsageError);
  });

  test("lab args - probe, status, down and heal", () => {
    expect(parseLabArgs(["probe", "n1", "n9", "--interval-ms", "20", "--json"])).toEqual({
      command: "probe",
      prefix: "x0",
      from: "n1",
      to: "n9",
      intervalMs: 20,
      summaryMs: 1000,
      durationMs: undefined,
      json: true,
    });
    expect(() => parseLabArgs(["probe", "n1", "n1"])).toThrow(UsageError);
    expect(parseLabArgs(["status", "--json"])).toEqual({ command: "status", prefix: "x0", json: true });
    expect(parseLabArgs(["down", "--prefix", "x0t42"])).toEqual({ command: "down", prefix: "x0t42" });
    expect(parseLabArgs(["heal"])).toEqual({ command: "heal", prefix: "x0" });
    expect(() => parseLabArgs([])).toThrow(/lab needs a command: up, vm, down/);
    expect(() => parseLabArgs(["down", "--prefix", "X"])).toThrow(LabSpecError);
    expect(() => parseLabArgs(["explode"])).toThrow(UsageError);
  });
});
