// The executor's actuators as its configuration sets them up: routes, notify, restarts, the XDP deny maps (the monitor's
// code loaded on first use) and batman-adv, over netlink in process (X0_EXECUTOR_BATMAN_CONTROL=netlink) or batctl.
import { type BatmanMesh, batadvMesh, type LinkMasters, NetlinkSockets, rtnetlinkMasters } from "@x0/shared";
import type { ExecutorConfig } from "../config.ts";
import { DataplaneUnavailable } from "../errors.ts";
import { batmanControl, registerBatmanActuators } from "./batman/mod.ts";
import { type DataplaneControl, denyActuators, type OpenDataplaneControl } from "./deny.ts";
import { notifyActuator } from "./notify.ts";
import { processActuator } from "./process.ts";
import { ActuatorRegistry } from "./registry.ts";
import { routesActuator } from "./routes.ts";

// Loaded on first use: a dry-run executor, or one that never quarantines, needs neither libbpf nor the monitor's code.
const MONITOR_MODULE = "@x0/monitor";
const openDataplane: OpenDataplaneControl = async (options) => {
  let monitor: { openDataplaneControl?: (o: typeof options) => DataplaneControl | Promise<DataplaneControl> };
  try {
    monitor = await import(MONITOR_MODULE);
  } catch (error) {
    throw new DataplaneUnavailable(`cannot load ${MONITOR_MODULE}`, { cause: error });
  }
  if (typeof monitor.openDataplaneControl !== "function") throw new DataplaneUnavailable(`${MONITOR_MODULE} exports no openDataplaneControl`);
  return monitor.openDataplaneControl(options);
};

/** The variables the actuators are set up from. */
export type ActuatorConfig = Pick<
  ExecutorConfig,
  | "X0_EXECUTOR_IP"
  | "X0_EXECUTOR_NETNS"
  | "X0_EXECUTOR_PROCESSES"
  | "X0_EXECUTOR_BPF_PIN_ROOT"
  | "X0_EXECUTOR_BPF_DIR"
  | "X0_EXECUTOR_BATCTL"
  | "X0_EXECUTOR_BATMAN_CONTROL"
>;

/** The actuators set up from `config`, and with netlink control the in-process paths to batman-adv (`close` them on stop). */
export function actuatorsFromConfig(config: ActuatorConfig): { registry: ActuatorRegistry; masters?: LinkMasters; mesh?: BatmanMesh; close(): void } {
  const registry = new ActuatorRegistry()
    .register(routesActuator({ ip: config.X0_EXECUTOR_IP, netnsTemplate: config.X0_EXECUTOR_NETNS }))
    .register(notifyActuator())
    .register(processActuator({ allow: config.X0_EXECUTOR_PROCESSES }));
  for (const actuator of denyActuators({ open: openDataplane, pinRootTemplate: config.X0_EXECUTOR_BPF_PIN_ROOT, bpfDir: config.X0_EXECUTOR_BPF_DIR })) {
    registry.register(actuator);
  }
  const netlink = config.X0_EXECUTOR_BATMAN_CONTROL === "netlink" ? new NetlinkSockets() : undefined;
  const masters = netlink && rtnetlinkMasters(netlink);
  const mesh = netlink && masters && batadvMesh(netlink, masters);
  const batman = batmanControl({ batctl: config.X0_EXECUTOR_BATCTL, ip: config.X0_EXECUTOR_IP, netnsTemplate: config.X0_EXECUTOR_NETNS, masters, mesh });
  registerBatmanActuators(registry, batman);
  return { registry, masters, mesh, close: () => netlink?.close() };
}
