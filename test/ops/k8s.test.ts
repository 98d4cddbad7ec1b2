// Every kustomize overlay renders, every object validates against the Kubernetes (and Prometheus operator, SPIRE) schemas,
// and the deployment holds together: SVIDs from the SPIRE Workload API, NATS users and certificates, optional CRDs.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createDevCa, issueServerCertificate, K8S_USERS_FILE, loadPermissionMatrix, NATS_ROUTE_NAME } from "@x0/shared";
import { REPO_ROOT } from "@x0/shared/testing";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { k8sUsersConf } from "../../cli/src/certs/k8s-users.ts";
import { K8S_SVID, NATS_IMAGE } from "../../scripts/docs/nats-config.ts";
import {
  allContainersOf,
  appOf,
  COMPONENTS,
  type Container,
  configMapOf,
  containersOf,
  type K8sObject,
  OVERLAYS,
  render,
  renderWithComponent,
  workloadsOf,
} from "./k8s-render.ts";
import { checkNatsConfig } from "./tools.ts";

const selector = z.object({ matchLabels: z.record(z.string(), z.string()) }).strict();
/**
 * ClusterSPIFFEID (spire-controller-manager, spire.spiffe.io/v1alpha1) has no kubernetes-models package:
 * this schema follows the fields of its documented spec (docs/clusterspiffeid-crd.md in spiffe/spire-controller-manager).
 */
const ClusterSPIFFEIDSpec = z
  .object({
    className: z.string().optional(),
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
  .strict();
const ClusterSPIFFEID = z
  .object({
    apiVersion: z.literal("spire.spiffe.io/v1alpha1"),
    kind: z.literal("ClusterSPIFFEID"),
    metadata: z.object({ name: z.string().regex(/^[a-z0-9-]+$/), labels: z.record(z.string(), z.string()).optional() }).strict(),
    spec: ClusterSPIFFEIDSpec,
  })
  .strict();
type Registration = z.infer<typeof ClusterSPIFFEIDSpec>;

/** Kinds without a namespace. */
const CLUSTER_SCOPED = new Set(["Namespace", "PriorityClass", "ClusterSPIFFEID"]);
/** The API groups of built-in Kubernetes kinds ("" is the core group). */
const BUILT_IN_GROUPS = new Set(["", "apps", "batch", "policy", "networking.k8s.io", "rbac.authorization.k8s.io", "scheduling.k8s.io", "storage.k8s.io"]);
const groupOf = (apiVersion: string) => (apiVersion.includes("/") ? (apiVersion.split("/")[0] as string) : "");

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

async function validateAll(objects: K8sObject[], where: string): Promise<void> {
  for (const object of objects) {
    const Model = await modelOf(object);
    try {
      new Model(object).validate();
    } catch (error) {
      throw new Error(`${where}: ${object.kind}/${object.metadata.name}: ${(error as Error).message}`, { cause: error });
    }
    if (CLUSTER_SCOPED.has(object.kind)) expect(object.metadata.namespace, `${object.kind}/${object.metadata.name}`).toBeUndefined();
    else expect(object.metadata.namespace, `${object.kind}/${object.metadata.name}`).toBe("x0");
  }
}

const x0Config = (objects: K8sObject[]) => configMapOf(objects, "x0-config")?.data ?? {};
const natsConfOf = (objects: K8sObject[]) => configMapOf(objects, "x0-nats-config")?.data?.["nats.conf"] ?? "";
const natsOf = (objects: K8sObject[]) => objects.find((object) => object.kind === "StatefulSet" && object.metadata.name === "x0-nats") as K8sObject;
/** Containers of the x0 images (the services and the NATS pod's users renderer). */
const isX0 = (container: Container) => /^(ghcr\.io\/x0tta6bl4|localhost:5000)\/x0tta6bl4(-crypto)?[:@]/.test(container.image ?? "");
const selects = (selectorLabels: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
  Object.entries(selectorLabels ?? {}).every(([key, value]) => labels?.[key] === value);

/** The x0 registrations of k8s/spire/values.yaml (the SPIRE chart creates them as ClusterSPIFFEIDs). */
function valuesRegistrations(): Map<string, Registration> {
  const values = parseYaml(readFileSync(join(REPO_ROOT, "k8s", "spire", "values.yaml"), "utf8")) as {
    "spire-server": { controllerManager: { identities: { clusterSPIFFEIDs: Record<string, unknown> } } };
  };
  const entries = Object.entries(values["spire-server"].controllerManager.identities.clusterSPIFFEIDs);
  return new Map(entries.map(([name, spec]) => [name, ClusterSPIFFEIDSpec.parse(spec)]));
}

describe("k8s", () => {
  for (const overlay of OVERLAYS) {
    test(`k8s - the ${overlay} overlay renders and every object validates against its schema`, async () => {
      const objects = await render(overlay);
      expect(objects.length).toBeGreaterThan(20);
      await validateAll(objects, overlay);
    }, 30_000);

    test(`k8s - ${overlay}: every container has probes and resources; x0 services answer /healthz and /readyz`, async () => {
      for (const workload of workloadsOf(await render(overlay))) {
        for (const container of allContainersOf(workload)) {
          const where = `${workload.kind}/${workload.metadata.name}/${container.name}`;
          expect(Object.keys(container.resources?.requests ?? {}).sort(), where).toEqual(["cpu", "memory"]);
          expect(Object.keys(container.resources?.limits ?? {}).sort(), where).toEqual(["cpu", "memory"]);
        }
        for (const container of containersOf(workload)) {
          const where = `${workload.kind}/${workload.metadata.name}/${container.name}`;
          expect(container.livenessProbe, where).toBeDefined();
          expect(container.readinessProbe, where).toBeDefined();
          if (isX0(container)) {
            expect(container.livenessProbe?.httpGet?.path, where).toBe("/healthz");
            expect(container.readinessProbe?.httpGet?.path, where).toBe("/readyz");
          }
        }
      }
    }, 30_000);

    test(`k8s - ${overlay}: a PodDisruptionBudget guards every workload of two or more replicas, and none of one`, async () => {
      const objects = await render(overlay);
      const pdbs = objects.filter((object) => object.kind === "PodDisruptionBudget");
      for (const pdb of pdbs) {
        expect(
          workloadsOf(objects).some((workload) => selects(pdb.spec.selector?.matchLabels, workload.spec.template?.metadata?.labels)),
          pdb.metadata.name,
        ).toBe(true);
      }
      for (const workload of workloadsOf(objects).filter((object) => object.kind !== "DaemonSet")) {
        const guarded = pdbs.filter((pdb) => selects(pdb.spec.selector?.matchLabels, workload.spec.template?.metadata?.labels));
        expect(guarded.length, workload.metadata.name).toBe((workload.spec.replicas ?? 1) >= 2 ? 1 : 0);
      }
      expect(objects.some((object) => object.kind === "NetworkPolicy" && JSON.stringify(object.spec.podSelector) === "{}")).toBe(true);
    }, 30_000);

    test(`k8s - ${overlay}: every x0 workload gets its SVID from the SPIRE Workload API (CSI volume), with no certificate Secrets`, async () => {
      const objects = await render(overlay);
      const config = x0Config(objects);
      expect(config.X0_SVID_SOURCE).toBe("workload-api");
      const socket = /^unix:\/\/(\/.+)$/.exec(config.SPIFFE_ENDPOINT_SOCKET ?? "")?.[1] ?? "";
      expect(socket).toEndWith("/spire-agent.sock");
      expect(Object.keys(config).filter((key) => key.startsWith("X0_NATS_TLS_"))).toEqual([]);
      let checked = 0;
      for (const workload of workloadsOf(objects)) {
        const spec = workload.spec.template?.spec;
        for (const container of containersOf(workload).filter((c) => c.envFrom?.some((from) => from.configMapRef?.name.startsWith("x0-config-")))) {
          const where = `${workload.metadata.name}/${container.name}`;
          const mount = container.volumeMounts?.find((volumeMount) => volumeMount.mountPath === dirname(socket));
          expect(mount?.readOnly, where).toBe(true);
          expect(spec?.volumes?.find((volume) => volume.name === mount?.name)?.csi, where).toEqual({ driver: "csi.spiffe.io", readOnly: true });
          // The Workload API source keeps the SVID in files under the temporary folder: writable, in memory.
          const tmp = container.volumeMounts?.find((volumeMount) => volumeMount.mountPath === "/tmp");
          expect(spec?.volumes?.find((volume) => volume.name === tmp?.name)?.emptyDir?.medium, where).toBe("Memory");
          checked += 1;
        }
        // The only Secret a pod mounts is the key-encryption key.
        expect(spec?.volumes?.flatMap((volume) => (volume.secret ? [volume.secret.secretName] : [])).filter((name) => name !== "x0-kek")).toEqual([]);
      }
      expect(checked).toBe(7);
    }, 30_000);

    test(`k8s - ${overlay}: every container given X0_KEK_FILE mounts the Secret x0-kek there`, async () => {
      const objects = await render(overlay);
      let checked = 0;
      for (const workload of workloadsOf(objects)) {
        for (const container of containersOf(workload)) {
          const kekFile = container.env?.find((variable) => variable.name === "X0_KEK_FILE")?.value;
          if (!kekFile) continue;
          const mount = container.volumeMounts?.find((volumeMount) => volumeMount.mountPath === dirname(kekFile));
          const volume = workload.spec.template?.spec.volumes?.find((candidate) => candidate.name === mount?.name);
          expect(volume?.secret?.secretName, container.name).toBe("x0-kek");
          expect(volume?.secret?.optional, container.name).toBeUndefined();
          checked += 1;
        }
      }
      // planner, crypto, executor and swarm seal their signing keys under it.
      expect(checked).toBe(4);
    }, 30_000);
  }

  test("k8s - the default overlay (dev) has only built-in kinds; each optional component adds only the CRD kinds it declares", async () => {
    const plain = await render("dev");
    for (const object of plain) expect(BUILT_IN_GROUPS.has(groupOf(object.apiVersion)), `${object.apiVersion} ${object.kind}`).toBe(true);
    const key = (object: K8sObject) => `${object.kind}/${object.metadata.name}`;
    for (const component of COMPONENTS) {
      const declared = (parseYaml(readFileSync(join(REPO_ROOT, "k8s", "components", component, "kustomization.yaml"), "utf8")) as {
        kind: string;
        metadata: { annotations: Record<string, string> };
      }) ?? { kind: "", metadata: { annotations: {} } };
      expect(declared.kind).toBe("Component");
      const kinds = (declared.metadata.annotations["x0tta6bl4/crd-kinds"] ?? "").split(",").map((kind) => kind.trim());
      const objects = await renderWithComponent("dev", component);
      await validateAll(objects, `dev+${component}`);
      const added = objects.filter((object) => !plain.some((base) => key(base) === key(object)));
      expect(added.length, component).toBeGreaterThan(0);
      expect([...new Set(added.map((object) => `${object.apiVersion}/${object.kind}`))].sort(), component).toEqual(kinds.sort());
      for (const object of added) expect(BUILT_IN_GROUPS.has(groupOf(object.apiVersion))).toBe(false);
    }
    // prod includes the monitoring component: what it renders beyond dev's kinds is the component's.
    const prodKinds = new Set((await render("prod")).map((object) => `${object.apiVersion}/${object.kind}`));
    expect([...prodKinds].filter((kind) => !BUILT_IN_GROUPS.has(groupOf(kind.split("/").slice(0, -1).join("/"))))).toEqual([
      "monitoring.coreos.com/v1/ServiceMonitor",
    ]);
  }, 60_000);

  test("k8s - prod: a ServiceMonitor scrapes every metrics port of every Service (services and the NATS exporter)", async () => {
    const objects = await render("prod");
    const monitors = objects.filter((object) => object.kind === "ServiceMonitor");
    const services = objects.filter((object) => object.kind === "Service");
    let checked = 0;
    for (const service of services) {
      const ports = (service.spec.ports as { name: string }[]).filter((port) => /^http-|^metrics$/.test(port.name));
      for (const port of ports) {
        const scraped = monitors.some(
          (monitor) =>
            selects((monitor.spec.selector as { matchLabels: Record<string, string> }).matchLabels, service.metadata.labels) &&
            (monitor.spec.endpoints as { port: string }[]).some((endpoint) => endpoint.port === port.name),
        );
        expect(scraped, `${service.metadata.name}:${port.name}`).toBe(true);
        checked += 1;
      }
    }
    expect(checked).toBe(8);
  }, 30_000);

  test("k8s - the node agent DaemonSet has the host network, eBPF capabilities, bpffs, tolerations and its priority class", async () => {
    const objects = await render("prod");
    const daemonSet = objects.find((object) => object.kind === "DaemonSet") as K8sObject;
    const spec = daemonSet.spec.template?.spec;
    expect(spec?.hostNetwork).toBe(true);
    expect(spec?.tolerations?.length).toBeGreaterThan(0);
    const priority = objects.find((object) => object.kind === "PriorityClass" && object.metadata.name === spec?.priorityClassName);
    expect((priority as { value?: number } | undefined)?.value).toBeGreaterThan(0);
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

  test("k8s - prod runs NATS as a 3-replica JetStream cluster with mTLS, its monitoring port on 127.0.0.1 behind the exporter", async () => {
    const objects = await render("prod");
    const nats = natsOf(objects);
    expect(nats.spec.replicas).toBe(3);
    const conf = natsConfOf(objects);
    expect(conf).toContain("jetstream");
    expect(conf).toContain("verify_and_map: true");
    expect(conf).toContain('http: "127.0.0.1:8222"');
    expect(conf.match(/nats:\/\/x0-nats-\d\.x0-nats-headless:6222/g)).toHaveLength(3);
    const exporter = containersOf(nats).find((container) => container.image?.startsWith("natsio/prometheus-nats-exporter:")) as Container;
    expect(exporter.image).toMatch(/:\d+\.\d+\.\d+$/);
    expect(exporter.args).toEqual(expect.arrayContaining(["-varz", "-connz", "-routez", "-subz", "-jsz=all", "-healthz", "http://127.0.0.1:8222"]));
    expect(exporter.ports?.map((port) => port.containerPort)).toEqual([7777]);
    // Nothing publishes 8222 outside the pod.
    for (const container of containersOf(nats)) expect(container.ports?.map((port) => port.containerPort) ?? [], container.name).not.toContain(8222);
    for (const service of objects.filter((object) => object.kind === "Service")) {
      expect(
        (service.spec.ports as { port: number }[]).map((port) => port.port),
        service.metadata.name,
      ).not.toContain(8222);
    }
    // One nats-server version in docker-compose and Kubernetes, the one the configurations are written for.
    expect(containersOf(nats).find((container) => container.name === "nats")?.image).toBe(NATS_IMAGE);
    const compose = parseYaml(readFileSync(join(REPO_ROOT, "docker-compose.yml"), "utf8"), { merge: true }) as {
      "x-nats-server"?: { image?: string };
      services: Record<string, { image?: string }>;
    };
    expect(compose["x-nats-server"]?.image).toBe(NATS_IMAGE);
    // …and one prometheus-nats-exporter version, where compose runs one too.
    for (const service of Object.values(compose.services).filter((candidate) => candidate.image?.startsWith("natsio/prometheus-nats-exporter:"))) {
      expect(service.image).toBe(exporter.image as string);
    }
  }, 30_000);

  test("k8s - NATS: the SVID files, users file and pid file of the configuration are where the pod's sidecars write them", async () => {
    for (const overlay of OVERLAYS) {
      const objects = await render(overlay);
      const nats = natsOf(objects);
      const spec = nats.spec.template?.spec;
      const conf = natsConfOf(objects);
      const mountOf = (container: string, path: string) =>
        allContainersOf(nats)
          .find((candidate) => candidate.name === container)
          ?.volumeMounts?.find((mount) => path.startsWith(`${mount.mountPath}/`));
      for (const file of Object.values(K8S_SVID)) {
        expect(conf).toContain(`ca_file: ${K8S_SVID.caFile}`);
        expect(mountOf("nats", file)?.name, file).toBe(mountOf("svid", file)?.name);
        expect(mountOf("svid-init", file)?.name, file).toBe(mountOf("svid", file)?.name);
      }
      expect(conf).toContain(`include "../auth/${K8S_USERS_FILE.split("/").at(-1)}"`);
      expect(mountOf("nats", K8S_USERS_FILE)?.mountPath).toBe(dirname(K8S_USERS_FILE));
      expect(mountOf("users", K8S_USERS_FILE)?.name).toBe(mountOf("nats", K8S_USERS_FILE)?.name as string);
      expect(mountOf("users-init", K8S_USERS_FILE)?.name).toBe(mountOf("nats", K8S_USERS_FILE)?.name as string);
      const pidFile = /pid_file: (\S+)/.exec(conf)?.[1] ?? "";
      for (const container of ["nats", "svid", "users"]) expect(mountOf(container, pidFile)?.name, container).toBe("run");
      expect(spec?.shareProcessNamespace).toBe(true);
      const helper = configMapOf(objects, "x0-nats-spiffe-helper")?.data ?? {};
      expect(helper["helper.conf"]).toContain(`pid_file_name = "${pidFile}"`);
      expect(helper["helper.conf"]).toContain('renew_signal = "SIGHUP"');
      for (const file of Object.values(K8S_SVID)) {
        const name = file.split("/").at(-1) as string;
        expect(helper["helper.conf"]).toContain(`"${name}"`);
        expect(helper["helper-init.conf"]).toContain(`"${name}"`);
      }
      expect(helper["helper.conf"]).toContain(`cert_dir = "${dirname(K8S_SVID.certFile)}"`);
      const users = containersOf(nats).find((container) => container.name === "users") as Container;
      expect(users.args).toEqual(expect.arrayContaining(["--watch", `--pid-file=${pidFile}`, `--out=${K8S_USERS_FILE}`]));
      // Both run `x0 certs k8s-users` in the x0 image (entrypoint bun, working directory the repository).
      for (const container of [users, allContainersOf(nats).find((candidate) => candidate.name === "users-init") as Container]) {
        expect(container.args?.slice(0, 3), container.name).toEqual(["cli/src/x0.ts", "certs", "k8s-users"]);
        expect(existsSync(join(REPO_ROOT, container.args?.[0] as string)), container.name).toBe(true);
      }
    }
  }, 30_000);

  test("k8s - the NATS SVID names every host clients and routes dial, and the route user; the services use every server", async () => {
    const registration = valuesRegistrations().get("x0-nats") as Registration;
    for (const overlay of OVERLAYS) {
      const objects = await render(overlay);
      const nats = natsOf(objects);
      const names = new Set(
        Array.from({ length: nats.spec.replicas ?? 0 }, (_, pod) =>
          (registration.dnsNameTemplates ?? []).map((template) =>
            template.replaceAll("{{ .PodMeta.Name }}", `x0-nats-${pod}`).replaceAll("{{ .PodMeta.Namespace }}", "x0"),
          ),
        ).flat(),
      );
      expect(names.has(NATS_ROUTE_NAME)).toBe(true);
      const config = x0Config(objects);
      const dialled = [
        ...(config.X0_NATS_SERVERS ?? "").split(",").map((url) => new URL(url).hostname),
        ...[...natsConfOf(objects).matchAll(/nats:\/\/([^:]+):6222/g)].map((match) => match[1] as string),
      ];
      for (const host of dialled) expect(names.has(host), `${overlay}: ${host}`).toBe(true);
      expect(config.X0_JS_REPLICAS, overlay).toBe(String(nats.spec.replicas));
      if (overlay === "prod") {
        expect(config.X0_NATS_SERVERS?.split(",")).toEqual(Array.from({ length: 3 }, (_, pod) => `tls://x0-nats-${pod}.x0-nats-headless:4222`));
        const conf = natsConfOf(objects);
        expect(/cluster \{[\s\S]*tls \{[^}]*verify_and_map: true/.test(conf)).toBe(true);
        expect(/cluster \{[\s\S]*authorization \{\s*user: (\S+)/.exec(conf)?.[1]).toBe(NATS_ROUTE_NAME);
      }
    }
  }, 30_000);

  for (const overlay of OVERLAYS) {
    test(`k8s - ${overlay}: nats-server accepts the rendered NATS configuration with users for two nodes`, async () => {
      const base = mkdtempSync(join(tmpdir(), `x0-k8s-nats-${overlay}-`));
      try {
        // The pod's layout: /etc/nats/config (nats.conf), /etc/nats/svid, /etc/nats/auth.
        const dir = join(base, "config");
        mkdirSync(join(dir, "svid"), { recursive: true });
        mkdirSync(join(base, "auth"));
        const ca = await createDevCa({ trustDomain: "x0tta6bl4.mesh" });
        const names =
          valuesRegistrations()
            .get("x0-nats")
            ?.dnsNameTemplates?.filter((name) => !name.includes("{{")) ?? [];
        const issued = await issueServerCertificate({ ca, dnsNames: names });
        const at = (file: string) => join(dir, file.slice("/etc/nats/".length));
        writeFileSync(at(K8S_SVID.certFile), issued.certPem);
        writeFileSync(at(K8S_SVID.keyFile), issued.keyPem);
        writeFileSync(at(K8S_SVID.caFile), ca.certPem);
        const users = k8sUsersConf({ matrix: loadPermissionMatrix(), trustDomain: "x0tta6bl4.mesh", nodes: ["node-a", "node-b"] });
        writeFileSync(join(base, "auth", K8S_USERS_FILE.split("/").at(-1) as string), users.replace(/^\s*min_version:.*$/gm, ""));
        const checked = checkNatsConfig(natsConfOf(await render(overlay)), { from: "/etc/nats/", dir, env: { POD_NAME: "x0-nats-0" } });
        expect(checked.code, checked.stderr).toBe(0);
      } finally {
        rmSync(base, { recursive: true, force: true });
      }
    }, 30_000);
  }

  test("k8s - every workload container has a SPIRE registration with its x0 SPIFFE ID; the chart values and the component agree", async () => {
    const fromValues = valuesRegistrations();
    const component = (await renderWithComponent("dev", "spire")).filter((object) => object.kind === "ClusterSPIFFEID");
    // The same registrations, apart from the class the component names (the chart sets its own).
    expect(
      new Map(
        component.map((object) => {
          const { className, ...spec } = ClusterSPIFFEID.parse(object).spec;
          expect(className).toBe("spire-mgmt-spire");
          return [object.metadata.name, spec];
        }),
      ),
    ).toEqual(fromValues);
    const entries = [...fromValues.values()];
    const objects = await render("prod");
    let checked = 0;
    for (const workload of workloadsOf(objects).filter((object) => object.kind !== "StatefulSet")) {
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
        // Node-scoped identities carry the node, the same name the container's X0_NODE holds (spec.nodeName).
        if (loadPermissionMatrix().roles[container.name]?.per_node) {
          expect(matching[0]?.spiffeIDTemplate).toEndWith("/{{ .PodSpec.NodeName }}");
          expect(container.env?.find((variable) => variable.name === "X0_NODE")?.valueFrom).toEqual({ fieldRef: { fieldPath: "spec.nodeName" } });
        }
        checked += 1;
      }
    }
    expect(checked).toBe(7);
    // The NATS pods' registration covers the pod (its spiffe-helper containers).
    expect(entries.filter((entry) => entry.podSelector?.matchLabels["app.kubernetes.io/name"] === appOf(natsOf(objects)))).toHaveLength(1);
  }, 30_000);

  test("k8s - SPIRE: install.sh pins the charts and uses values.yaml, whose trust domain is the services' X0_TRUST_DOMAIN", async () => {
    const install = readFileSync(join(REPO_ROOT, "k8s", "spire", "install.sh"), "utf8");
    expect(install).toMatch(/^CRDS_VERSION=\d+\.\d+\.\d+$/m);
    expect(install).toMatch(/^SPIRE_VERSION=\d+\.\d+\.\d+$/m);
    expect(install).toContain('--version "$CRDS_VERSION"');
    expect(install).toContain('--version "$SPIRE_VERSION"');
    expect(install).toContain('--values "$here/values.yaml"');
    const values = parseYaml(readFileSync(join(REPO_ROOT, "k8s", "spire", "values.yaml"), "utf8")) as { global: { spire: { trustDomain: string } } };
    for (const overlay of OVERLAYS) expect(x0Config(await render(overlay)).X0_TRUST_DOMAIN).toBe(values.global.spire.trustDomain);
  }, 30_000);
});
