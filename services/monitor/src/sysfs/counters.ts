// Interface state and counters from /sys/class/net, read through file descriptors kept open between samples.
import { dlopen, FFIType, type Pointer, ptr, read } from "bun:ffi";
import { closeSync, fstatSync, openSync, readdirSync, readSync, statfsSync } from "node:fs";
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

/** statfs f_type of sysfs. */
const SYSFS_MAGIC = 0x62656572;
const ENOENT = 2;
const ENODEV = 19;
const ERRNO_OF_CODE: Record<string, number> = { ENOENT, ENODEV };

/** A failed read of an open attribute, with the errno. */
class ReadFailed extends X0Error {
  constructor(
    readonly errno: number,
    options?: ErrorOptions,
  ) {
    super(`read failed: errno ${errno}`, options);
  }
}

/** Reads up to `buffer.length` bytes at offset 0 of `fd`; returns how many, or throws {@link ReadFailed}. */
type Pread = (fd: number, buffer: Buffer) => number;

/**
 * pread(2) called directly through bun:ffi, into a buffer whose address is taken once: a third of what node:fs readSync
 * costs per call (argument checks, an error object per failure), and a sample makes nine per interface. readSync when libc
 * cannot be opened (not glibc).
 */
function loadPread(): Pread {
  try {
    const { symbols } = dlopen("libc.so.6", {
      pread: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i64], returns: FFIType.i64_fast },
      __errno_location: { args: [], returns: FFIType.ptr },
    });
    const addresses = new WeakMap<Buffer, Pointer>();
    return (fd, buffer) => {
      let address = addresses.get(buffer);
      if (address === undefined) {
        address = ptr(buffer);
        addresses.set(buffer, address);
      }
      const n = Number(symbols.pread(fd, address, buffer.length, 0));
      if (n < 0) throw new ReadFailed(read.i32(symbols.__errno_location() as Pointer, 0));
      return n;
    };
  } catch {
    // No glibc: node:fs does the same read, only slower.
    return (fd, buffer) => {
      try {
        return readSync(fd, buffer, 0, buffer.length, 0);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        throw new ReadFailed(ERRNO_OF_CODE[code ?? ""] ?? 5, { cause: error });
      }
    };
  }
}

let sharedPread: Pread | undefined;

/** A cumulative counter as sysfs prints it (decimal digits, then a newline); NaN for anything else. No string is made. */
export function parseCounter(buffer: Buffer, length: number): number {
  let value = 0;
  let digits = 0;
  let end = length;
  while (end > 0 && (buffer[end - 1] === 0x0a || buffer[end - 1] === 0x20)) end--;
  for (let i = 0; i < end; i++) {
    const c = (buffer[i] as number) - 0x30;
    if (c < 0 || c > 9) return Number.NaN;
    value = value * 10 + c;
    digits++;
  }
  return digits > 0 ? value : Number.NaN;
}

/**
 * Reads operstate and counters of the selected interfaces under `root` (normally /sys/class/net), keeping the files open
 * between reads: sysfs regenerates an attribute on every read at offset 0, so one pread per file replaces
 * open/read/close, the bulk of a sample's system calls. Close it with {@link close}.
 */
export class InterfaceReader {
  private readonly opened = new Map<string, Opened>();
  private readonly scratch = Buffer.alloc(64);
  private readonly pread: Pread;
  /**
   * Whether a removed interface's open files keep reading. Real sysfs fails them with ENODEV; a plain folder (a fake sysfs
   * in tests) does not, so there every read first checks that the file is still linked (one fstat per interface).
   */
  private readonly checkLinks: boolean;
  /** The interface list when `wanted` names them (sorted, without repeats), made once. */
  private readonly named: string[];

  constructor(
    private readonly root: string,
    private readonly wanted: string[] = [],
  ) {
    sharedPread ??= loadPread();
    this.pread = sharedPread;
    this.named = [...new Set(wanted)].sort();
    let sysfs = false;
    try {
      sysfs = statfsSync(root).type === SYSFS_MAGIC;
    } catch {
      // A missing root is reported by read(), which names it.
    }
    this.checkLinks = !sysfs;
  }

  /** One sample of every selected interface; an interface that vanished is absent. */
  read(): InterfaceSample[] {
    // A named list needs no directory listing: an absent name fails to open below and is skipped.
    const names = this.wanted.length > 0 ? this.named : selectInterfaces(this.list(), this.wanted);
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
    if (opened && this.checkLinks && fstatSync(opened.fds[0] as number).nlink === 0) {
      this.forget(name);
      opened = undefined;
    }
    const fresh = opened === undefined;
    try {
      opened ??= this.open(name);
      const { fds } = opened;
      const state = this.scratch.toString("latin1", 0, this.pread(fds[0] as number, this.scratch)).trim();
      const operstate = OPER_STATES.has(state) ? (state as InterfaceSample["operstate"]) : "unknown";
      const counters = {} as Record<CounterName, number>;
      let valid = true;
      for (let i = 0; i < COUNTER_NAMES.length; i++) {
        const value = parseCounter(this.scratch, this.pread(fds[i + 1] as number, this.scratch));
        if (!Number.isSafeInteger(value)) valid = false;
        counters[COUNTER_NAMES[i] as CounterName] = value;
      }
      return valid ? { name, operstate, counters } : undefined;
    } catch (error) {
      this.forget(name);
      // Reads fail with an errno (ReadFailed), opens with node:fs' code.
      const errno = error instanceof ReadFailed ? error.errno : ERRNO_OF_CODE[(error as NodeJS.ErrnoException).code ?? ""];
      // A removed device's attributes fail with ENODEV; one re-created under the same name is opened afresh.
      if (errno === ENODEV && !fresh && retry) return this.readOne(name, false);
      // An interface can vanish between listing and reading; it is simply absent from this sample.
      if (errno === ENOENT || errno === ENODEV) return undefined;
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
