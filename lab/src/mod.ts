// Public surface of @x0/lab: the network-namespace mesh lab as a library (plan, build, faults, probes, teardown, VM).
// The veth-pair helpers for single-link tests and benchmarks are `@x0/lab/veth` (src/veth/veth.ts).
export { LabCommandError, LabError, LabExistsError, LabPinsMissingError, LabSpecError, LabStateError, VmError } from "./errors.ts";
export { type ActiveFault, cutNode, type FlapOptions, flapLink, healLab, setDirectionalFault, setLinkAdmin, setLinkLoss } from "./faults/faults.ts";
export {
  EXECUTOR_HTTP_PORT,
  executorArgv,
  executorEnvironment,
  executorUrl,
  HELLO_PORT,
  inNetns,
  LAB_EXECUTORS,
  type LabExecutors,
  MONITOR_HTTP_PORT,
  monitorArgv,
  monitorEnvironment,
  siteExecutorEnvironment,
} from "./kernel/commands.ts";
export { existingNamespaces, type TeardownOptions, type TeardownReport, teardownLab } from "./kernel/kernel.ts";
export {
  type CreateLabOptions,
  createLab,
  EXECUTOR_ROLE,
  type LabStatus,
  type LinkStatus,
  labStatus,
  loadLab,
  MONITOR_ROLE,
  type NatsChoice,
  type NodeStatus,
  natsUrlOf,
  startDetachedExecutor,
  startDetachedMonitor,
  waitForDataplanes,
} from "./lifecycle/lab.ts";
export { LabFault, LabProcess, LabState, readLabState, writeLabState } from "./lifecycle/state.ts";
export { LAB_SCRIPTS_DIR } from "./paths.ts";
export { DEFAULT_LAB_PREFIX, defaultMgmtSubnet, type MgmtSubnet, parseMgmtSubnet } from "./plan/addressing.ts";
export { pinParentOf, stateFileOf, validateNodeName, validatePrefix } from "./plan/names.ts";
export {
  BATMAN_MESH_INTERFACE,
  LAB_LINK_COSTS,
  LAB_ROUTINGS,
  type LabLink,
  type LabLinkCosts,
  type LabLinkEnd,
  type LabNode,
  type LabPlan,
  type LabRouting,
  linkBetween,
  linkHopPenalty,
  linksOf,
  nodeOf,
  planLab,
} from "./plan/plan.ts";
export { type LabTopology, parseTopology } from "./plan/topology.ts";
export type { OutageEvent, ProbeEvent, RestoredEvent, SummaryEvent } from "./probe/outage.ts";
export { LabProber, type LabProberOptions } from "./probe/prober.ts";
export { runInVm, type VmRunOptions, type VmRunResult, vmImageDirOf } from "./vm/vm.ts";
