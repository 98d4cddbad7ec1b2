// The NATS configurations of docker-compose and Kubernetes are what `bun run docs:nats` writes from the permission matrix
// (the Kubernetes NATS pod's own users: cli/src/certs/k8s-users.test.ts).
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDevCa, issueServerCertificate, loadPermissionMatrix, NATS_ROUTE_NAME, spiffeIdOf } from "@x0/shared";
import { REPO_ROOT } from "@x0/shared/testing";
import { COMPOSE_NODES, composeNatsConf, generatedFiles, NATS_VERSION } from "../../scripts/docs/nats-config.ts";
import { checkNatsConfig } from "./tools.ts";

const matrix = loadPermissionMatrix();
const TD = "x0tta6bl4.mesh";

describe("nats-config", () => {
  test("nats-config - the committed NATS configurations are what bun run docs:nats writes", () => {
    const files = generatedFiles();
    expect(files.map((file) => file.path).sort()).toEqual([
      "k8s/base/nats.conf",
      "k8s/overlays/dev/nats.conf",
      "k8s/overlays/prod/nats.conf",
      "ops/nats/nats.conf",
    ]);
    for (const file of files) expect(readFileSync(join(REPO_ROOT, file.path), "utf8"), `${file.path}: run bun run docs:nats`).toBe(file.text);
    expect(NATS_VERSION).toMatch(/^2\.10\.\d+$/);
  });

  test("nats-config - compose: a user per identity of the matrix (node-scoped ones for its node), routes only for the route user, accepted by nats-server", async () => {
    const conf = composeNatsConf(matrix);
    const users = [...conf.matchAll(/^ {6}user: "(.+)"$/gm)].map((match) => match[1]);
    const expected = Object.entries(matrix.roles).flatMap(([role, permissions]) =>
      permissions.per_node ? COMPOSE_NODES.map((node) => spiffeIdOf(TD, role, node)) : permissions.per_name ? [] : [spiffeIdOf(TD, role)],
    );
    expect(users.sort()).toEqual(expected.sort());
    expect(conf).toContain("x0.telemetry.n1");
    expect(/cluster \{[\s\S]*authorization \{\s*user: (\S+)/.exec(conf)?.[1]).toBe(NATS_ROUTE_NAME);
    const dir = mkdtempSync(join(tmpdir(), "x0-compose-conf-"));
    try {
      const ca = await createDevCa({ trustDomain: TD });
      for (const name of ["nats", "route"]) {
        const issued = await issueServerCertificate({ ca, dnsNames: [name === "route" ? NATS_ROUTE_NAME : "nats", "nats-1", "nats-2", "nats-3"] });
        writeFileSync(join(dir, `${name}.crt`), issued.certPem);
        writeFileSync(join(dir, `${name}.key`), issued.keyPem);
      }
      writeFileSync(join(dir, "ca.crt"), ca.certPem);
      const checked = checkNatsConfig(conf, { from: "/certs/", dir, env: { SERVER_NAME: "nats-1" } });
      expect(checked.code, checked.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
