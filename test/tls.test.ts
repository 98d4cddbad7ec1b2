// The NATS connection speaks mTLS when given a CA, certificate and key; without a client certificate it is refused.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type NatsServer, REPO_ROOT, startNatsServer, startServiceProcess } from "@x0/shared/testing";

let dir: string;
let nats: NatsServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "x0-tls-"));
  // The development PKI that docker-compose uses: CA, NATS server certificate, one client certificate per service.
  const script = Bun.spawn(["sh", join(REPO_ROOT, "ops", "certs", "dev-certs.sh"), dir], { stdout: "ignore", stderr: "pipe" });
  if ((await script.exited) !== 0) throw new Error(`dev-certs.sh failed: ${await new Response(script.stderr).text()}`);
  nats = await startNatsServer({ tls: { certFile: join(dir, "nats.crt"), keyFile: join(dir, "nats.key"), caFile: join(dir, "ca.crt"), verify: true } });
}, 30_000);

afterAll(async () => {
  await nats?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe("tls", () => {
  test("tls - a service with CA, certificate and key connects over mTLS and becomes ready", async () => {
    const analyzer = startServiceProcess("analyzer", {
      X0_NATS_SERVERS: `tls://127.0.0.1:${nats.port}`,
      X0_NATS_TLS_CA: join(dir, "ca.crt"),
      X0_NATS_TLS_CERT: join(dir, "analyzer.crt"),
      X0_NATS_TLS_KEY: join(dir, "analyzer.key"),
      X0_LOG_LEVEL: "warn",
    });
    try {
      await analyzer.waitReady();
    } finally {
      expect(await analyzer.stop()).toBe(0);
    }
  }, 30_000);

  test("tls - a CA without a client certificate is a workload without an identity: refused at start, naming the variable", async () => {
    const analyzer = startServiceProcess("analyzer", {
      X0_NATS_SERVERS: `tls://127.0.0.1:${nats.port}`,
      X0_NATS_TLS_CA: join(dir, "ca.crt"),
      X0_LOG_LEVEL: "warn",
    });
    expect(await analyzer.exited).toBe(78);
    await Bun.sleep(50);
    expect(analyzer.output.join("\n")).toContain("X0_NATS_TLS_CERT");
  }, 30_000);
});
