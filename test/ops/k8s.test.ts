// Every kustomize overlay renders, and every object validates against the Kubernetes (and Prometheus operator) schemas.
import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDevCa, issueServerCertificate, NATS_ROUTE_NAME } from "@x0/shared";
import { REPO_ROOT } from "@x0/shared/testing";
import { parseAllDocuments } from "yaml";
import { z } from "zod";
import { checkNatsConfig, run, toolPath } from "./tools.ts";

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec: {
    replicas?: number;
    selector?: { matchLabels: Record<string, string> };
    podSelector?: Record<string, unknown>;
    template?: {
      spec: { containers: Container[]; hostNetwork?: boolean; tolerations?: unknown[]; volumes?: { name: string; secret?: { secretName: string } }[] };
    };
  };
  data?: Record<string, string>;
}

interface Container {
  name: string;
  livenessProbe?: { httpGet?: { path: string } };
  readinessProbe?: { httpGet?: { path: string } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: { capabilities?: { add?: string[] } };
  volumeMounts?: { mountPath: string; name?: string }[];
}

const OVERLAYS = ["dev", "prod"];

/** Renders an overlay with `kubectl kustomize`. */
async function render(overlay: string): Promise<K8sObject[]> {
  const { code, stdout, stderr } = await run([toolPath("kubectl"), "kustomize", join(REPO_ROOT, "k8s", "overlays", overlay)]);
  if (code !== 0) throw new Error(`kubectl kustomize ${overlay} failed: ${stderr}`);
  return parseAllDocuments(stdout).map((document) => ({ spec: {}, ...(document.toJSON() as Omit<K8sObject, "spec">) }) as K8sObject);
}

const selector = z.object({ matchLabels: z.record(z.string(), z.string()) }).strict();
/**
 * ClusterSPIFFEID (spire-controller-manager, spire.spiffe.io/v1alpha1) has no kubernetes-models package:
 * this schema follows the fields of its documented spec (docs/clusterspiffeid-crd.md in spiffe/spire-controller-manager).
 */
const ClusterSPIFFEID = z
  .object({
    apiVersion: z.literal("spire.spiffe.io/v1alpha1"),
    kind: z.literal("ClusterSPIFFEID"),
    metadata: z.object({ name: z.string().regex(/^[a-z0-9-]+$/), labels: z.record(z.string(), z.string()).optional() }).strict(),
    spec: z
      .object({
        spiffeIDTemplate: z.string().startsWith("spiffe://"),
        podSelector: selector.optional(),
        namespaceSelector: selector.optional(),
        dnsNameTemplates: z.array(z.string()).optional(),
        workloadSelectorTemplates: z.array(z.string().regex(/^k8s:[a-z-]+:.+$/)).optional(),
        ttl: z
          .string()
          .regex(/^\d+(s|m|h)$/)
          .optional(),
        jwtTtl: z
          .string()
          .regex(/^\d+(s|m|h)$/)
          .optional(),
        federatesWith: z.array(z.string()).optional(),
        admin: z.boolean().optional(),
        downstream: z.boolean().optional(),
        autoPopulateDNSNames: z.boolean().optional(),
        fallback: z.boolean().optional(),
      })
      .strict(),
  })
  .strict();

const CLUSTER_SCOPED = new Set(["Namespace", "ClusterSPIFFEID"]);

/** The kubernetes-models class for an object's apiVersion and kind. */
async function modelOf(object: K8sObject): Promise<new (data: unknown) => { validate(): void }> {
  if (object.kind === "ClusterSPIFFEID") {
    return class {
      constructor(private readonly data: unknown) {}
      validate(): void {
        ClusterSPIFFEID.parse(this.data);
      }
    };
  }
  const [group, version] = object.apiVersion.includes("/") ? object.apiVersion.split("/") : ["", object.apiVersion];
  const module =
    group === "monitoring.coreos.com"
      ? `@kubernetes-models/prometheus-operator/${group}/${version}/${object.kind}`
      : `kubernetes-models/${group ? `${group}/` : ""}${version}/${object.kind}`;
  const loaded = (await import(module)) as Record<string, new (data: unknown) => { validate(): void }>;
  const model = loaded[object.kind];
  if (!model) throw new Error(`no model for ${object.apiVersion} ${object.kind}`);
  return model;
}

const containersOf = (object: K8sObject): Container[] => object.spec.template?.spec.containers ?? [];
const appOf = (object: K8sObject) => object.spec.selector?.matchLabels["app.kubernetes.io/name"];

describe("k8s", () => {
  for (const overlay of OVERLAYS) {
    test(`k8s - the ${overlay} overlay renders and every object validates against its schema`, async () => {
      const objects = await render(overlay);
      expect(objects.length).toBeGreaterThan(10);
      for (const object of objects) {
        const Model = await modelOf(object);
        try {
          new Model(object).validate();
        } catch (error) {
          throw new Error(`${overlay}: ${object.kind}/${object.metadata.name}: ${(error as Error).message}`, { cause: error });
        }
        if (CLUSTER_SCOPED.has(object.kind)) expect(object.metadata.namespace).toBeUndefined();
        else expect(object.metadata.namespace).toBe("x0");
      }
    }, 30_000);

    test(`k8s - ${overlay}: every workload has probes and resources; Deployments have a PDB, a ServiceMonitor and a NetworkPolicy`, async () => {
      const objects = await render(overlay);
      const named = (kind: string) => objects.filter((object) => object.kind === kind);
      for (const workload of [...named("Deployment"), ...named("DaemonSet"), ...named("StatefulSet")]) {
        for (const container of containersOf(workload)) {
          const where = `${workload.kind}/${workload.metadata.name}/${container.name}`;
          expect(container.livenessProbe?.httpGet?.path, where).toStartWith("/healthz");
          expect(container.readinessProbe?.httpGet?.path, where).toBeDefined();
          expect(Object.keys(container.resources?.requests ?? {}).sort(), where).toEqual(["cpu", "memory"]);
          expect(Object.keys(container.resources?.limits ?? {}).sort(), where).toEqual(["cpu", "memory"]);
        }
      }
      const pdbs = named("PodDisruptionBudget").map(appOf);
      const monitored = named("ServiceMonitor").map(appOf);
      for (const deployment of named("Deployment")) {
        expect(pdbs).toContain(appOf(deployment));
        expect(monitored).toContain(appOf(deployment));
        for (const container of containersOf(deployment)) expect(container.readinessProbe?.httpGet?.path).toBe("/readyz");
      }
      expect(named("NetworkPolicy").some((policy) => JSON.stringify(policy.spec.podSelector) === "{}")).toBe(true);
    }, 30_000);
  }

  test("k8s - the node agent DaemonSet has the host network, eBPF capabilities, bpffs and tolerations", async () => {
    const daemonSet = (await render("prod")).find((object) => object.kind === "DaemonSet") as K8sObject;
    expect(daemonSet.spec.template?.spec.hostNetwork).toBe(true);
    expect(daemonSet.spec.template?.spec.tolerations?.length).toBeGreaterThan(0);
    const monitor = containersOf(daemonSet).find((container) => container.name === "monitor") as Container;
    expect(monitor.securityContext?.capabilities?.add).toEqual(expect.arrayContaining(["BPF", "PERFMON", "NET_ADMIN"]));
    expect(monitor.volumeMounts?.map((mount) => mount.mountPath)).toContain("/sys/fs/bpf");
    expect(
      containersOf(daemonSet)
        .map((container) => container.name)
        .sort(),
    ).toEqual(["executor", "monitor", "swarm"]);
    // The swarm agent needs no privilege: non-root, no capability.
    const swarm = containersOf(daemonSet).find((container) => container.name === "swarm") as Container;
    expect(swarm.securityContext?.capabilities?.add ?? []).toEqual([]);
  }, 30_000);

  test("k8s - prod runs NATS as a 3-replica JetStream cluster with mTLS", async () => {
    const objects = await render("prod");
    const nats = objects.find((object) => object.kind === "StatefulSet" && object.metadata.name === "x0-nats") as K8sObject;
    expect(nats.spec.replicas).toBe(3);
    const config = objects.find((object) => object.kind === "ConfigMap" && object.metadata.name.startsWith("x0-nats-config"));
    const conf = config?.data?.["nats.conf"] ?? "";
    expect(conf).toContain("jetstream");
    expect(conf).toContain("verify: true");
    expect(conf.match(/nats:\/\/x0-nats-\d\.x0-nats-headless:6222/g)).toHaveLength(3);
  }, 30_000);

  const natsConfOf = (objects: K8sObject[]) =>
    objects.find((object) => object.kind === "ConfigMap" && object.metadata.name.startsWith("x0-nats-config"))?.data?.["nats.conf"] ?? "";
  const x0ConfigOf = (objects: K8sObject[]) =>
    objects.find((object) => object.kind === "ConfigMap" && object.metadata.name.startsWith("x0-config"))?.data ?? {};

  test("k8s - prod's routes open only with the route certificate, and every workload uses all three servers and 3 replicas", async () => {
    const objects = await render("prod");
    const conf = natsConfOf(objects);
    expect(/cluster \{[\s\S]*tls \{[^}]*verify_and_map: true/.test(conf)).toBe(true);
    expect(/cluster \{[\s\S]*authorization \{\s*user: (\S+)/.exec(conf)?.[1]).toBe(NATS_ROUTE_NAME);
    const nats = objects.find((object) => object.kind === "StatefulSet" && object.metadata.name === "x0-nats") as K8sObject;
    const routeTls = nats.spec.template?.spec.volumes?.find((volume) => volume.secret?.secretName === "x0-nats-route-tls");
    expect(routeTls).toBeDefined();
    const mount = containersOf(nats)[0]?.volumeMounts?.find((volumeMount) => volumeMount.name === routeTls?.name);
    expect(conf).toContain(`cert_file: ${mount?.mountPath}/tls.crt`);
    const config = x0ConfigOf(objects);
    expect(config.X0_JS_REPLICAS).toBe("3");
    expect(config.X0_NATS_SERVERS?.split(",")).toEqual(
      Array.from({ length: nats.spec.replicas ?? 0 }, (_, pod) => `tls://x0-nats-${pod}.x0-nats-headless:4222`),
    );
    expect(x0ConfigOf(await render("dev")).X0_JS_REPLICAS).toBe("1");
  }, 30_000);

  for (const overlay of OVERLAYS) {
    test(`k8s - ${overlay}: nats-server accepts the rendered NATS configuration`, async () => {
      const dir = mkdtempSync(join(tmpdir(), `x0-k8s-nats-${overlay}-`));
      try {
        const ca = await createDevCa({ trustDomain: "x0tta6bl4.mesh" });
        for (const [folder, dnsNames] of [
          ["tls", ["x0-nats", "*.x0-nats-headless"]],
          ["route-tls", [NATS_ROUTE_NAME, "*.x0-nats-headless"]],
        ] as const) {
          const issued = await issueServerCertificate({ ca, dnsNames: [...dnsNames] });
          mkdirSync(join(dir, folder));
          writeFileSync(join(dir, folder, "tls.crt"), issued.certPem);
          writeFileSync(join(dir, folder, "tls.key"), issued.keyPem);
          writeFileSync(join(dir, folder, "ca.crt"), ca.certPem);
        }
        const checked = checkNatsConfig(natsConfOf(await render(overlay)), { from: "/etc/nats/", dir, env: { POD_NAME: "x0-nats-0" } });
        expect(checked.code, checked.stderr).toBe(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, 30_000);
  }

  test("k8s - every workload container has a SPIRE registration with its x0 SPIFFE ID", async () => {
    const objects = await render("prod");
    const entries = objects.filter((object) => object.kind === "ClusterSPIFFEID").map((object) => ClusterSPIFFEID.parse(object).spec);
    const workloads = objects.filter((object) => object.kind === "Deployment" || object.kind === "DaemonSet");
    let checked = 0;
    for (const workload of workloads) {
      for (const container of containersOf(workload)) {
        const matching = entries.filter(
          (entry) =>
            entry.podSelector?.matchLabels["app.kubernetes.io/name"] === appOf(workload) &&
            (workload.kind === "Deployment" || entry.workloadSelectorTemplates?.includes(`k8s:container-name:${container.name}`)),
        );
        expect(
          matching.map((entry) => entry.spiffeIDTemplate.replace(/\/\{\{ \.PodSpec\.NodeName \}\}$/, "")),
          container.name,
        ).toEqual([`spiffe://{{ .TrustDomain }}/x0/${container.name}`]);
        checked += 1;
      }
    }
    expect(checked).toBe(7);
  }, 30_000);
});
