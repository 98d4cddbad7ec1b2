// The planner as a process on a real nats-server: announcements in x0_topology, anomalies and results in X0_EVENTS.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ActionResult, type Anomaly, announcementKey, Buckets, connectNats, openBucket, Plan } from "@x0/shared";
import { anomalyFixture, type NatsServer, type ServiceProcess, startNatsServer, startServiceProcess, waitFor } from "@x0/shared/testing";
import { gridAnnouncements } from "./testing.ts";

let nats: NatsServer;
let nc: Awaited<ReturnType<typeof connectNats>>;
let planner: ServiceProcess;
const plans: Plan[] = [];
const env = () => ({ X0_NATS_SERVERS: nats.url, X0_NODE: "n1", X0_LOG_LEVEL: "warn" });

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connectNats({ servers: [nats.url], service: "planner-test", instance: "main" });
  const topology = await openBucket(nc, Buckets.topology);
  for (const announcement of gridAnnouncements(3, 3)) await topology.put(announcementKey(announcement.node), JSON.stringify(announcement));
  nc.subscribe("x0.plan.>", {
    callback: (_error, msg) => {
      plans.push(Plan.parse(msg.json()));
    },
  });
  planner = startServiceProcess("planner", env());
  await planner.waitReady(30_000);
}, 60_000);

afterAll(async () => {
  await planner?.stop();
  await nc?.close();
  await nats?.dispose();
});

// A request on a subject X0_EVENTS captures is a JetStream publish: the reply is the stream's ack.
const store = async (subject: string, body: unknown) => {
  await nc.request(subject, JSON.stringify(body), { timeout: 5000 });
};

describe("planner process", () => {
  test("planner process - a link_down with a target becomes one signed route plan; its result counts in x0_outcomes", async () => {
    const down: Anomaly = anomalyFixture({ node: "n1", target: { type: "link", id: "link:n1|n2", nodes: ["n1", "n2"] } });
    await store("x0.anomaly.n1", down);
    await waitFor("route plan", () => plans.length === 1, 10_000);
    const [plan] = plans;
    expect(plan?.rule).toBe("link_down/reroute-around");
    expect(plan?.signature?.alg).toMatch(/^ML-DSA-65/);
    expect(plan?.actions.filter((action) => action.type === "route_replace").length).toBeGreaterThan(0);
    const topology = await openBucket(nc, Buckets.topology);
    await waitFor("link record", async () => (await topology.get("link.n1.n2"))?.json<{ state: string }>().state === "down", 5000);
    expect((await topology.get("routes.current"))?.json<{ plan_id: string }>().plan_id).toBe(plan?.plan_id as string);

    const now = Date.now();
    const result: ActionResult = {
      v: 1,
      result_id: crypto.randomUUID(),
      plan_id: plan?.plan_id as string,
      incident_id: down.incident_id,
      node: "n1",
      status: "verified",
      dry_run: false,
      steps: [],
      started_at: now,
      finished_at: now,
      verified_at: now,
    };
    await store("x0.action.n1", result);
    const outcomes = await openBucket(nc, Buckets.outcomes);
    await waitFor("stats", async () => (await outcomes.get("stats.link_down.reroute-around"))?.operation === "PUT", 10_000);
    expect((await outcomes.get("stats.link_down.reroute-around"))?.json()).toMatchObject({ attempts: 1, verified: 1 });

    // A restarted planner resumes: the resolution plans the routes back.
    await planner.stop();
    planner = startServiceProcess("planner", env());
    await planner.waitReady(30_000);
    await store("x0.anomaly.n1", { ...down, state: "resolved", update: 1, resolution: "cleared" });
    await waitFor("restore plan", () => plans.length === 2, 10_000);
    expect(plans[1]?.rule).toBe("link_down/restore");
    expect(plans[1]?.actions.find((action) => action.params.node === "n1" && action.params.destination === "n2")?.params.dev).toBe("n1-n2");
  }, 90_000);

  test("planner process - an anomaly without a target still yields a plan (fallback)", async () => {
    await store("x0.anomaly.lab1", anomalyFixture({ node: "lab1", kind: "link_degraded", interface: "mesh0" }));
    await waitFor("fallback plan", () => plans.some((plan) => plan.node === "lab1"), 10_000);
    expect(plans.find((plan) => plan.node === "lab1")?.rule).toBe("no-topology-notify");
  }, 30_000);
});
