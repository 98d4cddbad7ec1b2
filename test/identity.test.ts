// Zero-trust NATS: the generated configuration admits only certificates from the trust bundle, maps each SPIFFE id to a
// user, and the server itself refuses what the permission matrix does not allow.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { createDevCa, type DevCa, issueServerCertificate, issueSvid, loadPermissionMatrix, renderNatsConfig } from "@x0/shared";
import { type NatsServer, startNatsServer, waitFor } from "@x0/shared/testing";

const TRUST_DOMAIN = "x0tta6bl4.mesh";
let dir: string;
let ca: DevCa;
let nats: NatsServer;

async function writeIdentity(name: string, issued: { certPem: string; keyPem: string }): Promise<{ certFile: string; keyFile: string }> {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  writeFileSync(certFile, issued.certPem);
  writeFileSync(keyFile, issued.keyPem, { mode: 0o600 });
  return { certFile, keyFile };
}

async function connectAs(files: { certFile?: string; keyFile?: string }): Promise<NatsConnection> {
  return connect({
    servers: nats.url,
    tls: { caFile: join(dir, "ca.crt"), ...files },
    reconnect: false,
    timeout: 3000,
  });
}

/** Collects the permission errors the server sends this connection. */
function permissionErrors(nc: NatsConnection): string[] {
  const errors: string[] = [];
  void (async () => {
    for await (const status of nc.status()) if (status.type === "error") errors.push(String(status.error));
  })();
  return errors;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "x0-identity-"));
  ca = await createDevCa({ trustDomain: TRUST_DOMAIN });
  writeFileSync(join(dir, "ca.crt"), ca.certPem);
  const server = await writeIdentity("nats", await issueServerCertificate({ ca }));
  const configText = renderNatsConfig(loadPermissionMatrix(), {
    trustDomain: TRUST_DOMAIN,
    nodes: ["n1", "n2"],
    observers: ["grafana"],
    tls: { ...server, caFile: join(dir, "ca.crt") },
  });
  nats = await startNatsServer({ configText });
}, 30_000);

afterAll(async () => {
  await nats?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("zero-trust NATS", () => {
  test("identity - a client without a certificate is refused by the server", async () => {
    await expect(connectAs({})).rejects.toThrow();
    await waitFor(
      "the server's refusal",
      () => nats.log.some((line) => /TLS handshake error.*(didn't provide a certificate|certificate required)/.test(line)),
      5000,
    );
  });

  test("identity - a certificate from another CA is refused by the server", async () => {
    const stranger = await createDevCa({ trustDomain: TRUST_DOMAIN });
    const files = await writeIdentity("stranger", await issueSvid({ ca: stranger, role: "planner" }));
    await expect(connectAs(files)).rejects.toThrow();
    await waitFor("the server's refusal", () => nats.log.some((line) => /TLS handshake error.*unknown authority/.test(line)), 5000);
  });

  test("identity - an expired certificate is refused by the server", async () => {
    const files = await writeIdentity("expired", await issueSvid({ ca, role: "planner", ttlMs: 1000, notBefore: new Date(Date.now() - 7_200_000) }));
    await expect(connectAs(files)).rejects.toThrow();
    await waitFor("the server's refusal", () => nats.log.some((line) => /TLS handshake error.*expired/.test(line)), 5000);
  });

  test("identity - a certificate of another trust domain maps to no user and is refused", async () => {
    const files = await writeIdentity("foreign", await issueSvid({ ca: { ...ca, trustDomain: "evil.mesh" }, role: "planner" }));
    await expect(connectAs(files)).rejects.toThrow(/Authorization Violation/i);
    await waitFor(
      "the server's refusal",
      () => nats.log.some((line) => /spiffe:\/\/evil\.mesh\/x0\/planner|Authorization Error|authentication error/i.test(line)),
      5000,
    );
  });

  test("identity - a monitor publishes its own telemetry; a plan or another node's telemetry is refused", async () => {
    const observer = await connectAs(await writeIdentity("grafana", await issueSvid({ ca, role: "observer", name: "grafana" })));
    const monitor = await connectAs(await writeIdentity("monitor-n1", await issueSvid({ ca, role: "monitor", name: "n1" })));
    try {
      const seen: string[] = [];
      const refusals = permissionErrors(observer);
      observer.subscribe("x0.telemetry.*", { callback: (_error, msg) => void seen.push(msg.subject) });
      // A wider subscription still delivers only what the permissions allow: a dead letter (not public) never arrives.
      const wideErrors: string[] = [];
      observer.subscribe("x0.>", { callback: (error, msg) => void (error ? wideErrors.push(String(error)) : seen.push(`wide ${msg.subject}`)) });
      await observer.flush();
      const errors = permissionErrors(monitor);
      monitor.publish("x0.telemetry.n1", "{}");
      monitor.publish("x0.plan.n1", "{}");
      monitor.publish("x0.telemetry.n2", "{}");
      monitor.publish("x0.dlq.monitor", "{}");
      await monitor.flush();
      await waitFor("two refusals", () => errors.length >= 2, 5000).catch((error) => {
        throw new Error(`${error}; errors: ${errors.join(" / ")}; server log:\n${nats.log.slice(-15).join("\n")}`);
      });
      expect(errors.join("\n")).toContain('Permissions Violation for Publish to "x0.plan.n1"');
      expect(errors.join("\n")).toContain('Permissions Violation for Publish to "x0.telemetry.n2"');
      await waitFor("the allowed telemetry", () => seen.includes("x0.telemetry.n1"), 5000);
      await waitFor("the refused wide subscription", () => wideErrors.length > 0, 5000);
      expect(wideErrors[0]).toContain('Permissions Violation for Subscription to "x0.>"');
      expect(refusals.join("\n")).toContain('Subscription to "x0.>"');
      await Bun.sleep(200);
      expect(seen).toEqual(["x0.telemetry.n1"]);
      // The refusals are the server's own, logged against the certificate's SPIFFE id.
      const violations = nats.log.filter((line) => line.includes("Violation")).join("\n");
      expect(violations).toContain('Publish Violation - User "spiffe://x0tta6bl4.mesh/x0/monitor/n1", Subject "x0.plan.n1"');
      expect(violations).toContain('Publish Violation - User "spiffe://x0tta6bl4.mesh/x0/monitor/n1", Subject "x0.telemetry.n2"');
      expect(violations).toContain('Subscription Violation - User "spiffe://x0tta6bl4.mesh/x0/observer/grafana", Subject "x0.>"');
    } finally {
      await monitor.close();
      await observer.close();
    }
  });

  test("identity - an observer reads the public subjects and may publish nothing", async () => {
    const observer = await connectAs(await writeIdentity("grafana2", await issueSvid({ ca, role: "observer", name: "grafana" })));
    const analyzer = await connectAs(await writeIdentity("analyzer", await issueSvid({ ca, role: "analyzer" })));
    try {
      const seen: string[] = [];
      observer.subscribe("x0.anomaly.*", { callback: (_error, msg) => void seen.push(msg.subject) });
      await observer.flush();
      const errors = permissionErrors(observer);
      analyzer.publish("x0.anomaly.n1", "{}");
      for (const subject of ["x0.anomaly.n1", "x0.telemetry.n1", "x0.plan.n1", "$JS.API.INFO"]) observer.publish(subject, "{}");
      await observer.flush();
      await waitFor("four refusals", () => errors.length >= 4, 5000);
      await waitFor("the analyzer's anomaly", () => seen.length === 1, 5000);
      expect(seen).toEqual(["x0.anomaly.n1"]);
      expect(errors.join("\n")).toContain('Permissions Violation for Publish to "$JS.API.INFO"');
      expect(nats.log.join("\n")).toContain('Publish Violation - User "spiffe://x0tta6bl4.mesh/x0/observer/grafana", Subject "x0.anomaly.n1"');
    } finally {
      await observer.close();
      await analyzer.close();
    }
  });
});
