import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { freePort, type NatsServer, startNatsServer } from "@x0/shared/testing";
import { UsageError } from "./errors.ts";
import { cliTls, connectCli } from "./nats-client.ts";

let nats: NatsServer;
const dead = () => `nats://127.0.0.1:${freePort()}`;
beforeAll(async () => {
  nats = await startNatsServer();
});
afterAll(() => nats?.dispose());

describe("x0 NATS options", () => {
  test("nats options - -s/--server wins over X0_NATS_SERVERS, which wins over NATS_URL", async () => {
    for (const [flags, env] of [
      [{ server: nats.url }, { X0_NATS_SERVERS: dead(), NATS_URL: dead() }],
      [{}, { X0_NATS_SERVERS: nats.url, NATS_URL: dead() }],
      [{}, { NATS_URL: nats.url }],
    ] as const) {
      // No stack folder: no stack file to fall back to, and no stack PKI to connect with.
      const nc = await connectCli(flags, { ...env, X0_STATE_DIR: "/nonexistent" });
      expect(nc.getServer()).toBe(new URL(nats.url).host);
      await nc.close();
    }
  });

  test("nats options - --tlscert, --tlskey and --tlsca go together and win over X0_NATS_TLS_*", () => {
    const env = { X0_NATS_TLS_CA: "env-ca", X0_NATS_TLS_CERT: "env-cert", X0_NATS_TLS_KEY: "env-key" };
    expect(cliTls(env, { tlsca: "ca", tlscert: "cert", tlskey: "key" })).toEqual({ caFile: "ca", certFile: "cert", keyFile: "key" });
    expect(cliTls(env)).toEqual({ caFile: "env-ca", certFile: "env-cert", keyFile: "env-key" });
    expect(() => cliTls(env, { tlscert: "cert" })).toThrow(UsageError);
  });
});
