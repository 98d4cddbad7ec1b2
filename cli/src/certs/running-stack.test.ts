// An observer issued (or revoked) for a running stack takes effect without a restart: the stack's PKI and nats-server
// as `bun run up` prepares and starts them, a real outside client with the new certificate, and the server's answers.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { DEFAULT_TRUST_DOMAIN, issueSvid, loadDevCa } from "@x0/shared";
import { freePort, waitFor } from "@x0/shared/testing";
import { natsServerArgv } from "../up/nats.ts";
import { prepareStackPki } from "../up/pki.ts";
import { runCerts } from "./command.ts";

const NATS = Bun.which(process.env.NATS_SERVER_BIN ?? "nats-server");
if (!NATS) process.stderr.write("running-stack.test.ts: skipped: nats-server is not on PATH\n");
const stateDir = mkdtempSync(join(tmpdir(), "x0-certs-stack-"));
const pki = join(stateDir, "pki");
const port = freePort();
let server: ReturnType<typeof Bun.spawn> | undefined;
const lines: string[] = [];
const output = { out: (text: string) => void lines.push(text), err: (text: string) => void lines.push(text) };

const tlsOf = (name: string) => ({ caFile: join(pki, "ca.crt"), certFile: join(pki, `${name}.crt`), keyFile: join(pki, `${name}.key`) });
const client = (name: string) =>
  connect({
    servers: `tls://127.0.0.1:${port}`,
    tls: tlsOf(name),
    reconnect: false,
    timeout: 3000,
    ...(name.startsWith("observer-") ? { inboxPrefix: `_INBOX.observer.${name.slice(9)}` } : {}),
  });

beforeAll(async () => {
  if (!NATS) return;
  const configFile = join(stateDir, "nats.conf");
  await prepareStackPki({
    stateDir,
    servers: [{ name: "nats", serverName: undefined, port, monitorPort: freePort(), clusterPort: undefined, storeDir: join(stateDir, "js"), configFile }],
    nodes: ["n1"],
    addresses: [],
  });
  server = Bun.spawn(natsServerArgv(NATS, port, freePort(), join(stateDir, "js"), "127.0.0.1", configFile), { stdout: "ignore", stderr: "ignore" });
  await waitFor(
    "nats-server",
    async () => {
      const admin = await client("admin").catch(() => undefined);
      await admin?.close();
      return admin !== undefined;
    },
    10_000,
    100,
  );
}, 30_000);

afterAll(async () => {
  server?.kill();
  await server?.exited;
  rmSync(stateDir, { recursive: true, force: true });
});

describe.skipIf(!NATS)("x0 certs on a running stack", () => {
  test("certs - an observer issued while the stack runs connects at once, reads events and may publish nothing; revoked, it is refused", async () => {
    // A certificate from the same CA alone is not enough: the running server does not know the name yet.
    const ca = await loadDevCa({
      trustDomain: DEFAULT_TRUST_DOMAIN,
      certPem: readFileSync(join(pki, "ca.crt"), "utf8"),
      keyPem: readFileSync(join(pki, "ca.key"), "utf8"),
    });
    const early = await issueSvid({ ca, role: "observer", name: "outside", ttlMs: 3_600_000 });
    writeFileSync(join(pki, "observer-outside.crt"), early.certPem);
    writeFileSync(join(pki, "observer-outside.key"), early.keyPem, { mode: 0o600 });
    await expect(client("observer-outside")).rejects.toThrow(/Authorization Violation/i);
    expect(await runCerts(["issue", "--role", "observer", "--id", "outside", "--dir", pki], {}, output)).toBe(0);
    expect(lines.join("\n")).toContain("observer outside admitted by the stack's NATS (1 running server(s) reloaded)");
    let outside: NatsConnection | undefined;
    await waitFor(
      "the reloaded server to admit the observer",
      async () => {
        outside = await client("observer-outside").catch(() => undefined);
        return outside !== undefined;
      },
      5000,
      100,
    );
    const admin = await client("admin");
    try {
      const received: string[] = [];
      const sub = (outside as NatsConnection).subscribe("x0.anomaly.*", { callback: (_error, msg) => void received.push(msg.string()) });
      await (outside as NatsConnection).flush();
      admin.publish("x0.anomaly.n1", "from the loop");
      await waitFor("the observer to receive an event", () => received.length > 0, 3000, 20);
      // Its own publish is refused by the server: the admin never sees it.
      const seen: string[] = [];
      admin.subscribe("x0.anomaly.*", { callback: (_error, msg) => void seen.push(msg.string()) });
      await admin.flush();
      (outside as NatsConnection).publish("x0.anomaly.n1", "forged by an observer");
      await Bun.sleep(300);
      expect(seen).not.toContain("forged by an observer");
      sub.unsubscribe();

      expect(await runCerts(["revoke", "--role", "observer", "--id", "outside", "--dir", pki], {}, output)).toBe(0);
      expect(lines.at(-1)).toContain("observer outside no longer admitted");
      await waitFor(
        "the observer to be refused",
        async () => {
          const again = await client("observer-outside").catch(() => undefined);
          await again?.close();
          return again === undefined;
        },
        5000,
        100,
      );
    } finally {
      await outside?.close().catch(() => {});
      await admin.close();
    }
  }, 30_000);
});
