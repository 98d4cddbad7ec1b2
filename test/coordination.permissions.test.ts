// A node executor acts and reports for its own node only, and the server itself says so: with the configuration
// generated from the permission matrix, executor/n1 may publish n1's results and write n1's leases and journals (and the
// shared coordination records and outcomes), and is refused n2's; the site executor keeps its rights over every node.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import {
  Buckets,
  issueSvid,
  journalKey,
  leaseKey,
  loadDevCa,
  nodeJournalKey,
  nodeLeaseKey,
  openBucket,
  outcomeKey,
  txnKey,
  txnParticipantKey,
} from "@x0/shared";
import { type SecureNats, startSecureNats, waitFor } from "@x0/shared/testing";

let secure: SecureNats;

/** A client with the SVID of `role` (per node: `name`), issued by the test's CA. */
async function connectAs(role: string, name?: string): Promise<NatsConnection> {
  const ca = await loadDevCa({
    trustDomain: "x0tta6bl4.mesh",
    certPem: readFileSync(join(secure.caDir, "ca.crt"), "utf8"),
    keyPem: readFileSync(join(secure.caDir, "ca.key"), "utf8"),
  });
  const svid = await issueSvid({ ca, role, name });
  const base = join(secure.caDir, `${role}-${name ?? "all"}`);
  writeFileSync(`${base}.crt`, svid.certPem);
  writeFileSync(`${base}.key`, svid.keyPem, { mode: 0o600 });
  return connect({
    servers: secure.nats.url,
    tls: { caFile: join(secure.caDir, "ca.crt"), certFile: `${base}.crt`, keyFile: `${base}.key` },
    reconnect: false,
    timeout: 3000,
  });
}

/** The server's own refusals of `user`'s publications, from its log. */
const refused = (user: string) =>
  secure.nats.log
    .filter((line) => line.includes(`Publish Violation - User "spiffe://x0tta6bl4.mesh/x0/${user}"`))
    .map((line) => /Subject "([^"]+)"/.exec(line)?.[1]);

beforeAll(async () => {
  secure = await startSecureNats({ nodes: ["n1", "n2"] });
  // The bucket exists, as a running stack has it.
  const admin = await connect({ servers: secure.nats.url, tls: secure.adminTls });
  await openBucket(admin, Buckets.outcomes);
  await admin.close();
}, 30_000);

afterAll(async () => {
  await secure?.dispose();
});

describe("coordination permissions", () => {
  test("coordination - a node executor publishes results for its own node; a result for another node is refused by the server", async () => {
    const n1 = await connectAs("executor", "n1");
    try {
      n1.publish("x0.action.n1", "{}");
      n1.publish("x0.action.n2", "{}");
      await n1.flush();
      await waitFor("the server's refusal", () => refused("executor/n1").includes("x0.action.n2"), 5000);
      expect(refused("executor/n1")).not.toContain("x0.action.n1");
    } finally {
      await n1.close();
    }
  });

  test("coordination - a node executor writes its own lease, journal and part record, the coordination record and the outcome; another node's are refused", async () => {
    const planId = crypto.randomUUID();
    const n1 = await connectAs("executor", "n1");
    try {
      const kv = await openBucket(n1, Buckets.outcomes);
      // Allowed: its own node's keys, and the keys every participant shares.
      for (const key of [nodeLeaseKey(planId, "n1"), nodeJournalKey(planId, "n1"), txnParticipantKey(planId, "n1"), txnKey(planId), outcomeKey(planId)])
        await kv.put(key, "{}");
      // Refused: another node's lease, journal and part record, and the site executor's keys of the plan.
      const foreign = [nodeLeaseKey(planId, "n2"), nodeJournalKey(planId, "n2"), txnParticipantKey(planId, "n2"), leaseKey(planId), journalKey(planId)];
      for (const key of foreign) {
        await expect(kv.put(key, "{}")).rejects.toThrow();
      }
      await waitFor("the server's refusals", () => refused("executor/n1").filter((subject) => subject?.includes(planId)).length >= foreign.length, 5000);
      expect(
        refused("executor/n1")
          .filter((subject) => subject?.includes(planId))
          .sort(),
      ).toEqual(foreign.map((key) => `$KV.${Buckets.outcomes}.${key}`).sort());
    } finally {
      await n1.close();
    }
  });

  test("coordination - the site executor keeps its rights over every node: any node's result, the plan's own lease and journal", async () => {
    const planId = crypto.randomUUID();
    const site = await connectAs("executor-site");
    try {
      site.publish("x0.action.n2", "{}");
      const kv = await openBucket(site, Buckets.outcomes);
      for (const key of [leaseKey(planId), journalKey(planId), outcomeKey(planId)]) await kv.put(key, "{}");
      await expect(kv.put(nodeLeaseKey(planId, "n2"), "{}")).rejects.toThrow();
      await site.flush();
      expect(refused("executor-site")).toEqual([`$KV.${Buckets.outcomes}.${nodeLeaseKey(planId, "n2")}`]);
    } finally {
      await site.close();
    }
  });
});
