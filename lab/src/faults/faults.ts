// Faults on lab links through the receiving interface's pinned XDP fault map (frames from the peer's MAC dropped with a
// probability), or by setting a link administratively down; `heal` undoes all of them.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { LabError, LabPinsMissingError } from "../errors.ts";
import { ipBatch, setLinkState } from "../kernel/commands.ts";
import { readLinks, runCommand } from "../kernel/kernel.ts";
import { type DataplaneControl, type NeighbourKey, openDataplaneControl } from "../monitor-api.ts";
import { type LabLinkEnd, type LabPlan, linkBetween, linksOf, nodeOf } from "../plan/plan.ts";

/** How long a fault waits for a node's monitor to pin its maps. */
export const DEFAULT_PIN_WAIT_MS = 20_000;

/** Waits until `<pinRoot>/<iface>/fault` exists; throws {@link LabPinsMissingError} after `timeoutMs`. */
export async function waitForPins(plan: LabPlan, end: LabLinkEnd, timeoutMs = DEFAULT_PIN_WAIT_MS): Promise<void> {
  const path = join(nodeOf(plan, end.node).pinRoot, end.interface, "fault");
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (Date.now() >= deadline) {
      throw new LabPinsMissingError(
        `no XDP fault map at ${path} after ${timeoutMs / 1000} s: the monitor of ${end.node} has not attached XDP on ${end.interface}. ` +
          `Is it running ("x0 lab status")? Monitors start with "x0 lab up --nats <url>" or "bun run up --lab <topology>".`,
      );
    }
    await Bun.sleep(100);
  }
}

/** The MAC of a link end, read from its namespace. */
export function macOf(plan: LabPlan, end: LabLinkEnd): string {
  const [info] = readLinks(nodeOf(plan, end.node).netns, end.interface);
  if (!info?.mac) throw new LabError(`no MAC address on ${end.interface} in ${nodeOf(plan, end.node).netns}`);
  return info.mac;
}

function withControl<T>(plan: LabPlan, end: LabLinkEnd, use: (control: DataplaneControl) => T): T {
  let control: DataplaneControl;
  try {
    control = openDataplaneControl({ iface: end.interface, pinRoot: nodeOf(plan, end.node).pinRoot });
  } catch (error) {
    throw new LabError(`cannot open the XDP fault map of ${end.interface} on ${end.node}`, { cause: error });
  }
  try {
    return use(control);
  } finally {
    control.close();
  }
}

/**
 * Drops frames from `far` arriving at `near` with `probability` (0 removes the fault): every frame of far's MAC, or with
 * `ipv4`, only its frames with that IPv4 source (a grey failure: routed traffic lost, the link's own hellos not).
 */
export async function setDirectionalFault(
  plan: LabPlan,
  near: LabLinkEnd,
  far: LabLinkEnd,
  probability: number,
  pinWaitMs: number = DEFAULT_PIN_WAIT_MS,
  ipv4: string | "any" = "any",
): Promise<void> {
  await waitForPins(plan, near, pinWaitMs);
  const key: NeighbourKey = { mac: macOf(plan, far), ipv4 };
  withControl(plan, near, (control) => control.setFault(key, probability));
}

/** Sets the drop probability on link A–B in both directions (1 cuts it; 0 restores it). */
export async function setLinkLoss(plan: LabPlan, a: string, b: string, probability: number, pinWaitMs = DEFAULT_PIN_WAIT_MS): Promise<void> {
  if (!(probability >= 0 && probability <= 1)) throw new LabError(`drop probability ${probability} is outside 0…1`);
  const { near, far } = linkBetween(plan, a, b);
  await setDirectionalFault(plan, near, far, probability, pinWaitMs);
  await setDirectionalFault(plan, far, near, probability, pinWaitMs);
}

/** Cuts every link of a node (the node stays up, its mesh neighbours stop hearing it and it them). */
export async function cutNode(plan: LabPlan, node: string, pinWaitMs = DEFAULT_PIN_WAIT_MS): Promise<void> {
  for (const { near, far } of linksOf(plan, node)) {
    await setDirectionalFault(plan, near, far, 1, pinWaitMs);
    await setDirectionalFault(plan, far, near, 1, pinWaitMs);
  }
}

/** Sets A's end of link A–B administratively down (or up). */
export function setLinkAdmin(plan: LabPlan, a: string, b: string, up: boolean): void {
  const { near } = linkBetween(plan, a, b);
  runCommand(setLinkState(nodeOf(plan, a).netns, near.interface, up));
}

/** Options of {@link flapLink}. */
export interface FlapOptions {
  periodMs: number;
  count: number;
  /** Told of each change, e.g. to print it. */
  onChange?: (state: "cut" | "restored", cycle: number) => void;
  signal?: AbortSignal;
}

/** Cuts link A–B for `periodMs`, restores it for `periodMs`, `count` times; always ends restored. */
export async function flapLink(plan: LabPlan, a: string, b: string, { periodMs, count, onChange, signal }: FlapOptions): Promise<void> {
  try {
    for (let cycle = 1; cycle <= count && !signal?.aborted; cycle += 1) {
      await setLinkLoss(plan, a, b, 1);
      onChange?.("cut", cycle);
      await Bun.sleep(periodMs);
      await setLinkLoss(plan, a, b, 0);
      onChange?.("restored", cycle);
      if (cycle < count) await Bun.sleep(periodMs);
    }
  } finally {
    await setLinkLoss(plan, a, b, 0);
  }
}

/** A fault found in a fault map: frames from `from` (a node, or a MAC the lab does not know) dropped at `at`. */
export interface ActiveFault {
  node: string;
  interface: string;
  from: string;
  mac: string;
  probability: number;
}

/** The MAC of every lab link interface, to name the sender of a fault entry. */
export function labMacs(plan: LabPlan): Map<string, { node: string; interface: string }> {
  const macs = new Map<string, { node: string; interface: string }>();
  for (const node of plan.nodes) {
    for (const info of readLinks(node.netns))
      if (node.interfaces.includes(info.name)) macs.set(info.mac.toLowerCase(), { node: node.name, interface: info.name });
  }
  return macs;
}

/** Every fault entry in the lab's fault maps (interfaces whose monitor has not pinned maps are skipped). */
export function activeFaults(plan: LabPlan, macs = labMacs(plan)): ActiveFault[] {
  const found: ActiveFault[] = [];
  for (const node of plan.nodes) {
    for (const iface of node.interfaces) {
      if (!existsSync(join(node.pinRoot, iface, "fault"))) continue;
      const entries = withControl(plan, { node: node.name, interface: iface, address: "" }, (control) => control.faults());
      for (const { neighbour, probability } of entries) {
        found.push({ node: node.name, interface: iface, from: macs.get(neighbour.mac.toLowerCase())?.node ?? neighbour.mac, mac: neighbour.mac, probability });
      }
    }
  }
  return found;
}

/** Undoes every fault: empties each pinned fault map and sets every lab link up. Returns how many entries it removed. */
export function healLab(plan: LabPlan): number {
  let removed = 0;
  for (const node of plan.nodes) {
    for (const iface of node.interfaces) {
      if (!existsSync(join(node.pinRoot, iface, "fault"))) continue;
      withControl(plan, { node: node.name, interface: iface, address: "" }, (control) => {
        for (const { neighbour } of control.faults()) {
          control.setFault(neighbour, 0);
          removed += 1;
        }
      });
    }
    if (node.interfaces.length > 0)
      runCommand(
        ipBatch(
          node.interfaces.map((iface) => `link set dev ${iface} up`),
          node.netns,
        ),
      );
  }
  return removed;
}
