import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { createDevCa, issueServerCertificate, issueSvid } from "../identity/dev-ca.ts";
import { loadPermissionMatrix, renderNatsConfig } from "../identity/permissions.ts";
import { type NatsServer, startNatsServer } from "../testing/nats.ts";
import { waitFor } from "../testing/process.ts";
import { StoredReader } from "./read-only.ts";

const TRUST_DOMAIN = "x0tta6bl4.mesh";
let dir: string;
let nats: NatsServer;
let admin: NatsConnection;
let observer: NatsConnection;
const refusals: string[] = [];

async function identity(name: string, issued: { certPem: string; keyPem: string }) {
  writeFileSync(join(dir, `${name}.crt`), issued.certPem);
  writeFileSync(join(dir, `${name}.key`), issued.keyPem, { mode: 0o600 });
  return { caFile: join(dir, "ca.crt"), certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "x0-read-only-"));
  const ca = await createDevCa({ trustDomain: TRUST_DOMAIN });
  writeFileSync(join(dir, "ca.crt"), ca.certPem);
  const server = await identity("nats", await issueServerCertificate({ ca }));
  nats = await startNatsServer({
    configText: renderNatsConfig(loadPermissionMatrix(), { trustDomain: TRUST_DOMAIN, nodes: ["n1"], observers: ["console"], tls: server }),
  });
  admin = await connect({ servers: nats.url, tls: await identity("admin", await issueSvid({ ca, role: "admin" })), reconnect: false });
  observer = await connect({
    servers: nats.url,
    tls: await identity("observer", await issueSvid({ ca, role: "observer", name: "console" })),
    inboxPrefix: "_INBOX.observer.console",
    reconnect: false,
  });
  void (async () => {
    for await (const status of observer.status()) if (status.type === "error") refusals.push(String(status.error));
  })();
  const jsm = await jetstreamManager(admin);
  await jsm.streams.add({ name: "X0_EVENTS", subjects: ["x0.anomaly.>", "x0.plan.>", "x0.action.>"] });
  await jsm.consumers.add("X0_EVENTS", { durable_name: "planner", ack_policy: "explicit" as never });
  const js = jetstream(admin);
  for (let index = 0; index < 70; index++) await js.publish(`x0.${index % 2 ? "plan" : "anomaly"}.n1`, JSON.stringify({ index }));
  await jsm.streams.deleteMessage("X0_EVENTS", 5);
  const kv = await new Kvm(admin).create("x0_topology");
  await kv.put("node.n1", "one");
  await kv.put("node.n2", "two");
  await kv.put("node.n1", "one again");
  await kv.put("link.n1.n2", "link");
  await kv.delete("node.n2");
}, 30_000);

afterAll(async () => {
  await observer?.close();
  await admin?.close();
  await nats?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("read-only observer", () => {
  test("read-only - reads a stream by sequence range, deleted messages left out", async () => {
    const reader = await StoredReader.open(observer);
    expect(await reader.bounds("X0_EVENTS")).toEqual({ first: 1, last: 70 });
    const messages = await reader.range("X0_EVENTS", 3, 70, { concurrency: 8 });
    expect(messages.map((m) => m.seq)).toEqual([3, 4, ...Array.from({ length: 65 }, (_, i) => i + 6)]);
    expect(JSON.parse(new TextDecoder().decode(messages[0]?.data))).toEqual({ index: 2 });
  });

  test("read-only - follows one subject filter and reads a bucket's latest values", async () => {
    const reader = await StoredReader.open(observer);
    const plans: number[] = [];
    for await (const message of reader.subjects("X0_EVENTS", "x0.plan.>", 60)) plans.push(message.seq);
    expect(plans).toEqual([60, 62, 64, 66, 68, 70]);
    const bucket = await reader.bucket("x0_topology", "node.>");
    expect([...bucket.keys()]).toEqual(["node.n1"]);
    expect(new TextDecoder().decode(bucket.get("node.n1")?.value)).toBe("one again");
    expect(await reader.key("x0_topology", "node.n2")).toBeUndefined();
    expect(new TextDecoder().decode((await reader.key("x0_topology", "link.n1.n2"))?.value)).toBe("link");
  });

  test("read-only - sees bucket changes live on $KV subjects", async () => {
    const seen: string[] = [];
    observer.subscribe("$KV.x0_topology.>", { callback: (_error, message) => void seen.push(message.subject) });
    await observer.flush();
    const kv = await new Kvm(admin).open("x0_topology");
    await kv.put("analysis.current", "{}");
    await waitFor("the put", () => seen.length === 1, 5000);
    expect(seen).toEqual(["$KV.x0_topology.analysis.current"]);
  });

  test("read-only - the server refuses consumers, writes and other streams", async () => {
    // A consumer create naming the planner's durable would rewrite it on nats-server 2.9: the observer may not send one.
    const jsm = await jetstreamManager(observer, { checkAPI: false });
    await expect(jsm.consumers.add("X0_EVENTS", { name: "planner", ack_policy: "none" as never })).rejects.toThrow();
    const kv = await new Kvm(observer).open("x0_topology").catch(() => undefined);
    if (kv) await expect(kv.put("node.n1", "forged")).rejects.toThrow();
    observer.publish("x0.plan.n1", "{}");
    observer.publish("$JS.API.STREAM.MSG.GET.KV_x0_outcomes", "{}");
    await observer.flush();
    await waitFor("the refusals", () => refusals.some((r) => r.includes('"x0.plan.n1"')), 5000);
    const text = refusals.join("\n");
    expect(text).toContain('Permissions Violation for Publish to "$JS.API.CONSUMER.CREATE.X0_EVENTS.planner"');
    expect(text).toContain('Permissions Violation for Publish to "$JS.API.STREAM.MSG.GET.KV_x0_outcomes"');
    const durable = await (await jetstreamManager(admin)).consumers.info("X0_EVENTS", "planner");
    expect(durable.config.durable_name).toBe("planner");
    expect(durable.config.ack_policy).toBe("explicit" as never);
  });
});
