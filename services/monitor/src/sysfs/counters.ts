import { closeSync, fstatSync, openSync, readdirSync, readSync } from "node:fs";
import { type CounterName, type InterfaceSample, OperState, X0Error } from "@x0/shared";

/** The counters read from `<if>/statistics/`. */
export const COUNTER_NAMES: readonly CounterName[] = ["rx_bytes", "tx_bytes", "rx_packets", "tx_packets", "rx_errors", "tx_errors", "rx_dropped", "tx_dropped"];

const OPER_STATES: ReadonlySet<string> = new Set(OperState.options);

/** /sys/class/net could not be read. */
export class SysfsError extends X0Error {}

/** Which interfaces to sample: the names listed, or all but loopback when none are. */
export function selectInterfaces(available: string[], wanted: string[]): string[] {
  if (wanted.length > 0) return available.filter((name) => wanted.includes(name));
  return available.filter((name) => name !== "lo");
}

/** Open files of one interface: operstate then each counter. */
interface Opened {
  fds: number[];
}

const FILES = ["operstate", ...COUNTER_NAMES.map((counter) => `statistics/${counter}`)];

/**
 * Reads operstate and counters of the selected interfaces under `root` (normally /sys/class/net), keeping the files open
 * between reads: sysfs regenerates an attribute on every read at offset 0, so one pread per file replaces
 * open/read/close, the bulk of a sample's system calls. Close it with {@link close}.
 */
export class InterfaceReader {
  private readonly opened = new Map<string, Opened>();
  private readonly scratch = Buffer.alloc(64);

  constructor(
    private readonly root: string,
    private readonly wanted: string[] = [],
  ) {}

  /** One sample of every selected interface; an interface that vanished is absent. */
  read(): InterfaceSample[] {
    // A named list needs no directory listing: an absent name fails to open below and is skipped.
    const names = this.wanted.length > 0 ? [...new Set(this.wanted)].sort() : selectInterfaces(this.list(), this.wanted);
    const samples: InterfaceSample[] = [];
    for (const name of names) {
      const sample = this.readOne(name);
      if (sample) samples.push(sample);
    }
    for (const name of this.opened.keys()) if (!names.includes(name)) this.forget(name);
    if (samples.length === 0 && this.wanted.length > 0) this.list(); // names a missing root
    return samples;
  }

  /** Closes every open file. */
  close(): void {
    for (const name of [...this.opened.keys()]) this.forget(name);
  }

  private list(): string[] {
    try {
      return readdirSync(this.root).sort();
    } catch (error) {
      throw new SysfsError(`cannot list interfaces in ${this.root}`, { cause: error });
    }
  }

  private readOne(name: string, retry = true): InterfaceSample | undefined {
    let opened = this.opened.get(name);
    // A deleted file stays readable through an open fd: an unlinked one (a re-created folder) is re-opened.
    if (opened && fstatSync(opened.fds[0] as number).nlink === 0) {
      this.forget(name);
      opened = undefined;
    }
    const fresh = opened === undefined;
    try {
      opened ??= this.open(name);
      const state = this.text(opened.fds[0] as number);
      const operstate = OPER_STATES.has(state) ? (state as InterfaceSample["operstate"]) : "unknown";
      const counters = {} as Record<CounterName, number>;
      let valid = true;
      for (const [i, counter] of COUNTER_NAMES.entries()) {
        const value = Number(this.text(opened.fds[i + 1] as number));
        if (!Number.isSafeInteger(value) || value < 0) valid = false;
        counters[counter] = value;
      }
      return valid ? { name, operstate, counters } : undefined;
    } catch (error) {
      this.forget(name);
      const code = (error as NodeJS.ErrnoException).code;
      // A removed device's attributes fail with ENODEV; one re-created under the same name is opened afresh.
      if (code === "ENODEV" && !fresh && retry) return this.readOne(name, false);
      // An interface can vanish between listing and reading; it is simply absent from this sample.
      if (code === "ENOENT" || code === "ENODEV") return undefined;
      throw new SysfsError(`cannot read interface ${name} in ${this.root}`, { cause: error });
    }
  }

  private open(name: string): Opened {
    const fds: number[] = [];
    try {
      for (const file of FILES) fds.push(openSync(`${this.root}/${name}/${file}`, "r"));
    } catch (error) {
      for (const fd of fds) closeSync(fd);
      throw error;
    }
    const opened = { fds };
    this.opened.set(name, opened);
    return opened;
  }

  private text(fd: number): string {
    const n = readSync(fd, this.scratch, 0, this.scratch.length, 0);
    return this.scratch.toString("latin1", 0, n).trim();
  }

  private forget(name: string): void {
    const opened = this.opened.get(name);
    if (!opened) return;
    this.opened.delete(name);
    for (const fd of opened.fds) closeSync(fd);
  }
}

/** Reads operstate and counters of the selected interfaces under `root` once (files closed afterwards). */
export function readInterfaces(root: string, wanted: string[] = []): InterfaceSample[] {
  const reader = new InterfaceReader(root, wanted);
  try {
    return reader.read();
  } finally {
    reader.close();
  }
}
