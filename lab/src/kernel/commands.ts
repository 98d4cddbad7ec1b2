// The commands that build a lab, as argv arrays and `ip -batch` scripts (never a shell string), from a plan.
import { join } from "node:path";
import { REPO_ROOT } from "../paths.ts";
import { LAB_MARK_VARIABLE, MGMT_INTERFACE, pinParentOf, validateInterfaceName } from "../plan/names.ts";
import { BATMAN_MESH_INTERFACE, BATMAN_PRIMARY_INTERFACE, type LabNode, type LabPlan } from "../plan/plan.ts";

/** MTU of a batman lab's links: batman-adv's unicast header (up to 32 bytes) fits on top of bat0's 1500 without fragmenting. */
export const BATMAN_LINK_MTU = 1560;

/** One command: argv and, for `ip -batch -`, the script fed on stdin. */
export interface LabCommand {
  argv: string[];
  stdin?: string;
}

/** The hello port of the monitors (X0_MONITOR_PROBE_PORT's default). */
export const HELLO_PORT = 7471;

/** `ip [-n <ns>] -batch -` with `lines` on stdin: many changes for one spawn. */
export function ipBatch(lines: readonly string[], netns?: string): LabCommand {
  return { argv: netns === undefined ? ["ip", "-batch", "-"] : ["ip", "-n", netns, "-batch", "-"], stdin: `${lines.join("\n")}\n` };
}

/** Runs `argv` inside a namespace's network stack only (mount namespace unchanged, so mounts and bpffs stay the host's). */
export function inNetns(netnsPath: string, argv: readonly string[]): string[] {
  return ["nsenter", `--net=${netnsPath}`, ...argv];
}

/** Creates every namespace in one root batch. */
export function createNamespaces(plan: LabPlan): LabCommand {
  return ipBatch(plan.nodes.map((node) => `netns add ${node.netns}`));
}

/**
 * The sysctls of a node, set before its links exist: new interfaces copy `default`, so IPv6 is off and rp_filter 0 on every lab
 * link from birth (no router solicitations or DAD in the counters; asymmetric repaired routes are not dropped); forwarding on.
 */
export function nodeSysctls(node: LabNode): LabCommand {
  return {
    argv: inNetns(node.netnsPath, [
      "sysctl",
      "-q",
      "-w",
      "net.ipv4.ip_forward=1",
      "net.ipv4.conf.all.rp_filter=0",
      "net.ipv4.conf.default.rp_filter=0",
      "net.ipv6.conf.all.disable_ipv6=1",
      "net.ipv6.conf.default.disable_ipv6=1",
    ]),
  };
}

/** Creates the bridge, every veth link (straight into its two namespaces) and every management veth, in one root batch. */
export function createLinks(plan: LabPlan): LabCommand {
  const lines = [`link add name ${plan.bridge} type bridge`, `addr add ${plan.bridgeAddress}/16 dev ${plan.bridge}`, `link set ${plan.bridge} up`];
  for (const { a, b } of plan.links) {
    const nsA = plan.nodes.find((node) => node.name === a.node)?.netns;
    const nsB = plan.nodes.find((node) => node.name === b.node)?.netns;
    lines.push(`link add name ${validateInterfaceName(a.interface)} netns ${nsA} type veth peer name ${validateInterfaceName(b.interface)} netns ${nsB}`);
  }
  for (const node of plan.nodes) {
    lines.push(`link add name ${node.mgmtHostInterface} type veth peer name ${MGMT_INTERFACE} netns ${node.netns}`);
    lines.push(`link set ${node.mgmtHostInterface} master ${plan.bridge}`);
    lines.push(`link set ${node.mgmtHostInterface} up`);
  }
  return ipBatch(lines);
}

/**
 * Inside a node: each link's /30 up (the hellos' addresses), the management address up, and the service address: a /32 on
 * `lo` (static routing), or on bat0 (batman): primary0 attached first, so the originator address is the dummy's MAC and stays
 * when a link's hard interface is removed, then every link as a hard interface, and the service address as a /16 on bat0.
 */
export function configureNode(plan: LabPlan, node: LabNode): LabCommand {
  const batman = plan.routing === "batman";
  const lines = ["link set lo up"];
  if (batman) {
    lines.push(
      `link add name ${BATMAN_PRIMARY_INTERFACE} type dummy`,
      `link set ${BATMAN_PRIMARY_INTERFACE} up`,
      `link add name ${BATMAN_MESH_INTERFACE} type batadv`,
      `link set ${BATMAN_PRIMARY_INTERFACE} master ${BATMAN_MESH_INTERFACE}`,
    );
  } else {
    lines.push(`addr add ${node.serviceAddress}/32 dev lo`);
  }
  for (const { a, b } of plan.links) {
    const end = a.node === node.name ? a : b.node === node.name ? b : undefined;
    if (end === undefined) continue;
    if (batman) lines.push(`link set ${end.interface} mtu ${BATMAN_LINK_MTU}`, `link set ${end.interface} master ${BATMAN_MESH_INTERFACE}`);
    lines.push(`addr add ${end.address}/30 dev ${end.interface}`, `link set ${end.interface} up`);
  }
  if (batman) lines.push(`link set ${BATMAN_MESH_INTERFACE} up`, `addr add ${node.serviceAddress}/16 dev ${BATMAN_MESH_INTERFACE}`);
  lines.push(`addr add ${node.mgmtAddress}/16 dev ${MGMT_INTERFACE}`, `link set ${MGMT_INTERFACE} up`);
  return ipBatch(lines, node.netns);
}

/**
 * Inside a batman node, after bat0 is up: bridge loop avoidance off. It guards a bat0 bridged into a LAN, which a lab's
 * is not, and while its claim requests are in flight it drops every broadcast the node sends: ARP requests included.
 * Seen in the lab VM: after a repair detached a link of n1, n1 could not resolve the other end's bat0 address for over
 * 10 s (its bat0's tx_dropped rose with each ARP attempt) though every route was right; with it off, at once.
 */
export function batmanMeshSettings(plan: LabPlan, node: LabNode, batctl = "batctl"): LabCommand | undefined {
  if (plan.routing !== "batman") return undefined;
  return { argv: inNetns(node.netnsPath, [batctl, "meshif", BATMAN_MESH_INTERFACE, "bridge_loop_avoidance", "0"]) };
}

/**
 * Inside a batman node: each link's hop penalty on its hard interface (`batctl hardif <if> hop_penalty <p>`), one command per
 * link with a penalty; batman-adv IV applies it to every OGM received on that interface, so it is the link's cost both ways.
 */
export function batmanLinkPenalties(plan: LabPlan, node: LabNode, batctl = "batctl"): LabCommand[] {
  if (plan.routing !== "batman") return [];
  return plan.links.flatMap((link) =>
    [link.a, link.b]
      .filter((end) => end.node === node.name && link.hopPenalty > 0)
      .map((end) => ({ argv: inNetns(node.netnsPath, [batctl, "hardif", validateInterfaceName(end.interface), "hop_penalty", String(link.hopPenalty)]) })),
  );
}

/** Inside a node: one /32 route per other node's service address, via the shortest path's next hop. */
export function installRoutes(plan: LabPlan, node: LabNode): LabCommand | undefined {
  const lines = plan.routes
    .filter((route) => route.node === node.name)
    .map((route) => `route replace ${route.prefix}/32 via ${route.via} dev ${route.dev} src ${route.src}`);
  return lines.length === 0 ? undefined : ipBatch(lines, node.netns);
}

/** Mounts a sysfs made inside the node's namespace, so its /sys/class/net shows that namespace's interfaces. */
export function mountSysfs(node: LabNode): LabCommand {
  return { argv: inNetns(node.netnsPath, ["mount", "-t", "sysfs", "sysfs", node.sysfsDir]) };
}

/**
 * Every command that builds a planned lab, in order: namespaces, their sysctls, links, each node's addresses (and batman-adv
 * settings), then routes (only once every end is addressed and up, so each next hop is on a connected subnet), then mounts.
 */
export function buildCommands(plan: LabPlan): LabCommand[] {
  return [
    createNamespaces(plan),
    ...plan.nodes.map(nodeSysctls),
    createLinks(plan),
    ...plan.nodes.map((node) => configureNode(plan, node)),
    ...plan.nodes.flatMap((node) => [batmanMeshSettings(plan, node) ?? [], batmanLinkPenalties(plan, node)].flat()),
    ...plan.nodes.flatMap((node) => installRoutes(plan, node) ?? []),
    ...plan.nodes.map(mountSysfs),
  ];
}

/** `ip -n <ns> link set <if> up|down`. */
export function setLinkState(netns: string, iface: string, up: boolean): LabCommand {
  return { argv: ["ip", "-n", netns, "link", "set", "dev", validateInterfaceName(iface), up ? "up" : "down"] };
}

/** `ip -n <ns> -j link show <if>`: JSON with the interface's MAC and flags. */
export function showLink(netns: string, iface?: string): LabCommand {
  return {
    argv: iface === undefined ? ["ip", "-n", netns, "-j", "link", "show"] : ["ip", "-n", netns, "-j", "link", "show", "dev", validateInterfaceName(iface)],
  };
}

/** The monitor's command line inside a node: nsenter into its network namespace, then the monitor. */
export function monitorArgv(node: LabNode, bun = process.execPath): string[] {
  return inNetns(node.netnsPath, [bun, join(REPO_ROOT, "services", "monitor", "src", "main.ts")]);
}

/** The monitor's environment inside a node, as docs/self-healing.md lists it, on top of `base`. */
export function monitorEnvironment(
  plan: LabPlan,
  node: LabNode,
  natsUrl: string,
  base: Record<string, string | undefined> = {},
): Record<string, string | undefined> {
  const interfaces = node.interfaces.join(",");
  return {
    // The lab's pace, unless the caller sets its own (the VM profile slows it down for a TCG guest).
    X0_MONITOR_PROBE_INTERVAL_MS: "20",
    X0_MONITOR_INTERVAL_MS: "100",
    ...base,
    X0_NODE: node.name,
    X0_INSTANCE: `${node.name}-${plan.prefix}`,
    X0_NATS_SERVERS: natsUrl,
    X0_MONITOR_INTERFACES: interfaces,
    X0_MONITOR_XDP_INTERFACES: interfaces,
    X0_MONITOR_SYSFS_NET: join(node.sysfsDir, "class", "net"),
    X0_MONITOR_BPF_PIN_ROOT: node.pinRoot,
    X0_MONITOR_PROBE_PEERS: node.neighbourAddresses.join(","),
    X0_MONITOR_PROBE_PORT: String(HELLO_PORT),
    X0_MONITOR_SERVICE_ADDRESS: node.serviceAddress,
    X0_MONITOR_TRACEPOINTS: "off",
    // A static lab has no batman-adv: no batctl spawns looking for it.
    X0_MONITOR_BATMAN_INTERFACE: plan.routing === "batman" ? BATMAN_MESH_INTERFACE : "off",
    X0_HTTP_HOST: "0.0.0.0",
    X0_HTTP_PORT: String(MONITOR_HTTP_PORT),
    [LAB_MARK_VARIABLE]: plan.prefix,
  };
}

/** Each lab monitor serves HTTP on this port in its own namespace, reached from the root at its management address. */
export const MONITOR_HTTP_PORT = 9101;

/** The base URL of a node's monitor seen from the root namespace. */
export function monitorUrl(node: LabNode): string {
  return `http://${node.mgmtAddress}:${MONITOR_HTTP_PORT}`;
}

/** Who runs a lab's plans: one executor per node inside its namespace (`node`), or one site executor for every node (`site`). */
export const LAB_EXECUTORS = ["node", "site"] as const;
/** A lab's executors. */
export type LabExecutors = (typeof LAB_EXECUTORS)[number];

/** Each node executor serves HTTP on this port in its node's namespace, reached from the root at its management address. */
export const EXECUTOR_HTTP_PORT = 9104;

/** The base URL of a node's executor seen from the root namespace. */
export function executorUrl(node: LabNode): string {
  return `http://${node.mgmtAddress}:${EXECUTOR_HTTP_PORT}`;
}

/** A node executor's command line: nsenter into the node's network namespace, then the executor. */
export function executorArgv(node: LabNode, bun = process.execPath): string[] {
  return inNetns(node.netnsPath, [bun, join(REPO_ROOT, "services", "executor", "src", "main.ts")]);
}

/**
 * A node executor's environment inside its node, on top of `base`: scope node, enforcing, routes in the namespace it runs
 * in (no `{node}` template: it reaches its own node only), its own node's pinned maps and its own signing key (a folder
 * of its node under the key folder).
 */
export function executorEnvironment(
  plan: LabPlan,
  node: LabNode,
  natsUrl: string,
  base: Record<string, string | undefined> = {},
): Record<string, string | undefined> {
  return {
    ...base,
    X0_KEY_DIR: join(base.X0_KEY_DIR ?? ".x0/keys", `executor-${node.name}`),
    X0_NODE: node.name,
    X0_INSTANCE: `executor-${node.name}-${plan.prefix}`,
    X0_NATS_SERVERS: natsUrl,
    X0_EXECUTOR_MODE: "enforce",
    X0_EXECUTOR_SCOPE: "node",
    X0_EXECUTOR_NETNS: "",
    X0_EXECUTOR_BPF_PIN_ROOT: node.pinRoot,
    X0_HTTP_HOST: "0.0.0.0",
    X0_HTTP_PORT: String(EXECUTOR_HTTP_PORT),
    [LAB_MARK_VARIABLE]: plan.prefix,
  };
}

/** The site executor's lab settings (it runs in the root namespace): every node's namespace and pinned maps, enforcing. */
export function siteExecutorEnvironment(prefix: string): Record<string, string> {
  return {
    X0_EXECUTOR_MODE: "enforce",
    X0_EXECUTOR_SCOPE: "all",
    X0_EXECUTOR_NETNS: `${prefix}-{node}`,
    X0_EXECUTOR_BPF_PIN_ROOT: `${pinParentOf(prefix)}/{node}`,
    [LAB_MARK_VARIABLE]: prefix,
  };
}
