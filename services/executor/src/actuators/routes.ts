// route_replace: a /32 route towards a node's service address, through iproute2, in the node's network namespace (lab, site
// executor) or on the host (one executor per node). Many steps for one namespace go through one `ip -batch -` spawn, so a
// 40-route repair costs three spawns (read, change, read back), not 120; a checked one reads while it checks.
import { z } from "zod";
import { ActuatorError, CommandFailed } from "../errors.ts";
import { runCommand } from "./exec.ts";
import { InterfaceName, Ipv4, isPerNode, Node, netnsOfTemplate } from "./params.ts";
import { type Actuator, type ActuatorContext, type Applied, type Observation, observed, type Step } from "./types.ts";

/** Params of a route_replace step. */
export const RouteParams = z.object({
  node: Node,
  destination: Node.optional(),
  prefix: z
    .string()
    .transform((prefix) => prefix.replace(/\/32$/, ""))
    .pipe(Ipv4),
  via: Ipv4,
  dev: InterfaceName,
  src: Ipv4.optional(),
});
/** Validated route_replace params. */
export type RouteParams = z.infer<typeof RouteParams>;

/** A route as the kernel reported it (`ip -j route show`), reduced to what restoring it needs; validated again before use. */
export const KernelRoute = z.object({
  type: z.enum(["unicast", "unreachable", "blackhole", "prohibit", "throw", "local"]).optional(),
  gateway: Ipv4.optional(),
  dev: InterfaceName.optional(),
  prefsrc: Ipv4.optional(),
  protocol: z
    .string()
    .regex(/^[a-z0-9_]{1,16}$/)
    .optional(),
  scope: z.enum(["global", "link", "host", "site", "universe"]).optional(),
  metric: z.number().int().nonnegative().optional(),
});
/** A previous route. */
export type KernelRoute = z.infer<typeof KernelRoute>;

/** What undoing a route_replace needs: the namespace (null: host) and the route it replaced (null: there was none). */
export interface RouteUndo {
  netns: string | null;
  previous: KernelRoute | null;
}

/** Options of {@link routesActuator}. */
export interface RoutesOptions {
  /** The ip executable. */
  ip?: string;
  /** Namespace of a node, `{node}` filled in (e.g. `x0-{node}`); empty: the host, for the executor's own node only. */
  netnsTemplate?: string;
  timeoutMs?: number;
}

const FAILED_LINE = /^Command failed -:(\d+)$/;

/**
 * How long the routes a check read stand for the undo data of a later change in that namespace (a coordinated plan's
 * waves come within its deadline): a step's previous route is then not read again, unless this actuator changed or
 * restored that prefix since.
 */
const CHECKED_ROUTES_MS = 10_000;

/** Splits `ip -force -batch` stderr into the error text of each failed line (1-based line → message). */
export function batchFailures(stderr: string): Map<number, string> {
  const failures = new Map<number, string>();
  let pending: string[] = [];
  for (const line of stderr.split("\n")) {
    const match = FAILED_LINE.exec(line.trim());
    if (match) {
      failures.set(Number(match[1]), pending.join("; ") || "failed");
      pending = [];
    } else if (line.trim()) pending.push(line.trim());
  }
  return failures;
}

/** The `route replace` arguments that restore `route` for `prefix`. */
export function restoreArgs(prefix: string, route: KernelRoute): string[] {
  const args = ["route", "replace"];
  if (route.type && route.type !== "unicast") args.push(route.type);
  args.push(`${prefix}/32`);
  if (route.gateway) args.push("via", route.gateway);
  if (route.dev) args.push("dev", route.dev);
  if (route.prefsrc) args.push("src", route.prefsrc);
  if (route.protocol) args.push("proto", route.protocol);
  if (route.scope) args.push("scope", route.scope);
  if (route.metric) args.push("metric", String(route.metric));
  return args;
}

/** The route_replace actuator. */
export function routesActuator({ ip = "ip", netnsTemplate = "", timeoutMs = 5000 }: RoutesOptions = {}): Actuator<RouteParams, RouteUndo> {
  const netnsOf = (node: string): string | null => netnsOfTemplate(netnsTemplate, node);
  const ipArgv = (netns: string | null, ...args: string[]) => (netns === null ? [ip, ...args] : [ip, "-n", netns, ...args]);

  /** Runs `lines` through one `ip -force -batch -`; returns the error of each failed line (0-based). */
  const batch = async (netns: string | null, lines: string[][], json = false): Promise<{ stdout: string; failures: Map<number, string> }> => {
    const argv = ipArgv(netns, ...(json ? ["-j"] : []), "-force", "-batch", "-");
    const output = await runCommand(argv, { stdin: `${lines.map((line) => line.join(" ")).join("\n")}\n`, timeoutMs });
    const failures = new Map<number, string>();
    for (const [line, message] of batchFailures(output.stderr)) failures.set(line - 1, message);
    if (output.exitCode !== 0 && failures.size === 0) throw new CommandFailed(argv, output.exitCode, output.stderr);
    return { stdout: output.stdout, failures };
  };

  /** The main table's routes with metric 0 (the ones `route replace` without a metric replaces), by destination, from `ip -j route show`. */
  const tableOf = (json: string): Map<string, KernelRoute> => {
    const routes = new Map<string, KernelRoute>();
    for (const entry of JSON.parse(json || "[]") as Record<string, unknown>[]) {
      const dst = String(entry.dst ?? "");
      if (!Ipv4.safeParse(dst).success || Number(entry.metric ?? 0) !== 0) continue;
      const route = KernelRoute.safeParse(entry);
      if (route.success) routes.set(dst, route.data);
    }
    return routes;
  };

  const snapshot = async (netns: string | null): Promise<Map<string, KernelRoute>> => {
    const argv = ipArgv(netns, "-j", "route", "show", "table", "main");
    const output = await runCommand(argv, { timeoutMs });
    if (output.exitCode !== 0) throw new CommandFailed(argv, output.exitCode, output.stderr);
    return tableOf(output.stdout);
  };

  /** The routes each namespace's last check read, when, and the prefixes changed or restored here since. */
  const checked = new Map<string | null, { routes: Map<string, KernelRoute>; at: number; changed: Set<string> }>();
  /** The routes read by a recent check for `prefixes`, unless one of them was changed since; else undefined. */
  const checkedRoutes = (netns: string | null, prefixes: string[]): Map<string, KernelRoute> | undefined => {
    const read = checked.get(netns);
    if (!read || Date.now() - read.at > CHECKED_ROUTES_MS || prefixes.some((prefix) => read.changed.has(prefix))) return undefined;
    return read.routes;
  };
  const changed = (netns: string | null, prefixes: string[]) => {
    for (const prefix of prefixes) checked.get(netns)?.changed.add(prefix);
  };

  /**
   * `route get` of each address through one `ip -j -batch`: the kernel's route by address, and each failed line's error
   * (0-based); with `table`, the batch reads the main table first (its line always prints, `[]` when empty).
   */
  const routeGets = async (
    netns: string | null,
    addresses: string[],
    { table = false } = {},
  ): Promise<{ got: Map<string, Record<string, unknown>>; failures: Map<number, string>; routes?: Map<string, KernelRoute> }> => {
    const gets = addresses.map((address) => ["route", "get", address]);
    const { stdout, failures } = await batch(netns, table ? [["route", "show", "table", "main"], ...gets] : gets, true);
    const lines = stdout.split("\n").filter((line) => line.trim());
    // A table read that failed printed nothing: every line is a `route get` then.
    const routes = table && !failures.has(0) ? tableOf(lines.shift() ?? "[]") : undefined;
    const got = new Map<string, Record<string, unknown>>();
    for (const line of lines) for (const entry of JSON.parse(line) as Record<string, unknown>[]) got.set(String(entry.dst), entry);
    if (!table) return { got, failures };
    const getFailures = new Map([...failures].filter(([line]) => line > 0).map(([line, message]) => [line - 1, message]));
    return { got, failures: getFailures, ...(routes ? { routes } : {}) };
  };

  const byNetns = <T extends { step: Step<RouteParams> }>(items: readonly T[]): Map<string | null, T[]> => {
    const groups = new Map<string | null, T[]>();
    for (const item of items) {
      const netns = netnsOf(item.step.params.node);
      groups.set(netns, [...(groups.get(netns) ?? []), item]);
    }
    return groups;
  };

  const applyBatch = async (steps: readonly Step<RouteParams>[], ctx: ActuatorContext): Promise<(Applied<RouteUndo> | Error)[]> => {
    const results = new Map<Step<RouteParams>, Applied<RouteUndo> | Error>();
    // Namespaces are independent kernels' tables: change them in parallel.
    await Promise.all(
      [...byNetns(steps.map((step) => ({ step })))].map(async ([netns, items]) => {
        const prefixes = items.map(({ step }) => step.params.prefix);
        try {
          const before = checkedRoutes(netns, prefixes) ?? (await snapshot(netns));
          const undos = items.map(({ step }) => ({ step, undo: { netns, previous: before.get(step.params.prefix) ?? null } satisfies RouteUndo }));
          await ctx.beforeChange(undos);
          const lines = items.map(({ step: { params: p } }) => [
            "route",
            "replace",
            `${p.prefix}/32`,
            "via",
            p.via,
            "dev",
            p.dev,
            ...(p.src ? ["src", p.src] : []),
          ]);
          changed(netns, prefixes);
          const { failures } = await batch(netns, lines);
          const at = Date.now();
          undos.forEach(({ step, undo }, i) => {
            const failure = failures.get(i);
            const where = netns === null ? "host" : `netns ${netns}`;
            results.set(
              step,
              failure
                ? new ActuatorError(`route ${step.params.prefix}/32 via ${step.params.via} dev ${step.params.dev} in ${where}: ${failure}`)
                : {
                    undo,
                    at,
                    detail: `${where}: ${step.params.prefix}/32 via ${step.params.via} dev ${step.params.dev} (was ${describe(undo.previous)})`,
                  },
            );
          });
        } catch (error) {
          for (const { step } of items) results.set(step, new ActuatorError(`cannot replace routes in ${netns ?? "host"}`, { cause: error }));
        }
      }),
    );
    return steps.map((step) => results.get(step) ?? new ActuatorError("not applied"));
  };

  const verifyBatch = async (items: readonly { step: Step<RouteParams>; applied: Applied<RouteUndo> }[]): Promise<Observation[]> => {
    const results = new Map<Step<RouteParams>, Observation>();
    await Promise.all(
      [...byNetns(items)].map(async ([netns, group]) => {
        try {
          const { got, failures } = await routeGets(
            netns,
            group.map(({ step }) => step.params.prefix),
          );
          group.forEach(({ step }, i) => {
            const p = step.params;
            const entry = got.get(p.prefix);
            if (!entry) {
              results.set(step, observed(false, `route get ${p.prefix}: ${failures.get(i) ?? "no route"}`));
              return;
            }
            const ok = entry.gateway === p.via && entry.dev === p.dev && (p.src === undefined || entry.prefsrc === p.src);
            results.set(
              step,
              observed(
                ok,
                `kernel routes ${p.prefix} via ${entry.gateway ?? "-"} dev ${entry.dev ?? "-"} src ${entry.prefsrc ?? "-"}${ok ? "" : ` (want via ${p.via} dev ${p.dev})`}`,
              ),
            );
          });
        } catch (error) {
          for (const { step } of group) results.set(step, observed(false, `cannot read routes of ${netns ?? "host"}: ${(error as Error).message}`));
        }
      }),
    );
    return items.map(({ step }) => results.get(step) ?? observed(false, "not verified"));
  };

  /**
   * Each step's next hop must be directly reachable on its device (a connected route, no gateway): read with `route get`,
   * in the batch that reads the main table too, kept for the undo data of the steps' change.
   */
  const checkBatch = async (steps: readonly Step<RouteParams>[]): Promise<(string | undefined)[]> => {
    const problems = new Map<Step<RouteParams>, string | undefined>();
    await Promise.all(
      [...byNetns(steps.map((step) => ({ step })))].map(async ([netns, group]) => {
        try {
          const at = Date.now();
          const { got, failures, routes } = await routeGets(
            netns,
            group.map(({ step }) => step.params.via),
            { table: true },
          );
          if (routes) checked.set(netns, { routes, at, changed: new Set() });
          group.forEach(({ step }, i) => {
            const { via, dev } = step.params;
            const entry = got.get(via);
            if (!entry) problems.set(step, `next hop ${via}: ${failures.get(i) ?? "no route"}`);
            else if (entry.gateway !== undefined || entry.dev !== dev)
              problems.set(
                step,
                `next hop ${via} is not directly reachable on ${dev}: the kernel routes it ${entry.gateway ? `via ${entry.gateway} ` : ""}dev ${entry.dev ?? "-"}`,
              );
          });
        } catch (error) {
          for (const { step } of group) problems.set(step, `cannot read routes of ${netns ?? "host"}: ${(error as Error).message}`);
        }
      }),
    );
    return steps.map((step) => problems.get(step));
  };

  const rollbackBatch = async (items: readonly { step: Step<RouteParams>; applied: Applied<RouteUndo> }[]): Promise<(Error | undefined)[]> => {
    const results = new Map<Step<RouteParams>, Error | undefined>();
    await Promise.all(
      [...byNetns(items)].map(async ([netns, group]) => {
        try {
          changed(
            netns,
            group.map(({ step }) => step.params.prefix),
          );
          const lines = group.map(({ step, applied }) => {
            const p = step.params;
            if (applied.undo.previous === null) return ["route", "del", `${p.prefix}/32`, "via", p.via, "dev", p.dev];
            // The undo data was journaled in x0_outcomes: validate it again before it reaches a command line.
            return restoreArgs(p.prefix, KernelRoute.parse(applied.undo.previous));
          });
          const { failures } = await batch(netns, lines);
          group.forEach(({ step, applied }, i) => {
            const failure = failures.get(i);
            // Deleting a route that is already gone (the change never landed, or was undone before) is the state wanted.
            const gone = applied.undo.previous === null && failure !== undefined && /No such process/i.test(failure);
            results.set(step, failure && !gone ? new ActuatorError(`rollback of ${step.params.prefix}/32 in ${netns ?? "host"}: ${failure}`) : undefined);
          });
        } catch (error) {
          for (const { step } of group) results.set(step, new ActuatorError(`cannot roll back routes in ${netns ?? "host"}`, { cause: error }));
        }
      }),
    );
    return items.map(({ step }) => results.get(step));
  };

  return {
    type: "route_replace",
    params: RouteParams,
    reversible: true,
    handles: (params, ctx) =>
      netnsTemplate === "" && params.node !== ctx.node
        ? { ok: false, reason: `route for node ${params.node}: without X0_EXECUTOR_NETNS this executor changes only its own host (${ctx.node})` }
        : netnsTemplate !== "" && !isPerNode(netnsTemplate) && params.node !== ctx.node
          ? { ok: false, reason: `route for node ${params.node}: X0_EXECUTOR_NETNS has no {node}, so it names ${ctx.node}'s namespace only` }
          : { ok: true },
    apply: async (step, ctx) => {
      const [result] = await applyBatch([step], ctx);
      if (result instanceof Error || result === undefined) throw result ?? new ActuatorError("not applied");
      return result;
    },
    applyBatch,
    checkBatch,
    verify: async (step, applied) => (await verifyBatch([{ step, applied }]))[0] ?? observed(false, "not verified"),
    verifyBatch,
    rollback: async (step, applied) => {
      const [error] = await rollbackBatch([{ step, applied }]);
      if (error) throw error;
    },
    rollbackBatch,
  };
}

function describe(route: KernelRoute | null): string {
  if (route === null) return "no route";
  return [route.type && route.type !== "unicast" ? route.type : "", route.gateway ? `via ${route.gateway}` : "", route.dev ? `dev ${route.dev}` : ""]
    .filter(Boolean)
    .join(" ");
}
