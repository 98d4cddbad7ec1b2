import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { ConfigError, createDevCa, issueServerCertificate, issueSvid, loadPermissionMatrix, spiffeIdOf } from "@x0/shared";
import { freePort, waitFor } from "@x0/shared/testing";
import { KubeApiError, UsageError } from "../errors.ts";
import { runCerts } from "./command.ts";
import { inClusterApi, type KubeApi, k8sUsersConf, namedIdentitiesOf, nodeAgentNodes, runK8sUsers, type SyncLog, syncUsers, watchUsers } from "./k8s-users.ts";

const matrix = loadPermissionMatrix();
const TD = "x0tta6bl4.mesh";
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "x0-k8s-users-"));
  dirs.push(dir);
  return dir;
};

/** A Kubernetes API that answers the pod list with pods on `nodes()`, or fails with `status()` when it is not 200. */
function fakeApi(nodes: () => string[], status: () => number = () => 200): { api: KubeApi; requests: string[]; stop(): void } {
  const requests: string[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request) {
      const url = new URL(request.url);
      requests.push(`${request.headers.get("authorization")} ${url.pathname}?${url.searchParams.get("labelSelector")}`);
      if (status() !== 200) return new Response("forbidden", { status: status() });
      const items = nodes().map((nodeName, index) => ({ metadata: { name: `x0-node-agent-${index}` }, spec: { nodeName } }));
      // A pod not scheduled yet has no node.
      return Response.json({ kind: "PodList", items: [...items, { metadata: { name: "x0-node-agent-pending" }, spec: {} }] });
    },
  });
  return { api: { url: `http://127.0.0.1:${server.port}`, namespace: "x0", token: () => "token" }, requests, stop: () => server.stop(true) };
}

describe("x0 certs k8s-users", () => {
  test("k8s-users - the node agent's nodes from the API; names that cannot be node ids are left out", async () => {
    const fake = fakeApi(() => ["node-b", "node-a", "node-a", "ip-10-0-0-1.ec2.internal"]);
    try {
      expect(await nodeAgentNodes(fake.api)).toEqual({ usable: ["node-a", "node-b"], unusable: ["ip-10-0-0-1.ec2.internal"] });
      expect(fake.requests).toEqual(["Bearer token /api/v1/namespaces/x0/pods?app.kubernetes.io/name=x0-node-agent"]);
      const text = k8sUsersConf({ matrix, trustDomain: TD, nodes: ["node-a"] });
      for (const role of ["monitor", "executor", "swarm"]) expect(text).toContain(`user: "${spiffeIdOf(TD, role, "node-a")}"`);
      expect(text).toContain(`user: "${spiffeIdOf(TD, "planner")}"`);
      expect(text).not.toContain("/x0/observer/");
      // Observers and voters by name (X0_NATS_OBSERVERS, X0_NATS_VOTERS of the x0-nats-identities ConfigMap).
      const named = k8sUsersConf({
        matrix,
        trustDomain: TD,
        nodes: ["node-a"],
        ...namedIdentitiesOf({ X0_NATS_OBSERVERS: "grafana, siem", X0_NATS_VOTERS: "alice" }),
      });
      for (const [role, name] of [
        ["observer", "grafana"],
        ["observer", "siem"],
        ["voter", "alice"],
      ] as const) {
        expect(named).toContain(`user: "${spiffeIdOf(TD, role, name)}"`);
      }
    } finally {
      fake.stop();
    }
  });

  test("k8s-users - a refused or unreachable API is a KubeApiError; a bad name in the environment a ConfigError", async () => {
    const fake = fakeApi(
      () => [],
      () => 403,
    );
    fake.stop();
    await expect(nodeAgentNodes(fake.api)).rejects.toBeInstanceOf(KubeApiError);
    const refusing = fakeApi(
      () => [],
      () => 403,
    );
    try {
      await expect(nodeAgentNodes(refusing.api)).rejects.toThrow(/: 403 forbidden$/);
    } finally {
      refusing.stop();
    }
    expect(() => namedIdentitiesOf({ X0_NATS_VOTERS: "alice,bob smith" })).toThrow(ConfigError);
    expect(() => namedIdentitiesOf({ X0_NATS_VOTERS: "alice,bob smith" })).toThrow(/X0_NATS_VOTERS.*bob smith/);
  });

  test("k8s-users - the in-cluster API from the service account; outside a pod a ConfigError", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "namespace"), "x0\n");
    writeFileSync(join(dir, "token"), "t1\n");
    writeFileSync(join(dir, "ca.crt"), "PEM");
    const api = inClusterApi({ KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "6443" }, dir);
    expect(api).toMatchObject({ url: "https://[fd00::1]:6443", namespace: "x0", ca: "PEM" });
    // Bound tokens rotate: each request reads the current one.
    writeFileSync(join(dir, "token"), "t2\n");
    expect(api.token()).toBe("t2");
    expect(inClusterApi({ KUBERNETES_SERVICE_HOST: "10.0.0.1" }, dir).url).toBe("https://10.0.0.1:443");
    expect(() => inClusterApi({}, dir)).toThrow(ConfigError);
    expect(() => inClusterApi({ KUBERNETES_SERVICE_HOST: "10.0.0.1" }, join(dir, "missing"))).toThrow(KubeApiError);
  });

  test("k8s-users - one run writes the file and logs it; --interval-s and --health-port need --watch and a valid number", async () => {
    const dir = tempDir();
    const fake = fakeApi(() => ["node-a"]);
    const lines: string[] = [];
    const output = { out: (text: string) => lines.push(text), err: (text: string) => lines.push(text) };
    try {
      const out = join(dir, "auth", "authorization.conf");
      expect(await runK8sUsers({ out }, { X0_TRUST_DOMAIN: "example.org", X0_NATS_OBSERVERS: "grafana" }, output, { api: fake.api })).toBe(0);
      const text = readFileSync(out, "utf8");
      expect(text).toContain(`user: "${spiffeIdOf("example.org", "monitor", "node-a")}"`);
      expect(text).toContain(`user: "${spiffeIdOf("example.org", "observer", "grafana")}"`);
      expect(JSON.parse(lines[0] as string)).toMatchObject({
        level: "info",
        service: "nats-users",
        msg: "NATS users written",
        nodes: ["node-a"],
        reloaded: false,
      });
      await expect(runK8sUsers({ out, "health-port": "8090" }, {}, output, { api: fake.api })).rejects.toThrow(UsageError);
      await expect(runK8sUsers({ out, watch: true, "interval-s": "0" }, {}, output, { api: fake.api })).rejects.toThrow(/--interval-s "0"/);
      await expect(runK8sUsers({ out, watch: true, "health-port": "70000" }, {}, output, { api: fake.api })).rejects.toThrow(/--health-port/);
      // Through x0 certs, outside a pod: the in-cluster API is not there.
      await expect(runCerts(["k8s-users", "--out", out], {}, output)).rejects.toThrow(/KUBERNETES_SERVICE_HOST/);
    } finally {
      fake.stop();
    }
  });

  test("k8s-users - --watch follows the nodes; /healthz while the loop runs, /readyz only after a successful look", async () => {
    const dir = tempDir();
    let nodes = ["node-a"];
    let status = 403;
    const fake = fakeApi(
      () => nodes,
      () => status,
    );
    const healthPort = freePort();
    const errors: string[] = [];
    const log: SyncLog = (level, msg) => void (level === "error" && errors.push(msg));
    const out = join(dir, "authorization.conf");
    const stop = new AbortController();
    const watching = watchUsers({ api: fake.api, out, trustDomain: TD, matrix, log, intervalMs: 20, healthPort, signal: stop.signal });
    const health = (path: string) => fetch(`http://127.0.0.1:${healthPort}${path}`).then((response) => response.status);
    try {
      await waitFor("a failed look", async () => errors.length > 0);
      expect([await health("/healthz"), await health("/readyz"), await health("/other")]).toEqual([200, 503, 404]);
      expect(existsSync(out)).toBe(false);
      status = 200;
      await waitFor("ready", async () => (await health("/readyz")) === 200);
      expect(readFileSync(out, "utf8")).toContain(spiffeIdOf(TD, "monitor", "node-a"));
      nodes = ["node-a", "node-b"];
      await waitFor("the users of node-b", () => readFileSync(out, "utf8").includes(spiffeIdOf(TD, "monitor", "node-b")));
    } finally {
      stop.abort();
      await watching;
      fake.stop();
    }
    expect(await health("/healthz").catch(() => "closed")).toBe("closed");
  });

  test("k8s-users - a new node's monitor is refused until the users sync, then admitted after nats-server's reload", async () => {
    const dir = tempDir();
    let nodes = ["node-a"];
    const fake = fakeApi(() => nodes);
    const ca = await createDevCa({ trustDomain: TD });
    const server = await issueServerCertificate({ ca });
    const file = (name: string, text: string) => {
      writeFileSync(join(dir, name), text);
      return join(dir, name);
    };
    const tls = { certFile: file("server.crt", server.certPem), keyFile: file("server.key", server.keyPem), caFile: file("ca.crt", ca.certPem) };
    const svid = await issueSvid({ ca, role: "monitor", name: "node-b" });
    const client = { certFile: file("monitor.crt", svid.certPem), keyFile: file("monitor.key", svid.keyPem), caFile: tls.caFile };
    const out = join(dir, "auth", "authorization.conf");
    const pidFile = join(dir, "nats.pid");
    const logged: string[] = [];
    const options = { api: fake.api, out, trustDomain: TD, matrix, pidFile, log: ((_level, msg) => void logged.push(msg)) satisfies SyncLog };
    expect(await syncUsers(options)).toEqual({ changed: true, nodes: ["node-a"] });
    const port = freePort();
    const monitorPort = freePort();
    // The pod's layout: the configuration includes the users file from a folder beside it.
    const config = file(
      "nats.conf",
      [
        `port: ${port}`,
        `http: "127.0.0.1:${monitorPort}"`,
        `pid_file: ${JSON.stringify(pidFile)}`,
        `tls { cert_file: ${JSON.stringify(tls.certFile)}, key_file: ${JSON.stringify(tls.keyFile)}, ca_file: ${JSON.stringify(tls.caFile)}, verify_and_map: true }`,
        'include "auth/authorization.conf"',
      ].join("\n"),
    );
    const child = Bun.spawn([process.env.NATS_SERVER_BIN ?? "nats-server", "-c", config], { stdout: "ignore", stderr: "ignore" });
    try {
      await waitFor("nats-server", () =>
        fetch(`http://127.0.0.1:${monitorPort}/healthz`).then(
          (response) => response.ok,
          () => false,
        ),
      );
      const attempt = async () => {
        try {
          const nc = await connect({ servers: `tls://127.0.0.1:${port}`, tls: client, timeout: 2000, reconnect: false });
          await nc.close();
          return true;
        } catch {
          return false;
        }
      };
      expect(await attempt()).toBe(false);
      nodes = ["node-a", "node-b"];
      expect(await syncUsers(options)).toEqual({ changed: true, nodes: ["node-a", "node-b"] });
      await waitFor("monitor/node-b admitted after the reload", attempt, 10_000, 200);
      expect(await syncUsers(options)).toEqual({ changed: false, nodes: ["node-a", "node-b"] });
      expect(logged).toEqual(["NATS users written", "NATS users written"]);
    } finally {
      child.kill("SIGKILL");
      await child.exited;
      fake.stop();
    }
  }, 60_000);
});
