import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadPermissionMatrix, NATS_ROUTE_NAME, natsUsers, PermissionMatrixError, renderNatsConfig, supportsTlsMinVersion } from "./permissions.ts";

const matrix = loadPermissionMatrix();

describe("permission matrix", () => {
  test("permissions - each role publishes only its own subjects, as the matrix says", () => {
    const users = natsUsers(matrix, { trustDomain: "x0tta6bl4.mesh", nodes: ["n1", "n2"], observers: ["grafana"], voters: ["alice"] });
    const of = (id: string) => users.find((u) => u.user === `spiffe://x0tta6bl4.mesh/x0/${id}`)?.permissions;
    const x0Publish = (id: string) => (((of(id)?.publish ?? { allow: [] }) as { allow: string[] }).allow ?? []).filter((s) => s.startsWith("x0."));
    expect(x0Publish("monitor/n1")).toEqual(["x0.telemetry.n1", "x0.overdue.n1", "x0.dlq.monitor"]);
    expect(x0Publish("monitor/n2")).toEqual(["x0.telemetry.n2", "x0.overdue.n2", "x0.dlq.monitor"]);
    expect(x0Publish("analyzer")).toEqual(["x0.anomaly.*", "x0.dlq.analyzer"]);
    expect(x0Publish("planner")).toEqual(["x0.plan.*", "x0.dlq.planner", "x0.rag.search", "x0.gov.proposal.*"]);
    expect(x0Publish("executor/n1")).toEqual(["x0.action.n1", "x0.dlq.executor", "x0.probe.*"]);
    expect(x0Publish("executor-site")).toEqual(["x0.action.*", "x0.dlq.executor-site", "x0.probe.*"]);
    expect(x0Publish("swarm/n1")).toEqual(["x0.swarm.round.*", "x0.swarm.update.n1", "x0.swarm.adapter.round.*", "x0.swarm.adapter.update.n1", "x0.dlq.swarm"]);
    expect(x0Publish("swarm/n2")).toEqual(["x0.swarm.round.*", "x0.swarm.update.n2", "x0.swarm.adapter.round.*", "x0.swarm.adapter.update.n2", "x0.dlq.swarm"]);
    // An observer reads by message get only: no consumer create, no write, nothing of another observer's inbox.
    expect(of("observer/grafana")?.publish).toEqual({
      allow: [
        "$JS.API.STREAM.INFO.X0_EVENTS",
        "$JS.API.STREAM.MSG.GET.X0_EVENTS",
        "$JS.API.DIRECT.GET.X0_EVENTS",
        "$JS.API.DIRECT.GET.X0_EVENTS.>",
        "$JS.API.STREAM.INFO.KV_x0_topology",
        "$JS.API.STREAM.MSG.GET.KV_x0_topology",
        "$JS.API.DIRECT.GET.KV_x0_topology",
        "$JS.API.DIRECT.GET.KV_x0_topology.>",
        "$JS.API.STREAM.INFO.KV_x0_keyring",
        "$JS.API.STREAM.MSG.GET.KV_x0_keyring",
        "$JS.API.DIRECT.GET.KV_x0_keyring",
        "$JS.API.DIRECT.GET.KV_x0_keyring.>",
        "$JS.API.STREAM.INFO.KV_x0_gov",
        "$JS.API.STREAM.MSG.GET.KV_x0_gov",
        "$JS.API.DIRECT.GET.KV_x0_gov",
        "$JS.API.DIRECT.GET.KV_x0_gov.>",
      ],
    });
    expect(of("observer/grafana")?.subscribe).toEqual({
      allow: [
        "x0.telemetry.*",
        "x0.overdue.*",
        "x0.anomaly.*",
        "x0.plan.*",
        "x0.action.*",
        "x0.gov.proposal.*",
        "_INBOX.observer.grafana.>",
        "$KV.x0_topology.>",
        "$KV.x0_keyring.>",
        "$KV.x0_gov.>",
      ],
    });
    expect(of("monitor/n1")?.subscribe).toEqual({ allow: ["x0.probe.n1", "_INBOX.>"] });
    // A voter submits votes and reads x0_gov by message get: it cannot propose, publish plans or create consumers.
    expect(x0Publish("voter/alice")).toEqual(["x0.gov.vote"]);
    expect(of("voter/alice")?.subscribe).toEqual({ allow: ["x0.gov.proposal.*", "_INBOX.voter.alice.>", "$KV.x0_gov.>", "$KV.x0_keyring.>"] });
    // Every role of the matrix has a user, per node and per observer where it says so.
    expect(users.map((u) => u.user).sort()).toEqual(
      [
        "admin",
        "analyzer",
        "crypto",
        "executor-site",
        "executor/n1",
        "executor/n2",
        "monitor/n1",
        "monitor/n2",
        "observer/grafana",
        "planner",
        "rag",
        "swarm/n1",
        "swarm/n2",
        "voter/alice",
      ].map((id) => `spiffe://x0tta6bl4.mesh/x0/${id}`),
    );
  });

  test("permissions - the server configuration requires and maps client certificates", () => {
    const text = renderNatsConfig(matrix, {
      trustDomain: "td",
      nodes: ["n1"],
      tls: { certFile: "s.crt", keyFile: "s.key", caFile: "ca.crt" },
      serverVersion: "2.10.4",
    });
    const config = JSON.parse(text);
    expect(config.tls).toEqual({ cert_file: "s.crt", key_file: "s.key", ca_file: "ca.crt", verify_and_map: true, min_version: "1.2", timeout: 2 });
    expect(config.authorization.users).toEqual(natsUsers(matrix, { trustDomain: "td", nodes: ["n1"] }));
    expect(supportsTlsMinVersion("2.9.10")).toBe(false);
    expect(
      JSON.parse(renderNatsConfig(matrix, { trustDomain: "td", nodes: [], tls: { certFile: "", keyFile: "", caFile: "" }, serverVersion: "2.9.10" })).tls
        .min_version,
    ).toBeUndefined();
  });

  test("permissions - a cluster member gets its name and mTLS routes that accept only the route certificate", () => {
    const cluster = {
      name: "x0",
      listen: "127.0.0.1:6222",
      routes: ["nats://127.0.0.1:6222", "nats://127.0.0.1:6223"],
      tls: { certFile: "r.crt", keyFile: "r.key", caFile: "ca.crt" },
    };
    const render = (serverVersion: string) =>
      JSON.parse(
        renderNatsConfig(matrix, {
          trustDomain: "td",
          nodes: ["n1"],
          tls: { certFile: "s.crt", keyFile: "s.key", caFile: "ca.crt" },
          serverVersion,
          serverName: "x0-1",
          cluster,
        }),
      );
    const config = render("2.9.10");
    expect(config.server_name).toBe("x0-1");
    expect(config.cluster).toEqual({
      name: "x0",
      listen: "127.0.0.1:6222",
      routes: cluster.routes,
      tls: { cert_file: "r.crt", key_file: "r.key", ca_file: "ca.crt", verify_and_map: true, timeout: 2 },
      authorization: { user: NATS_ROUTE_NAME },
    });
    // The client side is the single server's, unchanged.
    expect(config.tls.verify_and_map).toBe(true);
    expect(config.authorization.users).toEqual(natsUsers(matrix, { trustDomain: "td", nodes: ["n1"] }));
    expect(render("2.10.4").cluster.tls.min_version).toBe("1.2");
    expect(JSON.parse(renderNatsConfig(matrix, { trustDomain: "td", nodes: [], tls: { certFile: "", keyFile: "", caFile: "" } }))).not.toContainKey("cluster");
  });

  test("permissions - an invalid matrix is refused with the reason", () => {
    const dir = mkdtempSync(join(tmpdir(), "x0-matrix-"));
    try {
      const path = join(dir, "bad.yaml");
      writeFileSync(path, "version: 1\nroles:\n  monitor:\n    description: x\n    publish: ['x0 telemetry']\n    subscribe: []\n");
      expect(() => loadPermissionMatrix(path)).toThrow(PermissionMatrixError);
      expect(() => loadPermissionMatrix(join(dir, "missing.yaml"))).toThrow(/cannot read/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
