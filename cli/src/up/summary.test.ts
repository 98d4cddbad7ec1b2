import { describe, expect, test } from "bun:test";
import type { ServiceProbe } from "../status/probe.ts";
import { renderStartupTable, type StartedService, startupVerdict } from "./summary.ts";

const readyProbe: ServiceProbe = {
  url: "http://127.0.0.1:9101",
  reachable: true,
  ready: true,
  status: { service: "monitor", version: "0.1.0", node: "n1", ready: true, nats: { connected: true }, counters: {} },
  error: undefined,
};
const downProbe: ServiceProbe = { url: "http://127.0.0.1:9102", reachable: false, ready: false, status: undefined, error: "connection refused" };

const services: StartedService[] = [
  { name: "monitor", pid: 1234, port: 9101, probe: readyProbe },
  { name: "analyzer", pid: null, port: 9102, probe: downProbe },
];

describe("up summary", () => {
  test("up summary - one row per service with pid, port, readiness, version and node", () => {
    expect(renderStartupTable(services).split("\n")).toEqual([
      "SERVICE    PID  PORT  READY  VERSION  NODE",
      "monitor   1234  9101  yes    0.1.0    n1",
      "analyzer     -  9102  down   -        -",
    ]);
  });

  test("up summary - the verdict names the services that are not ready", () => {
    expect(startupVerdict(services, "nats://127.0.0.1:4222")).toBe(
      "1/2 services ready, NATS at nats://127.0.0.1:4222. Not ready: analyzer. Ctrl-C stops the stack.",
    );
    expect(startupVerdict(services.slice(0, 1), "nats://x")).toBe("1/1 services ready, NATS at nats://x. Ctrl-C stops the stack.");
  });
});
