// Names of every object a lab creates, derived from its prefix, and the checks that keep them safe to pass to ip and mount.
import { join } from "node:path";
import { LabSpecError } from "../errors.ts";
import { nodeNumber } from "./topology.ts";

/** Linux interface names are at most 15 bytes (IFNAMSIZ - 1). */
const IFNAME_MAX = 15;
/** A prefix: a lowercase letter, then up to 9 lowercase letters or digits, so `<prefix>-mgmt` and `<prefix>-m999` fit IFNAMSIZ. */
const PREFIX_PATTERN = /^[a-z][a-z0-9]{0,9}$/;
/** Interface names the lab passes to ip: no slash, whitespace, colon or leading dash (ip would read those as syntax). */
const IFNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Where per-node sysfs mounts live: `/run/x0/lab/<prefix>/<node>/sys`. */
export const LAB_RUN_ROOT = "/run/x0/lab";
/** Where `ip netns` keeps namespace handles. */
export const NETNS_RUN_DIR = "/run/netns";
/** bpffs, where each lab node's monitor pins its maps under `<prefix>lab/<node>`. */
export const BPF_FS_ROOT = "/sys/fs/bpf";
/** The environment variable that marks every process the lab starts, so `x0 lab down` finds them after a crash. */
export const LAB_MARK_VARIABLE = "X0_LAB_PREFIX";

/** Checks a lab prefix; throws {@link LabSpecError}. */
export function validatePrefix(prefix: string): string {
  if (!PREFIX_PATTERN.test(prefix))
    throw new LabSpecError(`lab prefix ${JSON.stringify(prefix)} must be a lowercase letter then up to 9 lowercase letters or digits`);
  return prefix;
}

/** Checks a node name (`n1`…`n999`); throws {@link LabSpecError}. */
export function validateNodeName(name: string): string {
  if (nodeNumber(name) === undefined) throw new LabSpecError(`node ${JSON.stringify(name)} is not a lab node name (n1, n2, …)`);
  return name;
}

/** Checks an interface name before it reaches ip; throws {@link LabSpecError}. */
export function validateInterfaceName(name: string): string {
  if (name.length === 0 || name.length > IFNAME_MAX || !IFNAME_PATTERN.test(name)) {
    throw new LabSpecError(`interface name ${JSON.stringify(name)} is not 1-${IFNAME_MAX} characters of [A-Za-z0-9_.-] starting with a letter or digit`);
  }
  return name;
}

/** The namespace of a node: `<prefix>-<node>`. */
export function namespaceOf(prefix: string, node: string): string {
  return `${prefix}-${node}`;
}

/** The `/run/netns` handle of a node's namespace, what `nsenter --net=` takes. */
export function netnsPathOf(prefix: string, node: string): string {
  return join(NETNS_RUN_DIR, namespaceOf(prefix, node));
}

/** Whether a namespace name is one a lab with `prefix` creates (`<prefix>-n<digits>`), and so one `down` may delete. */
export function isLabNamespace(prefix: string, name: string): boolean {
  return name.startsWith(`${prefix}-`) && nodeNumber(name.slice(prefix.length + 1)) !== undefined;
}

/** The management bridge in the root namespace. */
export function bridgeOf(prefix: string): string {
  return validateInterfaceName(`${prefix}-mgmt`);
}

/** The root-namespace end of node number `k`'s management veth. */
export function mgmtHostInterfaceOf(prefix: string, k: number): string {
  return validateInterfaceName(`${prefix}-m${k}`);
}

/** Whether a root-namespace interface is a lab management veth end of `prefix`. */
export function isLabMgmtInterface(prefix: string, name: string): boolean {
  return new RegExp(`^${prefix}-m[1-9]\\d{0,2}$`).test(name);
}

/** The interface in node `a`'s namespace that leads to node `b`: `a-b`. */
export function linkInterfaceOf(a: string, b: string): string {
  return validateInterfaceName(`${a}-${b}`);
}

/** The node's management interface inside its namespace. */
export const MGMT_INTERFACE = "mgmt";

/** The folder of a lab's mounts: `/run/x0/lab/<prefix>`. */
export function labRunDirOf(prefix: string): string {
  return join(LAB_RUN_ROOT, prefix);
}

/** Where a node's own sysfs is mounted. */
export function sysfsDirOf(prefix: string, node: string): string {
  return join(labRunDirOf(prefix), node, "sys");
}

/** The pin folder of a lab: `/sys/fs/bpf/<prefix>lab`. */
export function pinParentOf(prefix: string): string {
  return join(BPF_FS_ROOT, `${prefix}lab`);
}

/** A node's monitor pin root: `/sys/fs/bpf/<prefix>lab/<node>`. */
export function pinRootOf(prefix: string, node: string): string {
  return join(pinParentOf(prefix), node);
}

/** The state file of a lab: `<state>/lab-<prefix>.json`. */
export function stateFileOf(stateDir: string, prefix: string): string {
  return join(stateDir, `lab-${prefix}.json`);
}

/** The folder of the logs of processes `x0 lab up` starts detached. */
export function logDirOf(stateDir: string, prefix: string): string {
  return join(stateDir, `lab-${prefix}-logs`);
}
