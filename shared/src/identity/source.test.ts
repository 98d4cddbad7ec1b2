import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { baseConfigShape, loadConfig } from "../config/config.ts";
import { ConfigError } from "../errors.ts";
import { createLogger } from "../observability/logger.ts";
import { waitFor } from "../testing/mod.ts";
import { createDevCa, issueSvid } from "./dev-ca.ts";
import { openIdentity, resolveSvidSource } from "./source.ts";
import { checkSvid } from "./svid.ts";

const logger = createLogger({ service: "test", node: "n1", level: "error" });
const configOf = (env: Record<string, string>) => loadConfig(baseConfigShape, { env: { X0_NODE: "n1", ...env } });

describe("workload identity", () => {
  test("identity - auto picks SPIRE, then the development CA, then files; none needs the development flag", () => {
    expect(resolveSvidSource(configOf({ SPIFFE_ENDPOINT_SOCKET: "unix:///s", X0_DEV_CA_DIR: "/d" }))).toBe("workload-api");
    expect(resolveSvidSource(configOf({ X0_DEV_CA_DIR: "/d" }))).toBe("dev-ca");
    expect(resolveSvidSource(configOf({ X0_NATS_TLS_CA: "/a", X0_NATS_TLS_CERT: "/c", X0_NATS_TLS_KEY: "/k" }))).toBe("files");
    // TLS with a CA but no client certificate: a workload without an identity, refused.
    expect(() => resolveSvidSource(configOf({ X0_NATS_TLS_CA: "/a" }))).toThrow(/X0_NATS_TLS_CERT/);
    expect(() => resolveSvidSource(configOf({ X0_SVID_SOURCE: "dev-ca" }))).toThrow(/X0_DEV_CA_DIR/);
    expect(() => openIdentity({ config: configOf({}), service: "planner", logger })).toThrow(ConfigError);
    expect(openIdentity({ config: configOf({ X0_NATS_INSECURE_DEV: "true" }), service: "planner", logger }).source).toBe("none");
  });

  test("identity - the development CA issues the monitor's per-node SVID and renews it at half its lifetime", async () => {
    const dir = mkdtempSync(join(tmpdir(), "x0-ca-"));
    try {
      const ca = await createDevCa({ trustDomain: "x0tta6bl4.mesh" });
      writeFileSync(join(dir, "ca.crt"), ca.certPem);
      writeFileSync(join(dir, "ca.key"), ca.keyPem);
      const identity = openIdentity({ config: configOf({ X0_DEV_CA_DIR: dir, X0_SVID_TTL_S: "2" }), service: "monitor", logger });
      let renewals = 0;
      identity.onRenew(() => renewals++);
      await identity.ready;
      expect(identity.spiffeId()).toBe("spiffe://x0tta6bl4.mesh/x0/monitor/n1");
      const first = readFileSync(identity.tls?.certFile ?? "", "utf8");
      await waitFor("a renewal", () => renewals > 0, 5000);
      const second = readFileSync(identity.tls?.certFile ?? "", "utf8");
      expect(second).not.toBe(first);
      await checkSvid({ certPem: second, bundlePem: readFileSync(identity.tls?.caFile ?? "", "utf8"), trustDomain: "x0tta6bl4.mesh" });
      identity.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("identity - malformed certificate files are reported naming the variable and re-read until they are usable", async () => {
    const dir = mkdtempSync(join(tmpdir(), "x0-files-"));
    try {
      for (const name of ["ca.crt", "svid.crt", "svid.key"]) writeFileSync(join(dir, name), "not a certificate");
      const logged: string[] = [];
      const recording = createLogger({ service: "test", node: "n1", level: "error", write: (line: string) => logged.push(line) });
      const identity = openIdentity({
        config: configOf({ X0_NATS_TLS_CA: join(dir, "ca.crt"), X0_NATS_TLS_CERT: join(dir, "svid.crt"), X0_NATS_TLS_KEY: join(dir, "svid.key") }),
        service: "planner",
        logger: recording,
      });
      let ready = false;
      void identity.ready.then(() => {
        ready = true;
      });
      await waitFor("the error", () => logged.some((line) => line.includes("X0_NATS_TLS_CERT")), 3000);
      expect(ready).toBe(false);
      // The right files arrive (as cert-manager would write them): the identity becomes ready without a restart.
      const ca = await createDevCa({ trustDomain: "x0tta6bl4.mesh" });
      const svid = await issueSvid({ ca, role: "planner" });
      writeFileSync(join(dir, "ca.crt"), ca.certPem);
      writeFileSync(join(dir, "svid.key"), svid.keyPem);
      writeFileSync(join(dir, "svid.crt"), svid.certPem);
      await waitFor("ready", () => ready, 5000);
      expect(identity.spiffeId()).toBe("spiffe://x0tta6bl4.mesh/x0/planner");
      identity.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
