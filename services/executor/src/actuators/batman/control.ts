// How the batman-adv actuators reach batman-adv: batctl on this host or, with a namespace template, in a node's
// namespace; rtnetlink and batadv generic netlink in process when given. Also their batching and argument parsing.
import type { BatmanMesh, LinkMasters } from "@x0/shared";
import { ActuatorError } from "../../errors.ts";
import { runChecked } from "../exec.ts";
import { isPerNode, netnsOfTemplate } from "../params.ts";
import type { ActuatorContext, Applied, Step } from "../types.ts";

/** Options of {@link batmanControl}. */
export interface BatmanControlOptions {
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
  /** Reads and sets mesh settings, and reads what batman_interface verifies, in process (batadv generic netlink); without it batctl does. */
  mesh?: Pick<BatmanMesh, "get" | "set" | "hardInterfaces" | "originators">;
}

/** What every batman-adv actuator uses to read and change a node's batman-adv. */
export interface BatmanControl {
  /** The namespace of `node` (null: this host). */
  netnsOf(node: string): string | null;
  /** Runs batctl with `args` for `node` (in its namespace when there is a template) and returns what it printed. */
  run(node: string, ...args: string[]): Promise<string>;
  /** Reads a numeric setting through batctl; anything but digits within `max` is an error naming the command. */
  readNumber(node: string, args: string[], what: string, max: number): Promise<number>;
  /** Whether this executor reaches `params.node`: its own node without a template, any node with `{node}` in it. */
  handles(params: { node: string }, ctx: ActuatorContext): { ok: true } | { ok: false; reason: string };
  pollMs: number;
  masters?: LinkMasters;
  mesh?: BatmanControlOptions["mesh"];
}

/** The control of the batman-adv actuators from `options`. */
export function batmanControl({
  batctl = "batctl",
  ip = "ip",
  netnsTemplate = "",
  timeoutMs = 5000,
  pollMs = 100,
  masters,
  mesh,
}: BatmanControlOptions = {}): BatmanControl {
  const netnsOf = (node: string): string | null => netnsOfTemplate(netnsTemplate, node);
  // batctl has no namespace option of its own: `ip netns exec <ns> batctl ...`.
  const argvOf = (node: string, args: readonly string[]): string[] => {
    const netns = netnsOf(node);
    return netns === null ? [batctl, ...args] : [ip, "netns", "exec", netns, batctl, ...args];
  };
  const run = (node: string, ...args: string[]) => runChecked(argvOf(node, args), { timeoutMs });
  return {
    netnsOf,
    run,
    readNumber: async (node, args, what, max) => {
      const text = (await run(node, ...args)).trim();
      const value = Number(text);
      if (!/^\d+$/.test(text) || value > max) throw new ActuatorError(`batctl ${args.join(" ")} printed ${JSON.stringify(text.slice(0, 80))}, not ${what}`);
      return value;
    },
    handles: (params, ctx) =>
      netnsTemplate === "" && params.node !== ctx.node
        ? { ok: false, reason: `batctl for node ${params.node}: without X0_EXECUTOR_NETNS this executor acts on its own host only (${ctx.node})` }
        : netnsTemplate !== "" && !isPerNode(netnsTemplate) && params.node !== ctx.node
          ? { ok: false, reason: `batctl for node ${params.node}: X0_EXECUTOR_NETNS has no {node}, so it names ${ctx.node}'s namespace only` }
          : { ok: true },
    pollMs,
    masters,
    mesh,
  };
}

/** The concurrency group of the batman mesh settings a repair changes together: independent settings, applied at once. */
export const BATMAN_MESH_SETTINGS = "batman-mesh-settings";

/** `error` as an Error (a thrown non-Error becomes an ActuatorError saying what it was). */
function asError(error: unknown): Error {
  return error instanceof Error ? error : new ActuatorError(String(error));
}

/**
 * Applies steps on several nodes at once: reads every step's undo data concurrently, journals those that were read in
 * one write before anything changes, then makes the changes concurrently. A step whose read or change failed gets its
 * error; the others still apply (the runner fails the plan and rolls back what was applied).
 */
export async function applyConcurrently<P, U extends object>(
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

/** The one result of a batch of one step: its Applied, or its error thrown. */
export async function applyOne<P, U>(
  applyBatch: (steps: readonly Step<P>[], ctx: ActuatorContext) => Promise<(Applied<U> | Error)[]>,
  step: Step<P>,
  ctx: ActuatorContext,
): Promise<Applied<U>> {
  const [result] = await applyBatch([step], ctx);
  if (result instanceof Error || result === undefined) throw result ?? new ActuatorError(`${step.type}: no result`);
  return result;
}

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
