// The NATS connection speaks mTLS when given a CA, certificate and key; without a client certificate it is refused.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type NatsServer, startNatsServer, startServiceProcess, waitFor } from "@x0/shared/testing";

let dir: string;
let nats: NatsServer;

/** Runs openssl with fixed arguments (no shell). */
async function openssl(...args: string[]): Promise<void> {
  const child = Bun.spawn(["openssl", ...args], { cwd: dir, stdout: "ignore", stderr: "pipe" });
  if ((await child.exited) !== 0) throw new Error(`openssl ${args[0]} failed: ${await new Response(child.stderr).text()}`);
}

/** A test CA and a leaf signed by it, with the SANs given. */
async function leaf(name: string, san: string, usage: string): Promise<void> {
  await openssl(
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
    "-subj",
    `/CN=${name}`,
  );
  const ext = join(dir, `${name}.ext`);
  await Bun.write(ext, `subjectAltName=${san}\nextendedKeyUsage=${usage}\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n`);
  await openssl(
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "1",
    "-out",
    `${name}.crt`,
    "-extfile",
    ext,
  );
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "x0-tls-"));
  await openssl(
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "1",
    "-subj",
    "/CN=x0 test CA",
  );
  await leaf("server", "IP:127.0.0.1,DNS:localhost", "serverAuth");
  await leaf("client", "URI:spiffe://x0tta6bl4.mesh/x0/analyzer", "clientAuth");
  nats = await startNatsServer({ tls: { certFile: join(dir, "server.crt"), keyFile: join(dir, "server.key"), caFile: join(dir, "ca.crt"), verify: true } });
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
      X0_NATS_TLS_CERT: join(dir, "client.crt"),
      X0_NATS_TLS_KEY: join(dir, "client.key"),
      X0_LOG_LEVEL: "warn",
    });
    try {
      await analyzer.waitReady();
    } finally {
      expect(await analyzer.stop()).toBe(0);
    }
  }, 30_000);

  test("tls - without a client certificate the server refuses it and it never becomes ready", async () => {
    const analyzer = startServiceProcess("analyzer", {
      X0_NATS_SERVERS: `tls://127.0.0.1:${nats.port}`,
      X0_NATS_TLS_CA: join(dir, "ca.crt"),
      X0_LOG_LEVEL: "warn",
    });
    try {
      await waitFor("a refused attempt", () => analyzer.output.join("\n").includes("nats not reachable yet"), 10_000);
      expect(await analyzer.ready()).toBe(false);
    } finally {
      // Still waiting for NATS, it stops cleanly on SIGTERM.
      expect(await analyzer.stop()).toBe(0);
    }
  }, 30_000);
});
