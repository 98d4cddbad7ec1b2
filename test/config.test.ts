// A service started with an invalid config exits non-zero naming the variable, before touching NATS.
import { describe, expect, test } from "bun:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { DLQ_STREAM, EVENTS_STREAM, EXIT_CONFIG } from "@x0/shared";
import { startNatsServer, startServiceProcess } from "@x0/shared/testing";

// No NATS server listens here: a service that got past config would hang retrying, not exit.
const NO_NATS = "nats://127.0.0.1:1";

const cases: [service: string, variable: string, value: string, expected: RegExp][] = [
  ["monitor", "X0_MONITOR_INTERVAL_MS", "often", /X0_MONITOR_INTERVAL_MS: .*number/],
  ["monitor", "X0_NODE", "node with spaces", /X0_NODE: .*\[A-Za-z0-9_-\]/],
  ["analyzer", "X0_ANALYZER_Z_THRESHOLD", "-3", /X0_ANALYZER_Z_THRESHOLD: .*(>0|positive|greater)/i],
  ["planner", "X0_PLANNER_POLICY", "/nonexistent/policy.yaml", /X0_PLANNER_POLICY: cannot read policy \/nonexistent\/policy.yaml/],
  ["executor", "X0_EXECUTOR_DRY_RUN", "false", /X0_EXECUTOR_DRY_RUN: must be true/],
  ["executor", "X0_HTTP_PORT", "70000", /X0_HTTP_PORT: /],
  ["analyzer", "X0_LOG_LEVEL", "loud", /X0_LOG_LEVEL: .*"debug"\|"info"\|"warn"\|"error"/],
  ["rag", "X0_RAG_TEXT_EMBEDDER", "bert", /X0_RAG_TEXT_EMBEDDER: .*"use-lite"\|"lexical"/],
  ["rag", "X0_RAG_SAVE_MS", "10", /X0_RAG_SAVE_MS: .*(>=100|100)/],
];

describe("config", () => {
  for (const [service, variable, value, expected] of cases) {
    test(`config - ${service} exits ${EXIT_CONFIG} naming ${variable}=${value}`, async () => {
      const child = startServiceProcess(service, { X0_NATS_SERVERS: NO_NATS, [variable]: value });
      const code = await child.exited;
      await Bun.sleep(20); // let the output readers drain
      expect(code).toBe(EXIT_CONFIG);
      expect(child.output.join("\n")).toMatch(expected);
      expect(child.output.join("\n")).toContain(`got ${JSON.stringify(value)}`);
    }, 20_000);
  }
});

describe("config - stream retention", () => {
  test("config - X0_EVENTS_MAX_AGE_S and X0_EVENTS_MAX_BYTES set the retention of X0_EVENTS and X0_DLQ", async () => {
    const nats = await startNatsServer();
    const analyzer = startServiceProcess("analyzer", { X0_NATS_SERVERS: nats.url, X0_EVENTS_MAX_AGE_S: "3600", X0_EVENTS_MAX_BYTES: "1048576" });
    const nc = await connect({ servers: nats.url });
    try {
      await analyzer.waitReady();
      const jsm = await jetstreamManager(nc);
      for (const stream of [EVENTS_STREAM, DLQ_STREAM]) {
        const { config } = await jsm.streams.info(stream);
        expect(config.max_age).toBe(3600 * 1e9);
        expect(config.max_bytes).toBe(1048576);
      }
    } finally {
      await nc.close();
      await analyzer.stop();
      await nats.dispose();
    }
  }, 30_000);
});
