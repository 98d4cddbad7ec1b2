import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { KNOWN_SERVICE_OFFSETS } from "./ports.ts";

/** Names of the folders under `servicesDir` that hold `src/main.ts`, in MAPE-K order, then by name. */
export function discoverServices(servicesDir: string): string[] {
  const names = readdirSync(servicesDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(servicesDir, entry.name, "src", "main.ts")))
    .map((entry) => entry.name);
  return orderServices(names);
}

/** Orders service names: the known loop services first (monitor, analyzer, planner, executor), then the rest by name. */
export function orderServices(names: readonly string[]): string[] {
  const rank = (name: string) => KNOWN_SERVICE_OFFSETS[name] ?? Number.POSITIVE_INFINITY;
  return [...names].sort((left, right) => rank(left) - rank(right) || (left < right ? -1 : left > right ? 1 : 0));
}
