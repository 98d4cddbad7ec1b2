import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type CounterName, type InterfaceSample, OperState, X0Error } from "@x0/shared";

/** The counters read from `<if>/statistics/`. */
export const COUNTER_NAMES: readonly CounterName[] = ["rx_bytes", "tx_bytes", "rx_packets", "tx_packets", "rx_errors", "tx_errors", "rx_dropped", "tx_dropped"];

/** /sys/class/net could not be read. */
export class SysfsError extends X0Error {}

/** Which interfaces to sample: the names listed, or all but loopback when none are. */
export function selectInterfaces(available: string[], wanted: string[]): string[] {
  if (wanted.length > 0) return available.filter((name) => wanted.includes(name));
  return available.filter((name) => name !== "lo");
}

/** Reads operstate and counters of the selected interfaces under `root` (normally /sys/class/net). */
export function readInterfaces(root: string, wanted: string[] = []): InterfaceSample[] {
  let available: string[];
  try {
    available = readdirSync(root).sort();
  } catch (error) {
    throw new SysfsError(`cannot list interfaces in ${root}`, { cause: error });
  }
  const samples: InterfaceSample[] = [];
  for (const name of selectInterfaces(available, wanted)) {
    // An interface can vanish between listing and reading; it is simply absent from this sample.
    try {
      const operstate = OperState.catch("unknown").parse(readFileSync(join(root, name, "operstate"), "utf8").trim());
      const counters = Object.fromEntries(
        COUNTER_NAMES.map((counter) => [counter, Number(readFileSync(join(root, name, "statistics", counter), "utf8").trim())]),
      ) as Record<CounterName, number>;
      if (Object.values(counters).some((value) => !Number.isSafeInteger(value) || value < 0)) continue;
      samples.push({ name, operstate, counters });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw new SysfsError(`cannot read interface ${name} in ${root}`, { cause: error });
    }
  }
  return samples;
}
