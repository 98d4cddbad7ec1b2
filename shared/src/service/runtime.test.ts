import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { z } from "zod";
import { collectLines, freePort, type NatsServer, startNatsServer, waitFor } from "../testing/mod.ts";
import { EXIT_CONFIG, PRINT_CONFIG_FLAG, type RunningService, runService, type ServiceDefinition } from "./runtime.ts";

const FIXTURE = join(import.meta.dir, "fixture-service.ts");

let nats: NatsServer;
beforeAll(async () => {
  nats = await startNatsServer();
});
afterAll(async () => {
  await nats?.dispose();
});

/** The environment of a service under test: this test's nats-server, no identity, a free HTTP port, quiet logs. */
const envOf = (extra: Record<string, string> = {}) => ({
  X0_NATS_SERVERS: nats.url,
  X0_NATS_INSECURE_DEV: "true",
  X0_HTTP_PORT: String(freePort()),
  X0_NODE: "rt",
  X0_LOG_LEVEL: "error",
  ...extra,
});

/** Runs a service named `probe` in this process, without signal handlers. */
function run<Shape extends z.ZodRawShape>(definition: Pick<ServiceDefinition<Shape>, "start"> & { config?: Shape }): Promise<RunningService> {
  return runService({ name: "probe", version: "1.2.3", httpPort: 0, config: {} as Shape, ...definition }, { env: envOf(), handleSignals: false, argv: [] });
}

const get = (port: number, path: string) => fetch(`http://127.0.0.1:${port}${path}`);

/** Runs the fixture service (fixture-service.ts) as its own process. */
function spawnFixture(env: Record<string, string>, args: string[] = []) {
  const child = Bun.spawn([process.execPath, FIXTURE, ...args], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const output: string[] = [];
  collectLines(child.stdout, output);
  collectLines(child.stderr, output);
  return { child, output };
}

describe("runtime", () => {
  test("runtime - /healthz answers, /status shows the service with its counters and details, /metrics its registry", async () => {
    const service = await run({
      config: { X0_PROBE_GREETING: z.string().default("hello") },
      async start({ config, counters, details, metrics }) {
        counters.greeted = 3;
        details.greeting = config.X0_PROBE_GREETING;
        metrics.messagesPublished.inc({ subject: "x0.probe.{node}" });
      },
    });
    try {
      expect(await (await get(service.port, "/healthz")).json()).toEqual({ status: "ok" });
      expect(await (await get(service.port, "/status")).json()).toMatchObject({
        service: "probe",
        version: "1.2.3",
        node: "rt",
        ready: true,
        nats: { connected: true },
        counters: { greeted: 3, dlq: 0 },
        details: { greeting: "hello", identity: { source: "none" } },
      });
      const metrics = await (await get(service.port, "/metrics")).text();
      expect(metrics).toContain('x0_messages_published_total{subject="x0.probe.{node}",service="probe"} 1');
      expect(metrics).toMatch(/^x0_ready\{service="probe"\} 1$/m);
      expect((await get(service.port, "/nowhere")).status).toBe(404);
    } finally {
      await service.stop();
    }
  });

  test("runtime - not ready until start resolves, then ready while every tracked subscription is live, naming those that are not", async () => {
    let live = true;
    let duringStart: unknown;
    const service = await run({
      async start({ config, track }) {
        track({ name: "subscription x0.probe.*", isLive: () => live, stop: async () => {} });
        const response = await get(config.X0_HTTP_PORT, "/readyz");
        duringStart = { status: response.status, body: await response.json() };
      },
    });
    try {
      expect(duringStart).toEqual({ status: 503, body: { ready: false, nats: true, not_live: [] } });
      expect(service.isReady()).toBe(true);
      expect((await get(service.port, "/readyz")).status).toBe(200);
      live = false;
      const notReady = await get(service.port, "/readyz");
      expect(notReady.status).toBe(503);
      expect(await notReady.json()).toEqual({ ready: false, nats: true, not_live: ["subscription x0.probe.*"] });
      expect(service.isReady()).toBe(false);
      expect(await (await get(service.port, "/metrics")).text()).toMatch(/^x0_ready\{service="probe"\} 0$/m);
      live = true;
      expect((await get(service.port, "/readyz")).status).toBe(200);
    } finally {
      await service.stop();
    }
  });

  test("runtime - stop ends the tracked subscriptions first, then runs the stop hooks in order, then closes NATS and the HTTP server", async () => {
    const steps: string[] = [];
    let connection: NatsConnection | undefined;
    const service = await run({
      async start({ nc, track, onStop }) {
        connection = nc;
        track({ name: "one", isLive: () => true, stop: async () => void steps.push("subscription stopped") });
        onStop(() => void steps.push(`first hook, NATS open: ${!nc.isClosed()}`));
        onStop(async () => void steps.push("second hook"));
      },
    });
    await service.stop();
    expect(steps).toEqual(["subscription stopped", "first hook, NATS open: true", "second hook"]);
    expect(connection?.isClosed()).toBe(true);
    expect(service.isReady()).toBe(false);
    expect(await get(service.port, "/healthz").catch(() => "refused")).toBe("refused");
  });

  test("runtime - a start that throws rejects naming the service, after stopping what it had started: subscriptions, NATS, HTTP", async () => {
    const port = freePort();
    const steps: string[] = [];
    let connection: NatsConnection | undefined;
    const starting = runService(
      {
        name: "probe",
        version: "1.2.3",
        httpPort: 0,
        config: {},
        async start({ nc, track }) {
          connection = nc;
          track({ name: "one", isLive: () => true, stop: async () => void steps.push("subscription stopped") });
          throw new Error("no bucket");
        },
      },
      { env: envOf({ X0_HTTP_PORT: String(port) }), handleSignals: false, argv: [] },
    );
    await expect(starting).rejects.toThrow("x0-probe failed to start");
    expect(steps).toEqual(["subscription stopped"]);
    expect(connection?.isClosed()).toBe(true);
    expect(await get(port, "/healthz").catch(() => "refused")).toBe("refused");
  });

  test("runtime - a bad value exits 78 naming the variable and what it got, before anything connects", async () => {
    const { child, output } = spawnFixture({ X0_NATS_SERVERS: "nats://127.0.0.1:1", X0_FIXTURE_LIMIT: "-2" });
    expect(await child.exited).toBe(EXIT_CONFIG);
    expect(EXIT_CONFIG).toBe(78);
    await waitFor("the refusal on stderr", () => output.some((line) => line.startsWith("x0-fixture:")), 2000);
    expect(output.find((line) => line.startsWith("x0-fixture:"))).toMatch(/^x0-fixture: invalid configuration: X0_FIXTURE_LIMIT: .*\(got "-2"\)$/);
  });

  test("runtime - --print-config lists the service's variables and the common ones with their defaults, and exits 0", async () => {
    const { child, output } = spawnFixture({}, [PRINT_CONFIG_FLAG]);
    expect(await child.exited).toBe(0);
    await Bun.sleep(50);
    const variables = JSON.parse(output.join("\n")) as { name: string; required: boolean; default?: unknown }[];
    expect(variables).toContainEqual({ name: "X0_FIXTURE_LIMIT", required: false, default: 1 });
    expect(variables).toContainEqual({ name: "X0_HTTP_PORT", required: false, default: 0 });
    expect(variables.map((v) => v.name)).toContain("X0_NATS_SERVERS");
  });

  test("runtime - SIGTERM drains: what the subscription had received is handled, stop hooks run while NATS is open, and the process exits 0", async () => {
    const port = freePort();
    const { child, output } = spawnFixture(envOf({ X0_HTTP_PORT: String(port), X0_LOG_LEVEL: "info" }));
    try {
      await waitFor("the fixture ready", async () => (await get(port, "/readyz").catch(() => undefined))?.status === 200, 15_000, 50);
      const publisher = await connect({ servers: nats.url });
      for (let i = 0; i < 500; i++) publisher.publish("fixture.work", "x");
      await publisher.flush();
      await publisher.close();
      child.kill("SIGTERM");
      expect(await child.exited).toBe(0);
      await Bun.sleep(50);
      const said = output.filter((line) => line.startsWith("fixture:"));
      expect(said).toEqual(["fixture: subscription drained after 500 messages", "fixture: stop hook ran, NATS still open: true"]);
      expect(output.some((line) => line.includes('"stopped"'))).toBe(true);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });
});
