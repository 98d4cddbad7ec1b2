import { describe, expect, test } from "bun:test";
import { LabSpecError } from "../errors.ts";
import { nodeOf, planLab } from "../plan/plan.ts";
import { parseTopology } from "../plan/topology.ts";
import {
  batmanLinkPenalties,
  batmanMeshSettings,
  buildCommands,
  configureNode,
  createLinks,
  createNamespaces,
  executorArgv,
  executorEnvironment,
  executorUrl,
  installRoutes,
  type LabCommand,
  monitorArgv,
  monitorEnvironment,
  mountSysfs,
  nodeSysctls,
  setLinkState,
  showLink,
  siteExecutorEnvironment,
} from "./commands.ts";

const line = planLab(parseTopology("line:3"), "x0", { octet: 254 });
const n2 = nodeOf(line, "n2");
const batmanLine = planLab(parseTopology("line:3"), "x0", { octet: 254 }, "batman");

describe("lab commands", () => {
  test("lab commands - a batman node: primary0 first in bat0, every link a hard interface, the service address on bat0, no routes", () => {
    expect(batmanLine.routes).toEqual([]);
    expect(installRoutes(batmanLine, nodeOf(batmanLine, "n2"))).toBeUndefined();
    expect(configureNode(batmanLine, nodeOf(batmanLine, "n2")).stdin?.split("\n")).toEqual([
      "link set lo up",
      "link add name primary0 type dummy",
      "link set primary0 up",
      "link add name bat0 type batadv",
      "link set primary0 master bat0",
      "link set n2-n1 mtu 1560",
      "link set n2-n1 master bat0",
      "addr add 10.200.0.2/30 dev n2-n1",
      "link set n2-n1 up",
      "link set n2-n3 mtu 1560",
      "link set n2-n3 master bat0",
      "addr add 10.200.0.5/30 dev n2-n3",
      "link set n2-n3 up",
      "link set bat0 up",
      "addr add 10.255.0.2/16 dev bat0",
      "addr add 10.254.1.2/16 dev mgmt",
      "link set mgmt up",
      "",
    ]);
    // Bridge loop avoidance off (bat0 is not bridged; it would drop the node's ARP requests while its claims settle).
    expect(batmanMeshSettings(batmanLine, nodeOf(batmanLine, "n2"))?.argv).toEqual([
      "nsenter",
      `--net=${nodeOf(batmanLine, "n2").netnsPath}`,
      "batctl",
      "meshif",
      "bat0",
      "bridge_loop_avoidance",
      "0",
    ]);
    expect(batmanMeshSettings(line, n2)).toBeUndefined();
    // Link costs: none with equal links; with distinct ones, each of the node's hard interfaces gets its link's penalty.
    expect(batmanLinkPenalties(batmanLine, nodeOf(batmanLine, "n2"))).toEqual([]);
    const costed = planLab(parseTopology("line:3"), "x0", { octet: 254 }, "batman", "distinct");
    const netns = `--net=${nodeOf(costed, "n2").netnsPath}`;
    expect(batmanLinkPenalties(costed, nodeOf(costed, "n2")).map((command) => command.argv)).toEqual([
      ["nsenter", netns, "batctl", "hardif", "n2-n1", "hop_penalty", "2"],
      ["nsenter", netns, "batctl", "hardif", "n2-n3", "hop_penalty", "4"],
    ]);
    expect(batmanLinkPenalties(line, n2)).toEqual([]);
    expect(monitorEnvironment(batmanLine, nodeOf(batmanLine, "n2"), "nats://x:1").X0_MONITOR_BATMAN_INTERFACE).toBe("bat0");
    expect(monitorEnvironment(line, n2, "nats://x:1").X0_MONITOR_BATMAN_INTERFACE).toBe("off");
  });

  test("lab commands - namespaces and links go through one root ip batch each", () => {
    expect(createNamespaces(line)).toEqual({ argv: ["ip", "-batch", "-"], stdin: "netns add x0-n1\nnetns add x0-n2\nnetns add x0-n3\n" });
    expect(createLinks(line).stdin?.split("\n")).toEqual([
      "link add name x0-mgmt type bridge",
      "addr add 10.254.0.1/16 dev x0-mgmt",
      "link set x0-mgmt up",
      "link add name n1-n2 netns x0-n1 type veth peer name n2-n1 netns x0-n2",
      "link add name n2-n3 netns x0-n2 type veth peer name n3-n2 netns x0-n3",
      "link add name x0-m1 type veth peer name mgmt netns x0-n1",
      "link set x0-m1 master x0-mgmt",
      "link set x0-m1 up",
      "link add name x0-m2 type veth peer name mgmt netns x0-n2",
      "link set x0-m2 master x0-mgmt",
      "link set x0-m2 up",
      "link add name x0-m3 type veth peer name mgmt netns x0-n3",
      "link set x0-m3 master x0-mgmt",
      "link set x0-m3 up",
      "",
    ]);
  });

  test("lab commands - a node is configured and routed inside its namespace", () => {
    expect(configureNode(line, n2)).toEqual({
      argv: ["ip", "-n", "x0-n2", "-batch", "-"],
      stdin:
        "link set lo up\naddr add 10.255.0.2/32 dev lo\naddr add 10.200.0.2/30 dev n2-n1\nlink set n2-n1 up\naddr add 10.200.0.5/30 dev n2-n3\nlink set n2-n3 up\naddr add 10.254.1.2/16 dev mgmt\nlink set mgmt up\n",
    });
    expect(installRoutes(line, nodeOf(line, "n1"))?.stdin).toBe(
      "route replace 10.255.0.2/32 via 10.200.0.2 dev n1-n2 src 10.255.0.1\nroute replace 10.255.0.3/32 via 10.200.0.2 dev n1-n2 src 10.255.0.1\n",
    );
    expect(nodeSysctls(n2).argv.slice(0, 5)).toEqual(["nsenter", "--net=/run/netns/x0-n2", "sysctl", "-q", "-w"]);
    expect(nodeSysctls(n2).argv).toContain("net.ipv6.conf.default.disable_ipv6=1");
    expect(mountSysfs(n2).argv).toEqual(["nsenter", "--net=/run/netns/x0-n2", "mount", "-t", "sysfs", "sysfs", "/run/x0/lab/x0/n2/sys"]);
  });

  test("lab commands - a lab is built in order: namespaces, sysctls, links, nodes, batman settings or routes, mounts", () => {
    // Every node of line:3 has routes (static) and batman settings (batman): no expected entry is undefined.
    const routing = [
      [line, installRoutes],
      [batmanLine, batmanMeshSettings],
    ] as const;
    for (const [plan, routingStep] of routing) {
      expect<(LabCommand | undefined)[]>(buildCommands(plan)).toEqual([
        createNamespaces(plan),
        ...plan.nodes.map(nodeSysctls),
        createLinks(plan),
        ...plan.nodes.map((node) => configureNode(plan, node)),
        ...plan.nodes.map((node) => routingStep(plan, node)),
        ...plan.nodes.map(mountSysfs),
      ]);
    }
  });

  test("lab commands - link state and show take validated interface names", () => {
    expect(setLinkState("x0-n1", "n1-n2", false).argv).toEqual(["ip", "-n", "x0-n1", "link", "set", "dev", "n1-n2", "down"]);
    expect(showLink("x0-n1", "n1-n2").argv).toEqual(["ip", "-n", "x0-n1", "-j", "link", "show", "dev", "n1-n2"]);
    expect(() => setLinkState("x0-n1", "n1 n2", true)).toThrow(LabSpecError);
  });

  test("lab commands - the monitor runs under nsenter with the environment of the design", () => {
    expect(monitorArgv(n2, "/usr/bin/bun").slice(0, 3)).toEqual(["nsenter", "--net=/run/netns/x0-n2", "/usr/bin/bun"]);
    expect(monitorArgv(n2).at(-1)).toEndWith("services/monitor/src/main.ts");
    expect(monitorEnvironment(line, n2, "nats://10.254.0.1:4222", { PATH: "/bin" })).toMatchObject({
      PATH: "/bin",
      X0_NODE: "n2",
      X0_NATS_SERVERS: "nats://10.254.0.1:4222",
      X0_MONITOR_INTERFACES: "n2-n1,n2-n3",
      X0_MONITOR_XDP_INTERFACES: "n2-n1,n2-n3",
      X0_MONITOR_SYSFS_NET: "/run/x0/lab/x0/n2/sys/class/net",
      X0_MONITOR_BPF_PIN_ROOT: "/sys/fs/bpf/x0lab/n2",
      X0_MONITOR_PROBE_PEERS: "10.200.0.1,10.200.0.6",
      X0_MONITOR_SERVICE_ADDRESS: "10.255.0.2",
      X0_MONITOR_PROBE_INTERVAL_MS: "20",
      X0_MONITOR_INTERVAL_MS: "100",
      X0_MONITOR_TRACEPOINTS: "off",
      X0_HTTP_HOST: "0.0.0.0",
      X0_LAB_PREFIX: "x0",
    });
    // The caller sets the pace (the VM profile slows it); the lab's wiring it cannot override.
    const paced = monitorEnvironment(line, n2, "nats://x:1", { X0_MONITOR_INTERVAL_MS: "1000", X0_MONITOR_PROBE_INTERVAL_MS: "100", X0_NODE: "other" });
    expect(paced).toMatchObject({ X0_MONITOR_INTERVAL_MS: "1000", X0_MONITOR_PROBE_INTERVAL_MS: "100", X0_NODE: "n2" });
  });

  test("lab commands - a node executor runs in its node's namespace, on its node only; the site executor reaches every node", () => {
    expect(executorArgv(n2, "/usr/bin/bun").slice(0, 3)).toEqual(["nsenter", "--net=/run/netns/x0-n2", "/usr/bin/bun"]);
    expect(executorArgv(n2).at(-1)).toEndWith("services/executor/src/main.ts");
    const env = executorEnvironment(line, n2, "nats://10.254.0.1:4222", {
      X0_EXECUTOR_IP: "/tmp/ip",
      X0_EXECUTOR_SCOPE: "all",
      X0_EXECUTOR_NETNS: "x0-{node}",
    });
    expect(env).toMatchObject({
      X0_NODE: "n2",
      X0_NATS_SERVERS: "nats://10.254.0.1:4222",
      X0_EXECUTOR_IP: "/tmp/ip",
      X0_EXECUTOR_MODE: "enforce",
      X0_EXECUTOR_SCOPE: "node",
      X0_EXECUTOR_NETNS: "",
      X0_EXECUTOR_BPF_PIN_ROOT: "/sys/fs/bpf/x0lab/n2",
      X0_HTTP_HOST: "0.0.0.0",
      X0_HTTP_PORT: "9104",
      X0_LAB_PREFIX: "x0",
      X0_KEY_DIR: ".x0/keys/executor-n2",
    });
    expect(executorEnvironment(line, n2, "nats://x:1", { X0_KEY_DIR: "/keys" }).X0_KEY_DIR).toBe("/keys/executor-n2");
    expect(executorUrl(n2)).toBe(`http://${n2.mgmtAddress}:9104`);
    expect(siteExecutorEnvironment("x0")).toEqual({
      X0_EXECUTOR_MODE: "enforce",
      X0_EXECUTOR_SCOPE: "all",
      X0_EXECUTOR_NETNS: "x0-{node}",
      X0_EXECUTOR_BPF_PIN_ROOT: "/sys/fs/bpf/x0lab/{node}",
      X0_LAB_PREFIX: "x0",
    });
  });
});
