// A swarm site over NATS: two member processes of site "lossy" (the shipped lab traces with 10 % standing loss) run
// adapter rounds under mTLS and the permission matrix, write signed adapters, and a real analyzer applies the adopted
// one to the site's nodes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { AdapterRound, AdapterVersion, Buckets, createLogger, createNativeBackend, Keyring, LINK_HEALTH_MODEL } from "@x0/shared";
import { type SecureNats, type ServiceProcess, startSecureNats, startServiceProcess, waitFor } from "@x0/shared/testing";
import { artefactVerifier, SHIPPED_SITE_TRAINING, SHIPPED_SITE_VALIDATION, verifyAdapter } from "@x0/swarm";
import { testClient } from "./helpers.ts";

const MEMBERS = ["n1", "n2"];
let secure: SecureNats;
let nc: NatsConnection;
const started: ServiceProcess[] = [];
const announcements: AdapterRound[] = [];

async function currentAdapter(): Promise<{ raw: unknown; record: AdapterVersion } | undefined> {
  const entry = await (await new Kvm(nc).open(Buckets.models)).get(`${LINK_HEALTH_MODEL}.site.lossy.current`);
  if (entry?.operation !== "PUT") return undefined;
  const raw = entry.json();
  return { raw, record: AdapterVersion.parse(raw) };
}

beforeAll(async () => {
  secure = await startSecureNats({ nodes: MEMBERS });
  nc = await testClient(secure.nats.url, secure.adminTls);
  nc.subscribe("x0.swarm.adapter.round.*", {
    callback: (error, msg) => {
      if (!error) announcements.push(AdapterRound.parse(msg.json()));
    },
  });
  for (const node of MEMBERS) {
    started.push(
      startServiceProcess("swarm", {
        ...secure.serviceEnv,
        X0_NODE: node,
        X0_INSTANCE: `swarm-${node}`,
        X0_LOG_LEVEL: "info",
        X0_SWARM_DATA: SHIPPED_SITE_TRAINING,
        X0_SWARM_DATA_NODE: node,
        // The model's own rounds never publish (two agents, three needed): the base stays v0 while the site adapts it.
        X0_SWARM_MIN_PARTICIPANTS: "3",
        X0_SWARM_ROUND_INTERVAL_MS: "200",
        X0_SWARM_ROUND_DEADLINE_MS: "3000",
        X0_SWARM_SITE: "lossy",
        X0_SWARM_SITE_VALIDATION: SHIPPED_SITE_VALIDATION,
        X0_SWARM_SITE_EXPECTED_AGENTS: "2",
        X0_SWARM_LEASE_MS: "1500",
        X0_SWARM_LEASE_SKEW_MS: "100",
      }),
    );
  }
  started.push(
    startServiceProcess("analyzer", {
      ...secure.serviceEnv,
      X0_LOG_LEVEL: "info",
      X0_ANALYZER_MODEL: "shadow",
      X0_ANALYZER_SITES: "n1=lossy,n2=lossy",
    }),
  );
  await Promise.all(started.map((service) => service.waitReady(30_000)));
}, 60_000);

afterAll(async () => {
  await nc?.close();
  await Promise.all(started.map((service) => service.stop()));
  await secure?.dispose();
});

describe("swarm site over NATS", () => {
  test("site - members' adapter rounds write signed adapters on the base, and the analyzer applies the adopted one to the site", async () => {
    await waitFor("an adopted adapter both members trained", async () => (await currentAdapter())?.record.participants.length === 2, 40_000);
    const adopted = (await currentAdapter()) as { raw: unknown; record: AdapterVersion };
    expect(adopted.record).toMatchObject({ site: "lossy", base_version: 0, status: "adopted", aggregator: "fedavg", adapter: { rank: 4, alpha: 8 } });
    expect([...adopted.record.participants].sort()).toEqual(MEMBERS);
    expect(adopted.record.validation.macro_f1).toBeGreaterThanOrEqual(adopted.record.current_macro_f1);
    // It verifies through the keyring with its coordinator's swarm identity, and names the round its lease holder announced.
    const keyring = await Keyring.open(nc, createLogger({ service: "test", node: "t", level: "error" }));
    try {
      const loaded = await verifyAdapter(artefactVerifier(createNativeBackend(), keyring), adopted.raw);
      expect(MEMBERS).toContain(loaded.record.coordinator);
    } finally {
      keyring.stop();
    }
    expect(announcements.find((round) => round.round_id === adopted.record.round_id)?.coordinator).toBe(adopted.record.coordinator);
    // The analyzer applies the latest adopted adapter on the model it loaded.
    const analyzer = started.at(-1) as ServiceProcess;
    await waitFor(
      "the analyzer applying site lossy's adapter",
      async () => {
        const status = (await (await fetch(`http://127.0.0.1:${analyzer.port}/status`)).json()) as {
          details?: { model?: { version?: number; adapters?: Record<string, number> } };
        };
        const latest = (await currentAdapter())?.record.version;
        return status.details?.model?.version === 0 && latest !== undefined && status.details?.model?.adapters?.lossy === latest;
      },
      15_000,
    );
    const metrics = await (await fetch(`http://127.0.0.1:${analyzer.port}/metrics`)).text();
    expect(metrics).toMatch(/x0_analyzer_site_adapter_version\{site="lossy"[^}]*\} \d+/);
    expect(metrics).toMatch(/x0_analyzer_model_loads_total\{outcome="loaded",kind="adapter"[^}]*\} [1-9]/);
  }, 70_000);
});
