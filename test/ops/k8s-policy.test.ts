// A pod security policy over the rendered overlays, as zod schemas (kubeconform, kube-linter and conftest are Go programs
// that neither npm nor Debian ship): no privileged container, no host PID/IPC, no privilege escalation, read-only root
// file systems, RuntimeDefault (or Localhost) seccomp, every capability dropped and only allow-listed ones added back,
// non-root except where a container must be root, host network and host paths only for the node agent.
import { describe, expect, test } from "bun:test";
import { z } from "zod";
import { allContainersOf, type Container, type K8sObject, OVERLAYS, render, workloadsOf } from "./k8s-render.ts";

/** Capabilities a container may add back, by `<workload>/<container>`; every other container adds none. */
const CAPABILITIES: Record<string, string[]> = {
  // eBPF programs and maps (BPF), tracepoints (PERFMON), XDP attach and netlink (NET_ADMIN), locked memory on kernels
  // before 5.11 (SYS_RESOURCE).
  "x0-node-agent/monitor": ["BPF", "PERFMON", "NET_ADMIN", "SYS_RESOURCE"],
  // The pinned deny/fault maps (BPF), routes and batman-adv (NET_ADMIN).
  "x0-node-agent/executor": ["BPF", "NET_ADMIN"],
};
/** Containers that run as root: they pin maps in and write the host's bpffs. */
const ROOT = new Set(["x0-node-agent/monitor", "x0-node-agent/executor"]);
/** Workloads on the host network: the node agent watches and changes the node's own network. */
const HOST_NETWORK = new Set(["x0-node-agent"]);
/** Host paths the node agent mounts: bpffs, the kernel's BTF, tracefs. */
const HOST_PATHS: Record<string, string[]> = { "x0-node-agent": ["/sys/fs/bpf", "/sys/kernel/btf", "/sys/kernel/tracing"] };
/** Pods that get a service account token: the NATS pod lists the node agent's pods to render its users. */
const API_CLIENTS = new Set(["x0-nats"]);

const Seccomp = z.discriminatedUnion("type", [
  z.object({ type: z.literal("RuntimeDefault") }).strict(),
  z.object({ type: z.literal("Localhost"), localhostProfile: z.string().min(1) }).strict(),
]);

/** The policy of one container, given what its workload may do. */
function containerPolicy(allowedCapabilities: string[]) {
  return z.object({
    image: z
      .string()
      .regex(/[:@]/, "an image names its tag or digest")
      .refine((image) => !image.endsWith(":latest"), "no :latest"),
    securityContext: z.object({
      privileged: z.literal(false).optional(),
      allowPrivilegeEscalation: z.literal(false),
      readOnlyRootFilesystem: z.literal(true),
      seccompProfile: Seccomp.optional(),
      capabilities: z.object({
        drop: z.array(z.string()).refine((drop) => drop.includes("ALL"), "drops ALL"),
        add: z
          .array(z.string())
          .refine((add) => add.every((capability) => allowedCapabilities.includes(capability)), `adds only ${allowedCapabilities.join(", ") || "nothing"}`)
          .optional(),
      }),
    }),
  });
}

const PodPolicy = z.object({
  hostPID: z.literal(false).optional(),
  hostIPC: z.literal(false).optional(),
  securityContext: z.object({ seccompProfile: Seccomp }),
});

/** Whether a container runs as a non-root user (its own setting, else the pod's). */
function runsAsNonRoot(workload: K8sObject, container: Container): boolean {
  const pod = workload.spec.template?.spec.securityContext;
  const nonRoot = container.securityContext?.runAsNonRoot ?? pod?.runAsNonRoot;
  const user = container.securityContext?.runAsUser ?? pod?.runAsUser;
  return nonRoot === true && user !== 0;
}

describe("k8s policy", () => {
  for (const overlay of OVERLAYS) {
    test(`k8s policy - ${overlay}: every pod and container passes the pod security policy`, async () => {
      const workloads = workloadsOf(await render(overlay));
      expect(workloads.length).toBe(6);
      for (const workload of workloads) {
        const name = workload.metadata.name;
        const pod = workload.spec.template?.spec;
        const parsed = PodPolicy.safeParse(pod);
        expect(parsed.success ? "" : z.prettifyError(parsed.error), name).toBe("");
        expect(pod?.hostNetwork === true, `${name}: host network`).toBe(HOST_NETWORK.has(name));
        const hostPaths = (pod?.volumes ?? []).flatMap((volume) => (volume.hostPath ? [volume.hostPath.path] : []));
        expect(
          hostPaths.every((path) => (HOST_PATHS[name] ?? []).includes(path)),
          `${name}: host paths ${hostPaths.join(", ")}`,
        ).toBe(true);
        expect(pod?.automountServiceAccountToken !== false, `${name}: service account token`).toBe(API_CLIENTS.has(name));
        for (const container of allContainersOf(workload)) {
          const where = `${overlay}: ${name}/${container.name}`;
          const checked = containerPolicy(CAPABILITIES[`${name}/${container.name}`] ?? []).safeParse(container);
          expect(checked.success ? "" : z.prettifyError(checked.error), where).toBe("");
          expect(runsAsNonRoot(workload, container), `${where}: non-root`).toBe(!ROOT.has(`${name}/${container.name}`));
        }
      }
    }, 30_000);
  }

  test("k8s policy - the policy catches what it forbids", () => {
    const good = {
      image: "x:1",
      securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
    };
    expect(containerPolicy([]).safeParse(good).success).toBe(true);
    const bad = (patch: object) => containerPolicy(["BPF"]).safeParse({ ...good, securityContext: { ...good.securityContext, ...patch } }).success;
    expect(bad({ privileged: true })).toBe(false);
    expect(bad({ allowPrivilegeEscalation: true })).toBe(false);
    expect(bad({ readOnlyRootFilesystem: false })).toBe(false);
    expect(bad({ capabilities: { drop: ["NET_RAW"] } })).toBe(false);
    expect(bad({ capabilities: { drop: ["ALL"], add: ["SYS_ADMIN"] } })).toBe(false);
    expect(bad({ capabilities: { drop: ["ALL"], add: ["BPF"] } })).toBe(true);
    expect(containerPolicy([]).safeParse({ ...good, image: "x:latest" }).success).toBe(false);
    expect(PodPolicy.safeParse({ hostPID: true, securityContext: { seccompProfile: { type: "RuntimeDefault" } } }).success).toBe(false);
    expect(PodPolicy.safeParse({ securityContext: { seccompProfile: { type: "Unconfined" } } }).success).toBe(false);
  });
});
