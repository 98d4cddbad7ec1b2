// Renders the kustomize overlays (and an overlay with an optional component) with `kubectl kustomize`, for the k8s tests.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { REPO_ROOT } from "@x0/shared/testing";
import { parseAllDocuments } from "yaml";
import { run, toolPath } from "./tools.ts";

/** A container of a rendered pod template. */
export interface Container {
  name: string;
  image?: string;
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: Record<string, unknown> }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  ports?: { name?: string; containerPort: number }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: SecurityContext;
  volumeMounts?: { mountPath: string; name: string; readOnly?: boolean }[];
}

/** A probe (one of its handlers). */
export interface Probe {
  httpGet?: { path: string; port: string | number };
  exec?: { command: string[] };
  tcpSocket?: { port: string | number };
}

/** A container's or pod's security settings. */
export interface SecurityContext {
  privileged?: boolean;
  allowPrivilegeEscalation?: boolean;
  readOnlyRootFilesystem?: boolean;
  runAsNonRoot?: boolean;
  runAsUser?: number;
  capabilities?: { add?: string[]; drop?: string[] };
  seccompProfile?: { type: string; localhostProfile?: string };
}

/** A rendered pod template's spec. */
export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  shareProcessNamespace?: boolean;
  automountServiceAccountToken?: boolean;
  serviceAccountName?: string;
  priorityClassName?: string;
  tolerations?: unknown[];
  securityContext?: SecurityContext & { fsGroup?: number };
  volumes?: {
    name: string;
    secret?: { secretName: string; optional?: boolean };
    configMap?: { name: string };
    csi?: { driver: string; readOnly?: boolean };
    hostPath?: { path: string; type?: string };
    emptyDir?: { medium?: string; sizeLimit?: string };
  }[];
}

/** One rendered object. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: {
    replicas?: number;
    selector?: { matchLabels: Record<string, string> };
    podSelector?: Record<string, unknown>;
    template?: { metadata?: { labels?: Record<string, string> }; spec: PodSpec };
    [key: string]: unknown;
  };
  data?: Record<string, string>;
  [key: string]: unknown;
}

/** The overlays of k8s/overlays; dev is the default one (only built-in kinds). */
export const OVERLAYS = ["dev", "prod"] as const;
/** The optional components of k8s/components. */
export const COMPONENTS = ["monitoring", "spire"] as const;

async function kustomize(dir: string): Promise<K8sObject[]> {
  const { code, stdout, stderr } = await run([toolPath("kubectl"), "kustomize", dir]);
  if (code !== 0) throw new Error(`kubectl kustomize ${dir} failed: ${stderr}`);
  return parseAllDocuments(stdout).map((document) => ({ spec: {}, ...(document.toJSON() as Omit<K8sObject, "spec">) }) as K8sObject);
}

const cache = new Map<string, Promise<K8sObject[]>>();

/** Renders an overlay (cached per test process: the files do not change during a run). */
export function render(overlay: string): Promise<K8sObject[]> {
  const key = `overlay:${overlay}`;
  if (!cache.has(key)) cache.set(key, kustomize(join(REPO_ROOT, "k8s", "overlays", overlay)));
  return cache.get(key) as Promise<K8sObject[]>;
}

/** Renders an overlay with one more component, through a kustomization in a temporary folder. */
export function renderWithComponent(overlay: string, component: string): Promise<K8sObject[]> {
  const key = `component:${overlay}:${component}`;
  if (!cache.has(key)) {
    cache.set(
      key,
      (async () => {
        const dir = mkdtempSync(join(tmpdir(), "x0-kustomize-"));
        try {
          const path = (to: string) => relative(dir, join(REPO_ROOT, "k8s", to));
          writeFileSync(
            join(dir, "kustomization.yaml"),
            `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [${path(`overlays/${overlay}`)}]\ncomponents: [${path(`components/${component}`)}]\n`,
          );
          return await kustomize(dir);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      })(),
    );
  }
  return cache.get(key) as Promise<K8sObject[]>;
}

/** The workloads (Deployment, DaemonSet, StatefulSet) of rendered objects. */
export const workloadsOf = (objects: K8sObject[]) =>
  objects.filter((object) => ["Deployment", "DaemonSet", "StatefulSet"].includes(object.kind) && object.spec.template);

/** The regular containers of a workload. */
export const containersOf = (object: K8sObject): Container[] => object.spec.template?.spec.containers ?? [];
/** The init and regular containers of a workload. */
export const allContainersOf = (object: K8sObject): Container[] => [...(object.spec.template?.spec.initContainers ?? []), ...containersOf(object)];
/** The app label a workload selects. */
export const appOf = (object: K8sObject) => object.spec.selector?.matchLabels["app.kubernetes.io/name"];
/** A ConfigMap by its generated name's prefix. */
export const configMapOf = (objects: K8sObject[], prefix: string) =>
  objects.find((object) => object.kind === "ConfigMap" && object.metadata.name.startsWith(`${prefix}-`));
