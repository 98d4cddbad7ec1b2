// quarantine_neighbour / release_neighbour: the XDP deny map of an interface, through the monitor's pinned maps
// (`<pinRoot>/<interface>/`), so the executor changes the data plane without talking to the monitor process.
import type { Telemetry } from "@x0/shared";
import { z } from "zod";
import { ActuatorError } from "../errors.ts";
import { fillTemplate, InterfaceName, Ipv4, isPerNode, Mac, Node } from "./params.ts";
import { type Actuator, type ActuatorContext, type Applied, type Observation, observed, type Step } from "./types.ts";

/** A neighbour key of the deny and fault maps: ipv4 "any" matches every frame of the MAC, null its non-IPv4 frames. */
export interface NeighbourKey {
  mac: string;
  ipv4: string | null | "any";
}

/** The monitor's data-plane control of one interface (services/monitor/src/mod.ts `openDataplaneControl`). */
export interface DataplaneControl {
  deny(key: NeighbourKey): void;
  allow(key: NeighbourKey): boolean | undefined;
  setFault(key: NeighbourKey, probability: number): void;
  denied(): NeighbourKey[];
  faults(): { neighbour: NeighbourKey; probability: number }[];
  close(): void;
}

/** Opens the pinned maps of one interface. */
export type OpenDataplaneControl = (options: { iface: string; pinRoot: string; bpfDir?: string }) => DataplaneControl | Promise<DataplaneControl>;

/** Params of quarantine_neighbour and release_neighbour; ipv4 "any" (default) covers every frame of the MAC, "none" its non-IPv4 frames. */
export const NeighbourParams = z.object({
  node: Node,
  interface: InterfaceName,
  mac: Mac,
  ipv4: z.union([Ipv4, z.literal("any"), z.literal("none")]).default("any"),
});
/** Validated neighbour params. */
export type NeighbourParams = z.infer<typeof NeighbourParams>;

/** What undoing a deny change needs: where the maps are, the key, and whether it was denied before. */
export interface DenyUndo {
  pinRoot: string;
  iface: string;
  key: NeighbourKey;
  wasDenied: boolean;
}

/** Options of {@link denyActuators}. */
export interface DenyOptions {
  open: OpenDataplaneControl;
  /** Pin root of a node, `{node}` filled in (e.g. `/sys/fs/bpf/x0lab/{node}`). */
  pinRootTemplate?: string;
  bpfDir?: string;
  /** How long verify watches telemetry for the neighbour's drops. */
  watchMs?: number;
}

const keyOf = (params: NeighbourParams): NeighbourKey => ({ mac: params.mac, ipv4: params.ipv4 === "none" ? null : params.ipv4 });
const sameKey = (a: NeighbourKey, b: NeighbourKey) => a.mac === b.mac && a.ipv4 === b.ipv4;
const keyText = (key: NeighbourKey) => `${key.mac}/${key.ipv4 ?? "-"}`;

/** Frames and drops of a neighbour key on an interface in one telemetry sample (undefined: not in it). */
export function neighbourActivity(telemetry: Telemetry, iface: string, key: NeighbourKey): { packets: number; dropped: number } | undefined {
  const sample = telemetry.interfaces.find((candidate) => candidate.name === iface);
  const matches = (sample?.neighbours ?? []).filter((n) => n.mac === key.mac && (key.ipv4 === "any" || n.ipv4 === key.ipv4));
  if (matches.length === 0) return undefined;
  return matches.reduce((sum, n) => ({ packets: sum.packets + n.packets_delta, dropped: sum.dropped + n.dropped_delta }), { packets: 0, dropped: 0 });
}

/** The quarantine_neighbour and release_neighbour actuators. */
export function denyActuators({ open, pinRootTemplate = "/sys/fs/bpf/x0", bpfDir, watchMs = 1500 }: DenyOptions): Actuator<NeighbourParams, DenyUndo>[] {
  const withControl = async <T>(pinRoot: string, iface: string, use: (control: DataplaneControl) => T | Promise<T>): Promise<T> => {
    let control: DataplaneControl;
    try {
      control = await open({ iface, pinRoot, bpfDir });
    } catch (error) {
      throw new ActuatorError(`cannot open the pinned maps of ${iface} under ${pinRoot}`, { cause: error });
    }
    try {
      // Awaited here: the maps must stay open until an async `use` is done with them.
      return await use(control);
    } finally {
      control.close();
    }
  };

  /** Watches telemetry for the neighbour: drops must rise while it still sends (quarantine), or stop (release). */
  const watch = async (step: Step<NeighbourParams>, key: NeighbourKey, wantDrops: boolean, ctx: ActuatorContext): Promise<string | Observation> => {
    if (!ctx.nextTelemetry) return "no telemetry subscription";
    const deadline = Date.now() + watchMs;
    let seen = false;
    while (Date.now() < deadline) {
      const telemetry = await ctx.nextTelemetry(step.params.node, deadline - Date.now());
      if (!telemetry) break;
      seen = true;
      const activity = neighbourActivity(telemetry, step.params.interface, key);
      if (!activity || activity.packets === 0) continue;
      const dropping = activity.dropped >= activity.packets;
      const text = `${activity.packets} frames, ${activity.dropped} dropped in the last sample`;
      return observed(dropping === wantDrops, wantDrops ? `deny entry present; ${text}` : `deny entry absent; ${text}`);
    }
    return seen ? `${keyText(key)} sent nothing while watched` : `no telemetry from ${step.params.node} within ${watchMs} ms`;
  };

  const make = (type: "quarantine_neighbour" | "release_neighbour"): Actuator<NeighbourParams, DenyUndo> => {
    const quarantine = type === "quarantine_neighbour";
    return {
      type,
      params: NeighbourParams,
      reversible: true,
      handles: (params, ctx) =>
        isPerNode(pinRootTemplate) || params.node === ctx.node
          ? { ok: true }
          : { ok: false, reason: `neighbour on node ${params.node}: X0_EXECUTOR_BPF_PIN_ROOT has no {node}, so it reaches ${ctx.node}'s maps only` },
      apply: async (step, ctx): Promise<Applied<DenyUndo>> => {
        const pinRoot = fillTemplate(pinRootTemplate, step.params.node);
        const iface = step.params.interface;
        const key = keyOf(step.params);
        return withControl(pinRoot, iface, async (control) => {
          const wasDenied = control.denied().some((entry) => sameKey(entry, key));
          await ctx.beforeChange([{ step, undo: { pinRoot, iface, key, wasDenied } }]);
          if (quarantine) control.deny(key);
          else control.allow(key);
          return {
            undo: { pinRoot, iface, key, wasDenied },
            at: Date.now(),
            detail: `${quarantine ? "denied" : "allowed"} ${keyText(key)} on ${step.params.node}/${iface}${wasDenied === quarantine ? " (already so)" : ""}`,
          };
        });
      },
      verify: async (step, applied, ctx) => {
        const { pinRoot, iface, key } = applied.undo;
        let present: boolean;
        try {
          present = await withControl(pinRoot, iface, (control) => control.denied().some((entry) => sameKey(entry, key)));
        } catch (error) {
          return observed(false, (error as Error).message);
        }
        if (present !== quarantine)
          return observed(false, `deny entry for ${keyText(key)} ${present ? "still present" : "absent"} in ${pinRoot}/${iface}/deny`);
        const watched = await watch(step, key, quarantine, ctx);
        if (typeof watched !== "string") return watched;
        return observed(true, `deny entry ${quarantine ? "present" : "absent"} in the kernel map; ${watched}`);
      },
      rollback: async (_step, applied) => {
        const { pinRoot, iface, key, wasDenied } = applied.undo;
        // Restore what was there: a key denied before the plan stays denied, one that was not is allowed again.
        await withControl(pinRoot, iface, (control) => (wasDenied ? control.deny(key) : control.allow(key)));
      },
    };
  };
  return [make("quarantine_neighbour"), make("release_neighbour")];
}
