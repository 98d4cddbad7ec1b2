// A signing service's control-plane crypto against a real nats-server: config, hedged signing wiring, stop.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { z } from "zod";
import { createLogger } from "../observability/logger.ts";
import { type NatsServer, startNatsServer } from "../testing/mod.ts";
import { toBase64 } from "./bytes.ts";
import { cryptoConfigShape, openControlPlaneCrypto } from "./control-plane.ts";

const logger = createLogger({ service: "test", node: "t", level: "error" });
const config = z.object(cryptoConfigShape);
let nats: NatsServer;
let nc: NatsConnection;
let dir: string;

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
  dir = mkdtempSync(join(tmpdir(), "x0-control-plane-"));
});

afterAll(async () => {
  await nc?.close();
  await nats?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const env = (extra: Record<string, string> = {}) => ({
  X0_CRYPTO_BACKEND: "native",
  X0_KEK: toBase64(crypto.getRandomValues(new Uint8Array(32))),
  X0_KEY_DIR: dir,
  ...extra,
});

describe("control-plane crypto", () => {
  test("control-plane crypto - hedged signing is off by default; 1 thread is refused (it only adds a hop)", () => {
    expect(config.parse(env()).X0_SIGN_HEDGE_THREADS).toBe(0);
    expect(config.parse(env({ X0_SIGN_HEDGE_THREADS: "2" })).X0_SIGN_HEDGE_THREADS).toBe(2);
    expect(config.safeParse(env({ X0_SIGN_HEDGE_THREADS: "1" })).success).toBe(false);
  });

  test("control-plane crypto - with hedged signing on, signed plans verify and stop ends the threads it started on the first signature", async () => {
    const crypto = await openControlPlaneCrypto({ service: "planner", config: config.parse(env({ X0_SIGN_HEDGE_THREADS: "2" })), nc, logger });
    try {
      expect(crypto.signThreads).toBe(2);
      for (let i = 0; i < 20; i++) {
        const signed = crypto.sign("plan", { v: 1, plan_id: `p${i}`, actions: [] });
        const verdict = await crypto.verifier.verify("plan", JSON.parse(JSON.stringify(signed)));
        expect(verdict.ok).toBe(true);
        await Bun.sleep(10);
      }
    } finally {
      crypto.stop();
    }
  });
});
