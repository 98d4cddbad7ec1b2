// batman-adv settings of a node through batctl (2023 syntax): batman_hop_penalty (`meshif <bat> hop_penalty [n]`,
// `hardif <if> hop_penalty [n]`), batman_interface (`meshif <bat> interface [add|del <if>]`, optionally checked against
// the originator table `meshif <bat> oj`), batman_orig_interval (`meshif <bat> orig_interval [ms]`), batman_aggregation
// (`meshif <bat> aggregation [0|1]`) and batman_gw_mode (`meshif <bat> gw_mode [mode [arg]]`). Each change is read back
// to verify, and the value read before it is what a rollback restores. With a namespace template (X0_EXECUTOR_NETNS, the
// lab's site executor) batctl runs as `ip netns exec <ns> batctl ...` for any node, because batctl has no namespace
// option of its own; without one it acts on this host, for this node only. Given `masters` and `mesh` (netlink in
// process), batman_interface attaches, detaches, lists and verifies hard interfaces (status and the originator table),
// and batman_orig_interval, batman_aggregation and a mesh's batman_hop_penalty read and set their setting, without
// spawning anything: a repair's critical path, and a verification polls every 100 ms while batman-adv converges.
import { type BatmanMesh, type LinkMasters, parseBatctlInterfaces, slavesOf } from "@x0/shared";
import { z } from "zod";
import { ActuatorError } from "../errors.ts";
import { runChecked } from "./exec.ts";
import { InterfaceName, isPerNode, Mac, Node, netnsOfTemplate } from "./params.ts";
import { type Actuator, type ActuatorContext, type Applied, type Observation, observed, type Step } from "./types.ts";

/** Params of batman_hop_penalty: the mesh interface's penalty, or a hard interface's when `interface` is given. */
export const HopPenaltyParams = z.object({
  node: Node,
  mesh_interface: InterfaceName,
  interface: InterfaceName.optional(),
  value: z.coerce.number().int().min(0).max(255),
});
/** Validated batman_hop_penalty params. */
export type HopPenaltyParams = z.infer<typeof HopPenaltyParams>;

/**
 * Params of batman_interface: attach (active) or detach (inactive) a hard interface. With `verify_originator`, verification
 * also needs a best route to that originator (for inactive: one not through `interface`) within `verify_within_ms` of the change.
 */
export const BatmanInterfaceParams = z.object({
  node: Node,
  mesh_interface: InterfaceName,
  interface: InterfaceName,
  state: z.enum(["active", "inactive"]),
  verify_originator: Mac.optional(),
  verify_within_ms: z.coerce.number().int().min(0).max(30_000).default(3000),
});
/** Validated batman_interface params. */
export type BatmanInterfaceParams = z.infer<typeof BatmanInterfaceParams>;

// batman-adv raises anything below 2 × its 20 ms jitter to 40 (netlink set_mesh), so a smaller value could never read back.
const ORIG_INTERVAL_MIN = 40;
const ORIG_INTERVAL_MAX = 2 ** 31 - 1;

/** Params of batman_orig_interval: the OGM interval of a mesh interface in milliseconds. */
export const OrigIntervalParams = z.object({
  node: Node,
  mesh_interface: InterfaceName,
  value: z.coerce
    .number()
    .int()
    .min(ORIG_INTERVAL_MIN, `orig_interval must be at least ${ORIG_INTERVAL_MIN} ms (batman-adv raises smaller values to it)`)
    .max(60_000, "orig_interval must be at most 60000 ms"),
});
/** Validated batman_orig_interval params. */
export type OrigIntervalParams = z.infer<typeof OrigIntervalParams>;

/** Params of batman_aggregation: whether a mesh interface aggregates OGMs (forwarded ones wait up to 100 ms for company). */
export const AggregationParams = z.object({
  node: Node,
  mesh_interface: InterfaceName,
  enabled: z.boolean(),
});
/** Validated batman_aggregation params. */
export type AggregationParams = z.infer<typeof AggregationParams>;

/** What `batctl meshif <bat> aggregation` prints: `enabled` or `disabled`; anything else is an error naming the output. */
export function parseEnabled(output: string): boolean {
  const text = output.trim();
  if (text === "enabled") return true;
  if (text === "disabled") return false;
  throw new ActuatorError(`batctl aggregation printed ${JSON.stringify(text.slice(0, 80))}, not enabled or disabled`);
}

/** The concurrency group of the batman mesh settings a repair changes together: independent settings, applied at once. */
const BATMAN_MESH_SETTINGS = "batman-mesh-settings";

const THROUGHPUT = /^(\d{1,10})(kbit|mbit)?$/i;

/** A batctl throughput argument (`<n>`, `<n>kbit`, `<n>mbit`; plain numbers are kbit/s, as batctl reads them) in batman-adv's unit of 100 kbit/s. */
export function throughputUnits(text: string): number | undefined {
  const match = THROUGHPUT.exec(text);
  if (!match) return undefined;
  const value = Number(match[1]);
  return match[2]?.toLowerCase() === "mbit" ? value * 10 : Math.floor(value / 100);
}

/** A gateway bandwidth argument `down[/up]` in units of 100 kbit/s (up undefined when not given: batman-adv keeps its value). */
export function bandwidthUnits(text: string): { down: number; up?: number } | undefined {
  const [downText = "", upText, ...extra] = text.split("/");
  const down = throughputUnits(downText);
  const up = upText === undefined ? undefined : throughputUnits(upText);
  if (extra.length > 0 || down === undefined || (upText !== undefined && up === undefined)) return undefined;
  return up === undefined ? { down } : { down, up };
}

// Plan params are strings or numbers; both reach batctl as one argument.
const ArgumentText = z.union([z.string(), z.number().int().nonnegative()]).transform(String);

/** Params of batman_gw_mode: `bandwidth` (`down[/up]`, e.g. `10000/2000` kbit/s or `10mbit/2mbit`) only for server, `sel_class` only for client. */
export const GwModeParams = z
  .object({
    node: Node,
    mesh_interface: InterfaceName,
    mode: z.enum(["off", "client", "server"]),
    bandwidth: ArgumentText.refine((text) => {
      const units = bandwidthUnits(text);
      return units !== undefined && units.down >= 1 && (units.up === undefined || units.up >= 1);
    }, "bandwidth must be down[/up] of <n>[kbit|mbit] (plain numbers are kbit/s), each at least 100 kbit/s").optional(),
    sel_class: ArgumentText.refine(
      (text) => (throughputUnits(text) ?? 0) >= 1 || /^[1-9]\d{0,2}$/.test(text),
      "sel_class must be a number (BATMAN_IV: 1-255) or <n>[kbit|mbit] (BATMAN_V)",
    ).optional(),
  })
  .superRefine((params, ctx) => {
    if (params.bandwidth !== undefined && params.mode !== "server")
      ctx.addIssue({ code: "custom", path: ["bandwidth"], message: `bandwidth is for mode server only, not ${params.mode}` });
    if (params.sel_class !== undefined && params.mode !== "client")
      ctx.addIssue({ code: "custom", path: ["sel_class"], message: `sel_class is for mode client only, not ${params.mode}` });
  });
/** Validated batman_gw_mode params. */
export type GwModeParams = z.infer<typeof GwModeParams>;

/** A gateway mode as `batctl gw_mode` prints it; `argument` is what restores its selection class or bandwidth. */
export interface GwState {
  mode: "off" | "client" | "server";
  /** Client: the selection class (BATMAN_IV: a number; BATMAN_V: units of 100 kbit/s, `mbit` true). */
  sel_class?: { value: number; mbit: boolean };
  /** Server: the announced bandwidth in units of 100 kbit/s. */
  bandwidth?: { down: number; up: number };
}

/** What undoing batman_gw_mode needs: the mode and the batctl argument restoring its selection class or bandwidth. */
export const GwUndo = z.object({
  mode: z.enum(["off", "client", "server"]),
  argument: z
    .string()
    .regex(/^\d{1,10}(kbit|mbit)?(\/\d{1,10}(kbit|mbit)?)?$/i)
    .optional(),
});
/** A previous gateway mode. */
export type GwUndo = z.infer<typeof GwUndo>;

/** Parses `batctl gw_mode` output (`off`, `client (selection class: 20)`, `server (announced bw: 10.0/2.0 MBit)`): the first word is the mode. */
export function parseGwMode(output: string): GwState {
  const text = output.trim();
  const mode = /^(off|client|server)\b/.exec(text)?.[1];
  if (mode === undefined) throw new ActuatorError(`batctl gw_mode printed ${JSON.stringify(text.slice(0, 80))}, not a gateway mode`);
  const tenths = (value: string) => Math.round(Number(value) * 10);
  if (mode === "client") {
    // "class" since batctl 2019; older texts said "criteria".
    const sel = /selection (?:class|criteria):\s*(\d+(?:\.\d+)?)\s*(MBit)?/i.exec(text);
    if (sel?.[1]) return { mode, sel_class: sel[2] ? { value: tenths(sel[1]), mbit: true } : { value: Number(sel[1]), mbit: false } };
    return { mode };
  }
  if (mode === "server") {
    const bw = /announced bw:\s*(\d+(?:\.\d+)?)\/(\d+(?:\.\d+)?)\s*MBit/i.exec(text);
    if (bw?.[1] && bw[2]) return { mode, bandwidth: { down: tenths(bw[1]), up: tenths(bw[2]) } };
    return { mode };
  }
  return { mode: "off" };
}

/** The batctl arguments after `gw_mode` that bring back `state` (its class or bandwidth as read, in kbit/s). */
export function gwRestoreArgs(state: GwState): GwUndo {
  if (state.mode === "client" && state.sel_class)
    return { mode: "client", argument: state.sel_class.mbit ? `${state.sel_class.value * 100}kbit` : String(state.sel_class.value) };
  if (state.mode === "server" && state.bandwidth) return { mode: "server", argument: `${state.bandwidth.down * 100}kbit/${state.bandwidth.up * 100}kbit` };
  return { mode: state.mode };
}

/** One originator table entry of `batctl meshif <bat> oj` (fields this actuator reads; others are ignored). */
export const OriginatorEntry = z.object({
  orig_address: Mac,
  neigh_address: Mac.optional(),
  hard_ifname: z.string(),
  tq: z.number().int().min(0).max(255).optional(),
  best: z.boolean().optional(),
  last_seen_msecs: z.number().optional(),
});
/** An originator table entry. */
export type OriginatorEntry = z.infer<typeof OriginatorEntry>;

/** Parses `batctl meshif <bat> oj` output (a JSON array, `best` present only when true); entries that do not fit are skipped. */
export function parseOriginators(output: string): OriginatorEntry[] {
  const text = output.trim();
  if (text === "") return [];
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ActuatorError(`batctl oj printed ${JSON.stringify(text.slice(0, 80))}, not JSON`, { cause: error });
  }
  if (!Array.isArray(json)) throw new ActuatorError(`batctl oj printed ${JSON.stringify(text.slice(0, 80))}, not a JSON array`);
  return json.flatMap((entry) => {
    const parsed = OriginatorEntry.safeParse(entry);
    return parsed.success ? [parsed.data] : [];
  });
}

/** The best route to `originator` in an originator table, if there is one. */
export function bestRoute(entries: readonly OriginatorEntry[], originator: string): OriginatorEntry | undefined {
  return entries.find((entry) => entry.best === true && entry.orig_address === originator.toLowerCase());
}

/** Options of {@link batctlActuators}. */
export interface BatctlOptions {
  /** The batctl executable. */
  batctl?: string;
  /** The ip executable, for `ip netns exec`. */
  ip?: string;
  /** Namespace of a node, `{node}` filled in (e.g. `x0-{node}`); empty: the host, for the executor's own node only. */
  netnsTemplate?: string;
  timeoutMs?: number;
  /** How often batman_interface verification reads the tables again while waiting for batman-adv to re-route. */
  pollMs?: number;
  /** Attaches, detaches and lists hard interfaces in process (rtnetlink); without it batctl does. */
  masters?: LinkMasters;
  /** Reads and sets the OGM interval, and reads what batman_interface verifies, in process (batadv generic netlink); without it batctl does. */
  mesh?: Pick<BatmanMesh, "get" | "set" | "hardInterfaces" | "originators">;
}

/** `error` as an Error (a thrown non-Error becomes an ActuatorError saying what it was). */
function asError(error: unknown): Error {
  return error instanceof Error ? error : new ActuatorError(String(error));
}

/**
 * Applies steps on several nodes at once: reads every step's undo data concurrently, journals those that were read in
 * one write before anything changes, then makes the changes concurrently. A step whose read or change failed gets its
 * error; the others still apply (the runner fails the plan and rolls back what was applied).
 */
async function applyConcurrently<P, U extends object>(
  steps: readonly Step<P>[],
  ctx: ActuatorContext,
  read: (params: P) => Promise<U>,
  change: (params: P, undo: U) => Promise<string>,
): Promise<(Applied<U> | Error)[]> {
  const reads = await Promise.all(steps.map((step) => read(step.params).catch(asError)));
  const ready = steps.flatMap((step, k) => {
    const undo = reads[k];
    return undo === undefined || undo instanceof Error ? [] : [{ step, undo }];
  });
  if (ready.length > 0) await ctx.beforeChange(ready);
  return Promise.all(
    steps.map(async (step, k): Promise<Applied<U> | Error> => {
      const undo = reads[k];
      if (undo === undefined || undo instanceof Error) return undo ?? new ActuatorError("the step's state was not read");
      try {
        const detail = await change(step.params, undo);
        // `at` is when the change was made: verify windows count from it.
        return { undo, at: Date.now(), detail };
      } catch (error) {
        return asError(error);
      }
    }),
  );
}

/** The batman_hop_penalty, batman_interface, batman_orig_interval, batman_gw_mode and batman_aggregation actuators. */
export function batctlActuators({
  batctl = "batctl",
  ip = "ip",
  netnsTemplate = "",
  timeoutMs = 5000,
  pollMs = 100,
  masters,
  mesh,
}: BatctlOptions = {}): [
  Actuator<HopPenaltyParams, { previous: number }>,
  Actuator<BatmanInterfaceParams, { attached: boolean }>,
  Actuator<OrigIntervalParams, { previous: number }>,
  Actuator<GwModeParams, { previous: GwUndo }>,
  Actuator<AggregationParams, { previous: boolean }>,
] {
  const netnsOf = (node: string): string | null => netnsOfTemplate(netnsTemplate, node);
  /** The argv running batctl with `args` for `node`: in its namespace when there is a template, else on this host. */
  const argvOf = (node: string, args: readonly string[]): string[] => {
    const netns = netnsOf(node);
    return netns === null ? [batctl, ...args] : [ip, "netns", "exec", netns, batctl, ...args];
  };
  const run = (node: string, ...args: string[]) => runChecked(argvOf(node, args), { timeoutMs });
  const handles = (params: { node: string }, ctx: ActuatorContext) =>
    netnsTemplate === "" && params.node !== ctx.node
      ? ({ ok: false, reason: `batctl for node ${params.node}: without X0_EXECUTOR_NETNS this executor acts on its own host only (${ctx.node})` } as const)
      : netnsTemplate !== "" && !isPerNode(netnsTemplate) && params.node !== ctx.node
        ? ({ ok: false, reason: `batctl for node ${params.node}: X0_EXECUTOR_NETNS has no {node}, so it names ${ctx.node}'s namespace only` } as const)
        : ({ ok: true } as const);

  /** Reads a numeric setting; anything but digits within `max` is an error naming the command. */
  const readNumber = async (node: string, args: string[], what: string, max: number): Promise<number> => {
    const text = (await run(node, ...args)).trim();
    const value = Number(text);
    if (!/^\d+$/.test(text) || value > max) throw new ActuatorError(`batctl ${args.join(" ")} printed ${JSON.stringify(text.slice(0, 80))}, not ${what}`);
    return value;
  };

  const penaltyArgs = (p: HopPenaltyParams) => (p.interface ? ["hardif", p.interface, "hop_penalty"] : ["meshif", p.mesh_interface, "hop_penalty"]);
  // A mesh interface's penalty is read and set in process when there is `mesh`; a hard interface's always through batctl.
  const readPenalty = async (p: HopPenaltyParams) =>
    mesh && p.interface === undefined ? mesh.get(netnsOf(p.node), p.mesh_interface, "hop_penalty") : readNumber(p.node, penaltyArgs(p), "a hop penalty", 255);
  const setPenalty = async (p: HopPenaltyParams, value: number): Promise<void> => {
    if (mesh && p.interface === undefined) mesh.set(netnsOf(p.node), p.mesh_interface, "hop_penalty", value);
    else await run(p.node, ...penaltyArgs(p), String(value));
  };
  const where = (p: HopPenaltyParams) => (p.interface ? `${p.mesh_interface}/${p.interface}` : p.mesh_interface);
  const attachedOf = async (p: BatmanInterfaceParams) => parseBatctlInterfaces(await run(p.node, "meshif", p.mesh_interface, "interface"));
  /** The hard interfaces of the step's mesh interface (names only): over rtnetlink when there is `masters`, else batctl's listing. */
  const hardInterfacesOf = async (p: BatmanInterfaceParams): Promise<string[]> => {
    if (!masters) return [...(await attachedOf(p)).keys()];
    const slaves = slavesOf(masters.links(netnsOf(p.node)), p.mesh_interface);
    if (slaves === undefined) throw new ActuatorError(`${p.node}: no mesh interface ${p.mesh_interface}`);
    return slaves;
  };
  /** Both ends of a link at once (see applyConcurrently). */
  const applyInterfaces = (steps: readonly Step<BatmanInterfaceParams>[], ctx: ActuatorContext) =>
    applyConcurrently(
      steps,
      ctx,
      async (p): Promise<{ attached: boolean }> => {
        const listing = await hardInterfacesOf(p);
        const attached = listing.includes(p.interface);
        // A mesh interface without hard interfaces cuts the node off the mesh (and older batctl destroys it with every
        // setting a rollback would need); the lab keeps primary0 attached so a repair never gets here.
        if (p.state === "inactive" && attached && listing.length === 1)
          throw new ActuatorError(`${p.node}: refusing to remove ${p.interface}, the last hard interface of ${p.mesh_interface}`);
        return { attached };
      },
      async (p, { attached }) => {
        const attach = p.state === "active";
        if (attach !== attached) await setAttached(p, attach);
        return `${p.node}: ${p.interface} ${attach ? "added to" : "removed from"} ${p.mesh_interface}${attach === attached ? " (already so)" : ""}`;
      },
    );
  const setAttached = async (p: BatmanInterfaceParams, attach: boolean): Promise<void> => {
    if (masters) masters.setMaster(netnsOf(p.node), p.interface, attach ? p.mesh_interface : null);
    else await run(p.node, "meshif", p.mesh_interface, "interface", attach ? "add" : "del", p.interface);
  };
  /** One look at a batman_interface step's effect: the interface listing and, when asked, the best route to the originator. */
  const statusOf = async (p: BatmanInterfaceParams): Promise<string | undefined> => {
    if (!mesh) return (await attachedOf(p)).get(p.interface);
    const active = mesh.hardInterfaces(netnsOf(p.node), p.mesh_interface).get(p.interface);
    return active === undefined ? undefined : active ? "active" : "inactive";
  };
  const originatorsOf = async (p: BatmanInterfaceParams): Promise<OriginatorEntry[]> =>
    mesh
      ? mesh.originators(netnsOf(p.node), p.mesh_interface).map((o) => ({
          orig_address: o.originator,
          neigh_address: o.next_hop,
          hard_ifname: o.interface,
          tq: o.tq,
          best: o.best,
          last_seen_msecs: o.last_seen_ms,
        }))
      : parseOriginators(await run(p.node, "meshif", p.mesh_interface, "oj"));
  const observeInterface = async (p: BatmanInterfaceParams): Promise<Observation> => {
    const status = await statusOf(p);
    const listed = p.state === "active" ? status === "active" : status === undefined || status === "inactive";
    const parts = [`batctl lists ${p.interface} in ${p.mesh_interface} as ${status ?? "absent"}${listed ? "" : ` (want ${p.state})`}`];
    let routed = true;
    if (p.verify_originator !== undefined) {
      const best = bestRoute(await originatorsOf(p), p.verify_originator);
      if (best === undefined) {
        routed = false;
        parts.push(`no best route to ${p.verify_originator}`);
      } else {
        routed = p.state === "active" || best.hard_ifname !== p.interface;
        const via = `best route to ${p.verify_originator} via ${best.hard_ifname} (tq ${best.tq ?? "?"}${best.neigh_address ? `, next hop ${best.neigh_address}` : ""})`;
        parts.push(routed ? via : `${via}: still the removed interface`);
      }
    }
    return observed(listed && routed, parts.join("; "));
  };

  const orig = (p: OrigIntervalParams) => ["meshif", p.mesh_interface, "orig_interval"];
  const readOrigInterval = async (p: OrigIntervalParams) =>
    mesh ? mesh.get(netnsOf(p.node), p.mesh_interface, "orig_interval") : readNumber(p.node, orig(p), "an OGM interval", ORIG_INTERVAL_MAX);
  const setOrigInterval = async (p: OrigIntervalParams, value: number): Promise<void> => {
    if (mesh) mesh.set(netnsOf(p.node), p.mesh_interface, "orig_interval", value);
    else await run(p.node, ...orig(p), String(value));
  };
  const aggregation = (p: AggregationParams) => ["meshif", p.mesh_interface, "aggregation"];
  const readAggregation = async (p: AggregationParams): Promise<boolean> =>
    mesh ? mesh.get(netnsOf(p.node), p.mesh_interface, "aggregated_ogms") !== 0 : parseEnabled(await run(p.node, ...aggregation(p)));
  const setAggregation = async (p: AggregationParams, enabled: boolean): Promise<void> => {
    if (mesh) mesh.set(netnsOf(p.node), p.mesh_interface, "aggregated_ogms", enabled ? 1 : 0);
    else await run(p.node, ...aggregation(p), enabled ? "1" : "0");
  };
  const readGw = async (p: GwModeParams) => parseGwMode(await run(p.node, "meshif", p.mesh_interface, "gw_mode"));
  const setGw = (p: GwModeParams, target: GwUndo) =>
    run(p.node, "meshif", p.mesh_interface, "gw_mode", target.mode, ...(target.argument === undefined ? [] : [target.argument]));
  const wantedGw = (p: GwModeParams): GwUndo => ({ mode: p.mode, argument: p.bandwidth ?? p.sel_class });
  const describeGw = (target: GwUndo) => (target.argument === undefined ? target.mode : `${target.mode} ${target.argument}`);
  /** Whether what batctl reads is what the step asked for (only the parts it named). */
  const gwMatches = (p: GwModeParams, got: GwState): boolean => {
    if (got.mode !== p.mode) return false;
    if (p.mode === "server" && p.bandwidth !== undefined) {
      const want = bandwidthUnits(p.bandwidth);
      if (want === undefined || got.bandwidth?.down !== want.down || (want.up !== undefined && got.bandwidth.up !== want.up)) return false;
    }
    if (p.mode === "client" && p.sel_class !== undefined) {
      if (got.sel_class === undefined) return false;
      // BATMAN_V prints its class as a throughput and batctl reads the argument as one; BATMAN_IV's is a plain number.
      const want = got.sel_class.mbit ? throughputUnits(p.sel_class) : Number(p.sel_class);
      if (want !== got.sel_class.value) return false;
    }
    return true;
  };

  /**
   * The actuator of one batman-adv setting per step (the mesh's OGM interval, aggregation or hop penalty, a hard
   * interface's penalty): read first (the undo, journaled), set, verified by reading it back, set back on rollback. A
   * repair changes it on every node of the mesh at once, so steps are batched (one read per node in parallel, one
   * journal write) in the repair's concurrency group.
   */
  const settingActuator = <P extends { node: string }, V>(spec: {
    type: "batman_hop_penalty" | "batman_orig_interval" | "batman_aggregation";
    params: z.ZodType<P>;
    /** The setting as batctl names it. */
    name: string;
    read: (p: P) => Promise<V>;
    set: (p: P, value: V) => Promise<void>;
    wanted: (p: P) => V;
    show: (value: V) => string;
    where: (p: P) => string;
    /** The journaled undo data is validated again before it is set (it may reach a command line). */
    undo: z.ZodType<V>;
  }): Actuator<P, { previous: V }> => {
    const applyAll = (steps: readonly Step<P>[], ctx: ActuatorContext) =>
      applyConcurrently(
        steps,
        ctx,
        async (p) => ({ previous: await spec.read(p) }),
        async (p, { previous }) => {
          await spec.set(p, spec.wanted(p));
          return `${p.node}: ${spec.name} of ${spec.where(p)} ${spec.show(previous)} → ${spec.show(spec.wanted(p))}`;
        },
      );
    return {
      type: spec.type,
      params: spec.params,
      reversible: true,
      handles,
      apply: async (step, ctx) => {
        const [result] = await applyAll([step], ctx);
        if (result instanceof Error || result === undefined) throw result ?? new ActuatorError(`${spec.type}: no result`);
        return result;
      },
      applyBatch: applyAll,
      concurrencyGroup: BATMAN_MESH_SETTINGS,
      verify: async (step) => {
        const value = await spec.read(step.params);
        const want = spec.wanted(step.params);
        return observed(value === want, `batctl reads ${spec.name} ${spec.show(value)} on ${spec.where(step.params)} (want ${spec.show(want)})`);
      },
      rollback: async (step, applied) => {
        await spec.set(step.params, spec.undo.parse(applied.undo.previous));
      },
    };
  };

  return [
    settingActuator({
      type: "batman_hop_penalty",
      params: HopPenaltyParams,
      name: "hop_penalty",
      read: readPenalty,
      set: setPenalty,
      wanted: (p) => p.value,
      show: String,
      where,
      undo: z.number().int().min(0).max(255),
    }),
    {
      type: "batman_interface",
      params: BatmanInterfaceParams,
      reversible: true,
      handles,
      apply: async (step, ctx) => {
        const [result] = await applyInterfaces([step], ctx);
        if (result instanceof Error || result === undefined) throw result ?? new ActuatorError("batman_interface: no result");
        return result;
      },
      // Both ends of a link (and every neighbour of a dead node) change at once: one read per node in parallel, one journal
      // write for all, then the changes in parallel. batman-adv purges a removed interface's routes on its own side only,
      // so a repair takes effect when the last end is done; in sequence every end would wait for the ones before it.
      applyBatch: (steps, ctx) => applyInterfaces(steps, ctx),
      // Detaching interfaces and speeding OGMs up repair together: neither waits for the other.
      concurrencyGroup: BATMAN_MESH_SETTINGS,
      verify: async (step, applied) => {
        // batman-adv re-selects routes within about a second of losing an interface: look again until the window after
        // the change has passed, so one early read does not fail a repair that is about to take effect.
        const until = applied.at + step.params.verify_within_ms;
        for (;;) {
          const seen = await observeInterface(step.params);
          if (seen.ok || Date.now() + pollMs > until) return seen;
          await Bun.sleep(pollMs);
        }
      },
      rollback: async (step, applied) => {
        const attached = (await hardInterfacesOf(step.params)).includes(step.params.interface);
        const wanted = z.boolean().parse(applied.undo.attached);
        if (attached !== wanted) await setAttached(step.params, wanted);
      },
    },
    settingActuator({
      type: "batman_orig_interval",
      params: OrigIntervalParams,
      name: "orig_interval",
      read: readOrigInterval,
      set: setOrigInterval,
      wanted: (p) => p.value,
      show: (ms) => `${ms} ms`,
      where: (p) => p.mesh_interface,
      undo: z.number().int().min(ORIG_INTERVAL_MIN).max(ORIG_INTERVAL_MAX),
    }),
    {
      type: "batman_gw_mode",
      params: GwModeParams,
      reversible: true,
      handles,
      apply: async (step, ctx) => {
        const previous = gwRestoreArgs(await readGw(step.params));
        await ctx.beforeChange([{ step, undo: { previous } }]);
        const wanted = wantedGw(step.params);
        await setGw(step.params, wanted);
        return {
          undo: { previous },
          at: Date.now(),
          detail: `${step.params.node}: gw_mode of ${step.params.mesh_interface} ${describeGw(previous)} → ${describeGw(wanted)}`,
        };
      },
      verify: async (step) => {
        const got = await readGw(step.params);
        const read = describeGw(gwRestoreArgs(got));
        return observed(
          gwMatches(step.params, got),
          `batctl reads gw_mode ${read} on ${step.params.mesh_interface} (want ${describeGw(wantedGw(step.params))})`,
        );
      },
      rollback: async (step, applied) => {
        await setGw(step.params, GwUndo.parse(applied.undo.previous));
      },
    },
    settingActuator({
      type: "batman_aggregation",
      params: AggregationParams,
      name: "aggregation",
      read: readAggregation,
      set: setAggregation,
      wanted: (p) => p.enabled,
      show: (enabled) => (enabled ? "enabled" : "disabled"),
      where: (p) => p.mesh_interface,
      undo: z.boolean(),
    }),
  ];
}
