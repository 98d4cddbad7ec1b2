// SVIDs issued under an intermediate CA (SPIRE with an upstream authority): a real nats-server that trusts only the
// root admits a client presenting leaf + intermediate, maps it by its SPIFFE id, and refuses the leaf alone.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import {
  certificatesOfPem,
  checkSvid,
  createDevCa,
  createIntermediateCa,
  type DevCa,
  issueServerCertificate,
  issueSvid,
  loadPermissionMatrix,
  renderNatsConfig,
} from "@x0/shared";
import { type NatsServer, startNatsServer, waitFor } from "@x0/shared/testing";

const TRUST_DOMAIN = "x0tta6bl4.mesh";
let dir: string;
let root: DevCa;
let intermediate: DevCa;
let nats: NatsServer;

function writeIdentity(name: string, issued: { certPem: string; keyPem: string }): { certFile: string; keyFile: string } {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  writeFileSync(certFile, issued.certPem);
  writeFileSync(keyFile, issued.keyPem, { mode: 0o600 });
  return { certFile, keyFile };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "x0-chain-"));
  root = await createDevCa({ trustDomain: TRUST_DOMAIN, pathLength: 1 });
  intermediate = await createIntermediateCa({ parent: root });
  // The server trusts the root alone, as its bundle from an upstream authority would hold.
  writeFileSync(join(dir, "ca.crt"), root.certPem);
  const server = writeIdentity("nats", await issueServerCertificate({ ca: intermediate }));
  const configText = renderNatsConfig(loadPermissionMatrix(), { trustDomain: TRUST_DOMAIN, nodes: ["n1"], tls: { ...server, caFile: join(dir, "ca.crt") } });
  nats = await startNatsServer({ configText });
}, 30_000);

afterAll(async () => {
  await nats?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("SVID chains", () => {
  test("identity chain - leaf + intermediate is admitted and mapped; the monitor publishes its telemetry, not a plan", async () => {
    const svid = await issueSvid({ ca: intermediate, role: "monitor", name: "n1" });
    expect(certificatesOfPem(svid.certPem, "svid")).toHaveLength(2);
    expect((await checkSvid({ certPem: svid.certPem, bundlePem: root.certPem, trustDomain: TRUST_DOMAIN })).intermediates).toBe(1);
    const monitor = await connect({
      servers: nats.url,
      tls: { caFile: join(dir, "ca.crt"), ...writeIdentity("monitor", svid) },
      reconnect: false,
      timeout: 3000,
    });
    const errors: string[] = [];
    void (async () => {
      for await (const status of monitor.status()) if (status.type === "error") errors.push(String(status.error));
    })();
    try {
      monitor.publish("x0.telemetry.n1", "{}");
      monitor.publish("x0.plan.n1", "{}");
      await monitor.flush();
      await waitFor("the refused plan", () => errors.length > 0, 5000);
      expect(errors.join("\n")).toContain('Permissions Violation for Publish to "x0.plan.n1"');
      expect(nats.log.join("\n")).not.toContain('Subject "x0.telemetry.n1"');
      // The server knows the client by the leaf's SPIFFE id, not by the intermediate.
      expect(nats.log.filter((line) => line.includes("Violation")).join("\n")).toContain('User "spiffe://x0tta6bl4.mesh/x0/monitor/n1"');
    } finally {
      await monitor.close();
    }
  });

  test("identity chain - the leaf without its intermediate is refused in the TLS handshake", async () => {
    const svid = await issueSvid({ ca: intermediate, role: "analyzer" });
    const leafOnly = { certPem: certificatesOfPem(svid.certPem, "svid")[0]?.toString("pem") ?? "", keyPem: svid.keyPem };
    await expect(
      connect({ servers: nats.url, tls: { caFile: join(dir, "ca.crt"), ...writeIdentity("leaf-only", leafOnly) }, reconnect: false, timeout: 3000 }),
    ).rejects.toThrow();
    await waitFor("the server's refusal", () => nats.log.some((line) => /TLS handshake error.*unknown authority/.test(line)), 5000);
  });
});
