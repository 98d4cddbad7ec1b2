// The named identities a stack's NATS admits besides the console (observers, voters), and its servers' configurations
// written again and reloaded when `x0 certs issue` or `x0 certs revoke` changes them: no restart of the stack.
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadPermissionMatrix, type NatsConfigOptions, renderNatsConfig } from "@x0/shared";
import { z } from "zod";
import { StackFileError } from "../errors.ts";

const Name = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);
/** `<pki>/named.json`: the observers and voters issued for this stack. */
export const NamedIdentities = z.object({ observers: z.array(Name).default([]), voters: z.array(Name).default([]) });
/** Named identities. */
export type NamedIdentities = z.infer<typeof NamedIdentities>;

/** `<pki>/nats-render.json`: what each server's configuration was rendered from, but the named identities. */
const RenderPlan = z.array(z.object({ configFile: z.string(), options: z.record(z.string(), z.unknown()) }));
type RenderPlan = z.infer<typeof RenderPlan>;

const namedFile = (pki: string) => join(pki, "named.json");
const planFile = (pki: string) => join(pki, "nats-render.json");

/** The named identities of the stack whose PKI is `pki` (none when the file is absent). */
export function readNamed(pki: string): NamedIdentities {
  if (!existsSync(namedFile(pki))) return { observers: [], voters: [] };
  try {
    return NamedIdentities.parse(JSON.parse(readFileSync(namedFile(pki), "utf8")));
  } catch (error) {
    throw new StackFileError(`cannot read ${namedFile(pki)}`, { cause: error });
  }
}

/** Whether `pki` belongs to a stack `up` prepared (it can be re-rendered). */
export function isStackPki(pki: string): boolean {
  return existsSync(planFile(pki));
}

/** Records what the servers' configurations are rendered from, and renders them with the named identities. */
export function writeStackNatsConfigs(
  pki: string,
  servers: { configFile: string; options: Omit<NatsConfigOptions, "observers" | "voters"> }[],
  consoleObserver: string,
): void {
  writeFileSync(planFile(pki), `${JSON.stringify(servers, null, 2)}\n`);
  renderStackNats(pki, consoleObserver);
}

/** Renders every server's configuration again with the named identities (the console observer always among them). */
export function renderStackNats(pki: string, consoleObserver: string): string[] {
  const plan: RenderPlan = RenderPlan.parse(JSON.parse(readFileSync(planFile(pki), "utf8")));
  const named = readNamed(pki);
  const matrix = loadPermissionMatrix();
  for (const server of plan) {
    const options = server.options as unknown as NatsConfigOptions;
    writeFileSync(server.configFile, renderNatsConfig(matrix, { ...options, observers: [consoleObserver, ...named.observers], voters: named.voters }));
  }
  return plan.map((server) => server.configFile);
}

/** Adds or removes one named identity; true when the list changed. */
export function changeNamed(pki: string, kind: "observers" | "voters", name: string, add: boolean): boolean {
  const named = readNamed(pki);
  const has = named[kind].includes(name);
  if (has === add) return false;
  named[kind] = add ? [...named[kind], name].sort() : named[kind].filter((entry) => entry !== name);
  writeFileSync(namedFile(pki), `${JSON.stringify(named, null, 2)}\n`);
  return true;
}

/**
 * Asks every running nats-server started with one of `configFiles` to reload it (SIGHUP, as `nats-server --signal
 * reload` does); the number reloaded.
 */
export function reloadNatsServers(configFiles: readonly string[]): number {
  let reloaded = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
    } catch {
      continue; // gone meanwhile
    }
    if (!argv[0]?.endsWith("nats-server")) continue;
    const index = argv.findIndex((arg) => arg === "-c" || arg === "--config");
    if (index < 0 || !configFiles.includes(argv[index + 1] ?? "")) continue;
    process.kill(Number(entry), "SIGHUP");
    reloaded += 1;
  }
  return reloaded;
}
