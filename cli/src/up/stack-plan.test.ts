import { describe, expect, test } from "bun:test";
import { type LabState, parseTopology, planLab } from "@x0/lab";
import { StackStartError, UsageError } from "../errors.ts";
import { executorNameOf, labExecutorProcesses, labLeftover, labMonitorProcesses, monitorNameOf, selectServices, serviceProcess } from "./stack-plan.ts";

const discovered = ["monitor", "analyzer", "planner", "executor", "crypto"];
const select = (options: { only?: string[]; onLab?: boolean; isPortFree?: (port: number) => boolean } = {}) =>
  selectServices({ discovered, only: options.only, portBase: 9101, onLab: options.onLab ?? false, isPortFree: options.isPortFree ?? (() => true) });

describe("up stack plan", () => {
  test("up stack plan - every discovered service starts, in discovery order, on its fixed or next free port", () => {
    const { ports, labMonitors } = select();
    expect([...ports]).toEqual([
      ["monitor", 9101],
      ["analyzer", 9102],
      ["planner", 9103],
      ["executor", 9104],
      ["crypto", 9105],
    ]);
    expect(labMonitors).toBe(false);
  });

  test("up stack plan - --only starts just those services, each on the port it has without --only", () => {
    expect([...select({ only: ["crypto", "analyzer"] }).ports]).toEqual([
      ["analyzer", 9102],
      ["crypto", 9105],
    ]);
    expect(() => select({ only: ["analyzer", "nosuch"] })).toThrow(UsageError);
    expect(() => select({ only: ["nosuch"] })).toThrow(/no such service: nosuch \(services: monitor, analyzer, planner, executor, crypto\)/);
  });

  test("up stack plan - on a lab the nodes run the monitor instead of this machine, when it is selected", () => {
    const onLab = select({ onLab: true });
    expect([...onLab.ports.keys()]).toEqual(["analyzer", "planner", "executor", "crypto"]);
    expect(onLab.labMonitors).toBe(true);
    expect(select({ onLab: true, only: ["planner"] }).labMonitors).toBe(false);
  });

  test("up stack plan - a selected service's port that is taken stops the start, naming port and service", () => {
    const taken = (port: number) => port !== 9102;
    expect(() => select({ isPortFree: taken })).toThrow(StackStartError);
    expect(() => select({ isPortFree: taken })).toThrow(/HTTP port already in use: 9102 \(analyzer\)/);
    expect([...select({ isPortFree: taken, only: ["planner"] }).ports]).toEqual([["planner", 9103]]);
  });

  test("up stack plan - a service runs from its folder with the user's environment, NATS, port, node and identity set", () => {
    const userEnv = { PATH: "/bin", X0_NODE: "ignored", X0_HTTP_PORT: "1" };
    const spec = serviceProcess("planner", 9103, { userEnv, natsUrl: "tls://127.0.0.1:4222", node: "n0", pkiEnv: { X0_DEV_CA_DIR: "/pki" } });
    expect(spec).toMatchObject({ name: "planner", host: "127.0.0.1", port: 9103 });
    expect(spec.argv).toEqual([process.execPath, "services/planner/src/main.ts"]);
    expect(spec.env).toEqual({ PATH: "/bin", X0_NODE: "n0", X0_HTTP_PORT: "9103", X0_NATS_SERVERS: "tls://127.0.0.1:4222", X0_DEV_CA_DIR: "/pki" });
  });

  test("up stack plan - the one swarm of a machine trains on the shipped traces of n1 and publishes rounds of one, unless the user says otherwise", () => {
    const env = (userEnv: Record<string, string>) => serviceProcess("swarm", 9107, { userEnv, natsUrl: "nats://127.0.0.1:4222", node: "n0" }).env;
    expect(env({})).toMatchObject({ X0_SWARM_DATA_NODE: "n1", X0_SWARM_MIN_PARTICIPANTS: "1", X0_NODE: "n0" });
    expect(env({ X0_SWARM_MIN_PARTICIPANTS: "3" })).toMatchObject({ X0_SWARM_MIN_PARTICIPANTS: "3" });
  });

  test("up stack plan - on a cluster every service and lab monitor gets every server and the replica count", () => {
    const natsUrl = "tls://10.254.0.1:4222,tls://10.254.0.1:4223,tls://10.254.0.1:4224";
    const natsEnv = { X0_JS_REPLICAS: "3" };
    expect(serviceProcess("analyzer", 9102, { userEnv: { X0_JS_REPLICAS: "1" }, natsUrl, node: "n0", natsEnv }).env).toMatchObject({
      X0_NATS_SERVERS: natsUrl,
      X0_JS_REPLICAS: "3",
    });
    const plan = planLab(parseTopology("line:2"), "x0", { octet: 254 });
    for (const monitor of labMonitorProcesses(plan, { userEnv: {}, natsUrl, natsEnv })) {
      expect(monitor.env).toMatchObject({ X0_NATS_SERVERS: natsUrl, X0_JS_REPLICAS: "3" });
    }
  });

  test("up stack plan - on a lab only the executor gets the lab's wiring: every node, in its namespace, enforcing", () => {
    const base = { userEnv: {}, natsUrl: "nats://10.254.0.1:4222", node: "n0", labPrefix: "x0" };
    expect(serviceProcess("executor", 9104, base).env).toMatchObject({
      X0_EXECUTOR_SCOPE: "all",
      X0_EXECUTOR_NETNS: "x0-{node}",
      X0_EXECUTOR_BPF_PIN_ROOT: "/sys/fs/bpf/x0lab/{node}",
      X0_EXECUTOR_MODE: "enforce",
    });
    expect(Object.keys(serviceProcess("planner", 9103, base).env).filter((name) => name.startsWith("X0_EXECUTOR_"))).toEqual([]);
    expect(serviceProcess("executor", 9104, { ...base, labPrefix: undefined }).env.X0_EXECUTOR_SCOPE).toBeUndefined();
  });

  test("up stack plan - each lab node gets a monitor in its namespace, answering at its management address", () => {
    const plan = planLab(parseTopology("line:2"), "x0", { octet: 254 });
    const monitors = labMonitorProcesses(plan, { userEnv: { PATH: "/bin" }, natsUrl: "tls://10.254.0.1:4222", pkiEnv: { X0_DEV_CA_DIR: "/pki" } });
    expect(monitors.map(({ name, host, port }) => ({ name, host, port }))).toEqual([
      { name: "monitor@n1", host: "10.254.1.1", port: 9101 },
      { name: "monitor@n2", host: "10.254.1.2", port: 9101 },
    ]);
    expect(monitors[1]?.argv.slice(0, 2)).toEqual(["nsenter", "--net=/run/netns/x0-n2"]);
    expect(monitors[1]?.env).toMatchObject({
      PATH: "/bin",
      X0_DEV_CA_DIR: "/pki",
      X0_NODE: "n2",
      X0_NATS_SERVERS: "tls://10.254.0.1:4222",
      X0_LAB_PREFIX: "x0",
    });
    expect(monitorNameOf("n7")).toBe("monitor@n7");
  });

  test("up stack plan - with node executors each lab node gets its own executor in its namespace instead of one here", () => {
    const onLab = selectServices({ discovered, only: undefined, portBase: 9101, onLab: true, nodeExecutors: true, isPortFree: () => true });
    expect([...onLab.ports.keys()]).toEqual(["analyzer", "planner", "crypto"]);
    expect(onLab.labExecutors).toBe(true);
    expect(select({ onLab: true }).labExecutors).toBe(false);
    const plan = planLab(parseTopology("line:2"), "x0", { octet: 254 });
    const executors = labExecutorProcesses(plan, { userEnv: { PATH: "/bin" }, natsUrl: "tls://10.254.0.1:4222", pkiEnv: { X0_DEV_CA_DIR: "/pki" } });
    expect(executors.map(({ name, host, port }) => ({ name, host, port }))).toEqual([
      { name: "executor@n1", host: "10.254.1.1", port: 9104 },
      { name: "executor@n2", host: "10.254.1.2", port: 9104 },
    ]);
    expect(executors[1]?.argv.slice(0, 2)).toEqual(["nsenter", "--net=/run/netns/x0-n2"]);
    expect(executors[1]?.env).toMatchObject({ X0_DEV_CA_DIR: "/pki", X0_NODE: "n2", X0_EXECUTOR_SCOPE: "node", X0_EXECUTOR_NETNS: "" });
    expect(executorNameOf("n7")).toBe("executor@n7");
  });

  test("up stack plan - a lab of x0 lab up or of a live up is refused, what a crashed up left is removed", () => {
    const state: LabState = {
      v: 1,
      prefix: "x0",
      topology: "line:2",
      routing: "static",
      link_costs: "equal",
      mgmt_subnet: "10.254.0.0/16",
      nats: null,
      owner: "up",
      owner_pid: 4242,
      processes: [],
      faults: [],
      created_at: "2026-01-01T00:00:00.000Z",
    };
    const alive = () => true;
    const gone = () => false;
    expect(labLeftover(undefined, false, alive)).toEqual({ kind: "none" });
    expect(labLeftover(undefined, true, alive)).toEqual({ kind: "remove" });
    expect(labLeftover(state, false, gone)).toEqual({ kind: "remove" });
    expect(labLeftover(state, false, alive)).toEqual({ kind: "refuse", by: "another up (pid 4242)" });
    expect(labLeftover({ ...state, owner: "lab" }, false, gone)).toEqual({ kind: "refuse", by: "x0 lab up" });
  });
});
