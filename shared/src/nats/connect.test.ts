import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { NatsConnection } from "@nats-io/transport-node";
import { type SecureCluster, startSecureCluster, waitFor } from "../testing/mod.ts";
import { connectNats } from "./connect.ts";

let cluster: SecureCluster;
const connections: NatsConnection[] = [];

beforeAll(async () => {
  cluster = await startSecureCluster({ nodes: ["n1"] });
}, 60_000);

afterAll(async () => {
  await Promise.all(connections.map((nc) => nc.close()));
  await cluster?.dispose();
});

const connectAdmin = async (onConnectionChange?: (connected: boolean) => void) => {
  const nc = await connectNats({ servers: cluster.urls, service: "test", instance: "connect", tls: cluster.adminTls, onConnectionChange });
  connections.push(nc);
  return nc;
};

describe("connectNats on a cluster", () => {
  test("connect - the server list is tried in random order, so clients spread over the servers", async () => {
    const servers = new Set<string>();
    for (let i = 0; i < 12; i += 1) servers.add((await connectAdmin()).getServer());
    expect(servers.size).toBeGreaterThan(1);
    for (const server of servers) expect(cluster.urls.map((url) => new URL(url).host)).toContain(server);
  }, 30_000);

  test("connect - a client whose server is killed reconnects to another and its subscriptions keep receiving", async () => {
    const changes: boolean[] = [];
    const nc = await connectAdmin((connected) => changes.push(connected));
    const received: string[] = [];
    const subscription = nc.subscribe("test.failover");
    void (async () => {
      for await (const message of subscription) received.push(message.string());
    })();
    await nc.flush();
    const before = nc.getServer();
    const victim = cluster.servers.find((server) => server.url.endsWith(before));
    if (!victim) throw new Error(`no server of the cluster is ${before}`);
    await victim.stop("SIGKILL");
    await waitFor("the client to reconnect to another server", () => nc.getServer() !== before && !nc.isClosed() && changes.at(-1) === true, 15_000, 50);
    await nc.flush();
    const publisher = await connectAdmin();
    publisher.publish("test.failover", "after the kill");
    await waitFor("the message published after the kill", () => received.includes("after the kill"), 10_000);
    expect(changes).toEqual([true, false, true]);
    await victim.start();
    await cluster.waitFormed();
  }, 60_000);
});
