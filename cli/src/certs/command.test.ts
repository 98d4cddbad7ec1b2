import { afterAll, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkSvid, NATS_ROUTE_NAME } from "@x0/shared";
import { UsageError } from "../errors.ts";
import { parseTtl, runCerts } from "./command.ts";

const dir = mkdtempSync(join(tmpdir(), "x0-certs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const lines: string[] = [];
const output = { out: (text: string) => lines.push(text), err: (text: string) => lines.push(text) };

describe("x0 certs", () => {
  test("certs - init makes a CA and the NATS certificate; a second init keeps the CA", async () => {
    expect(await runCerts(["init", "--dir", dir], {}, output)).toBe(0);
    const ca = readFileSync(join(dir, "ca.crt"), "utf8");
    expect(statSync(join(dir, "ca.key")).mode & 0o777).toBe(0o600);
    expect(await runCerts(["init", "--dir", dir], {}, output)).toBe(0);
    expect(readFileSync(join(dir, "ca.crt"), "utf8")).toBe(ca);
    expect(lines.join("\n")).toContain("CA kept");
  });

  test("certs - issue mints an observer SVID that checks against the bundle", async () => {
    expect(await runCerts(["issue", "--dir", dir, "--role", "observer", "--id", "grafana", "--ttl", "2h"], {}, output)).toBe(0);
    const checked = await checkSvid({
      certPem: readFileSync(join(dir, "observer-grafana.crt"), "utf8"),
      bundlePem: readFileSync(join(dir, "ca.crt"), "utf8"),
      trustDomain: "x0tta6bl4.mesh",
    });
    expect(checked.spiffeId).toBe("spiffe://x0tta6bl4.mesh/x0/observer/grafana");
    expect(checked.notAfter.getTime() - checked.notBefore.getTime()).toBe(2 * 3_600_000 + 60_000);
  });

  test("certs - nats-config prints a cluster member's routes, mapped to the route certificate init made", async () => {
    lines.length = 0;
    const routes = "nats://a:6222,nats://b:6222,nats://c:6222";
    expect(
      await runCerts(["nats-config", "--dir", dir, "--nodes", "n1", "--server-version", "2.9.10", "--server-name", "x0-2", "--routes", routes], {}, output),
    ).toBe(0);
    const config = JSON.parse(lines.join("\n"));
    expect(config.server_name).toBe("x0-2");
    expect(config.cluster).toMatchObject({ name: "x0", listen: "0.0.0.0:6222", routes: routes.split(","), authorization: { user: NATS_ROUTE_NAME } });
    expect(config.cluster.tls).toMatchObject({ cert_file: join(dir, "route.crt"), verify_and_map: true });
    const route = new X509Certificate(readFileSync(join(dir, "route.crt"), "utf8"));
    expect(route.subjectAltName).toContain(`DNS:${NATS_ROUTE_NAME}`);
    await expect(runCerts(["nats-config", "--dir", dir, "--routes", routes], {}, output)).rejects.toThrow(/--server-name/);
    await expect(runCerts(["nats-config", "--dir", dir, "--server-name", "x0-1", "--routes", "a:6222"], {}, output)).rejects.toThrow(/nats:\/\/host:port/);
  });

  test("certs - nats-config prints the matrix as users; bad input is a usage error", async () => {
    lines.length = 0;
    expect(await runCerts(["nats-config", "--dir", dir, "--nodes", "n1", "--observers", "grafana", "--server-version", "2.9.10"], {}, output)).toBe(0);
    const config = JSON.parse(lines.join("\n"));
    expect(config.tls.verify_and_map).toBe(true);
    expect(config.authorization.users.map((u: { user: string }) => u.user)).toContain("spiffe://x0tta6bl4.mesh/x0/monitor/n1");
    await expect(runCerts(["issue", "--dir", dir, "--role", "root"], {}, output)).rejects.toThrow(UsageError);
    await expect(runCerts(["issue", "--dir", dir, "--role", "observer"], {}, output)).rejects.toThrow(/--id is required/);
    await expect(runCerts(["nats-config", "--nodes", "a b"], {}, output)).rejects.toThrow(UsageError);
    expect(() => parseTtl("forever")).toThrow(UsageError);
  });
});
