import { PortAssignmentError } from "../errors.ts";

/** The HTTP port of the first service (monitor) unless `X0_HTTP_PORT_BASE` says otherwise. */
export const DEFAULT_HTTP_PORT_BASE = 9101;

/** Offsets from the base port of the services whose ports are fixed: monitor 9101 … executor 9104 by default. */
export const KNOWN_SERVICE_OFFSETS: Readonly<Record<string, number>> = { monitor: 0, analyzer: 1, planner: 2, executor: 3 };

/** The highest TCP port. */
const MAX_PORT = 65535;

/**
 * Assigns HTTP ports: known services get base + their offset; the others, in the given order,
 * the next port above the known ones that no service holds and `isFree` accepts.
 */
export function assignPorts(names: readonly string[], base = DEFAULT_HTTP_PORT_BASE, isFree: (port: number) => boolean = () => true): Map<string, number> {
  const ports = new Map<string, number>();
  const knownOffsets = Object.values(KNOWN_SERVICE_OFFSETS);
  const taken = new Set(knownOffsets.map((offset) => base + offset));
  for (const name of names) {
    const offset = KNOWN_SERVICE_OFFSETS[name];
    if (offset === undefined) continue;
    const port = base + offset;
    if (port > MAX_PORT) throw new PortAssignmentError(`port ${port} for ${name} is above ${MAX_PORT}; lower X0_HTTP_PORT_BASE`);
    ports.set(name, port);
  }
  let next = base + Math.max(...knownOffsets) + 1;
  for (const name of names) {
    if (ports.has(name)) continue;
    while (next <= MAX_PORT && (taken.has(next) || !isFree(next))) next += 1;
    if (next > MAX_PORT) throw new PortAssignmentError(`no free port left above ${base} for ${name}; lower X0_HTTP_PORT_BASE`);
    ports.set(name, next);
    taken.add(next);
    next += 1;
  }
  return ports;
}

/** Whether a TCP port on 127.0.0.1 can be listened on right now. */
export function isPortFree(port: number): boolean {
  try {
    const listener = Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } });
    listener.stop(true);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") return false;
    throw error;
  }
}
