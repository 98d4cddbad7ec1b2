// bun:ffi bindings to libbpf.so.1 (the libbpf 1.1 API) and the few libc calls the loader needs.

import { dlopen, FFIType, type Pointer, read } from "bun:ffi";
import { existsSync } from "node:fs";
import { X0Error } from "@x0/shared";

/** libbpf, libc or the shim could not be loaded. */
export class LibbpfUnavailable extends X0Error {}

/** A libbpf or bpf(2) call failed; `errno` is the positive error number and `log` libbpf's own explanation. */
export class BpfError extends X0Error {
  constructor(
    readonly op: string,
    readonly errno: number,
    readonly log = "",
    options?: ErrorOptions,
  ) {
    super(`${op} failed: ${errnoName(errno)}${log ? ` (libbpf: ${log.trim().split("\n").slice(-3).join(" | ")})` : ""}`, options);
  }
}

const ERRNO: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  7: "E2BIG",
  9: "EBADF",
  12: "ENOMEM",
  13: "EACCES",
  16: "EBUSY",
  17: "EEXIST",
  19: "ENODEV",
  22: "EINVAL",
  28: "ENOSPC",
  95: "EOPNOTSUPP",
  524: "ENOTSUPP",
};

/** The symbolic name of an errno value, e.g. 1 → "EPERM (1)". */
export function errnoName(errno: number): string {
  return `${ERRNO[errno] ?? "errno"} (${errno})`;
}

const { ptr: P, i32, u32, u64, cstring, void: V } = FFIType;

const LIBBPF_SYMBOLS = {
  bpf_object__open_file: { args: [P, P], returns: P },
  bpf_object__load: { args: [P], returns: i32 },
  bpf_object__close: { args: [P], returns: V },
  bpf_object__next_map: { args: [P, P], returns: P },
  bpf_object__find_program_by_name: { args: [P, P], returns: P },
  bpf_map__name: { args: [P], returns: cstring },
  bpf_map__fd: { args: [P], returns: i32 },
  bpf_map__set_pin_path: { args: [P, P], returns: i32 },
  bpf_map__initial_value: { args: [P, P], returns: P },
  bpf_program__fd: { args: [P], returns: i32 },
  bpf_program__attach_tracepoint: { args: [P, P, P], returns: P },
  bpf_link__destroy: { args: [P], returns: i32 },
  bpf_xdp_attach: { args: [i32, i32, u32, P], returns: i32 },
  bpf_xdp_detach: { args: [i32, u32, P], returns: i32 },
  bpf_xdp_query_id: { args: [i32, i32, P], returns: i32 },
  bpf_prog_get_fd_by_id: { args: [u32], returns: i32 },
  bpf_obj_get: { args: [P], returns: i32 },
  bpf_obj_get_info_by_fd: { args: [i32, P, P], returns: i32 },
  bpf_map_lookup_elem: { args: [i32, P, P], returns: i32 },
  bpf_map_update_elem: { args: [i32, P, P, u64], returns: i32 },
  bpf_map_delete_elem: { args: [i32, P], returns: i32 },
  bpf_map_get_next_key: { args: [i32, P, P], returns: i32 },
  bpf_map_lookup_batch: { args: [i32, P, P, P, P, P, P], returns: i32 },
  ring_buffer__new: { args: [i32, P, P, P], returns: P },
  ring_buffer__poll: { args: [P, i32], returns: i32 },
  ring_buffer__consume: { args: [P], returns: i32 },
  ring_buffer__free: { args: [P], returns: V },
  libbpf_num_possible_cpus: { args: [], returns: i32 },
} as const;

const LIBC_SYMBOLS = {
  __errno_location: { args: [], returns: P },
  close: { args: [i32], returns: i32 },
  if_nametoindex: { args: [P], returns: u32 },
  clock_gettime: { args: [i32, P], returns: i32 },
} as const;

const SHIM_SYMBOLS = {
  x0_libbpf_capture: { args: [], returns: V },
  x0_libbpf_take_log: { args: [P, u64], returns: u64 },
} as const;

type LibbpfSymbols = ReturnType<typeof dlopen<typeof LIBBPF_SYMBOLS>>["symbols"];
type LibcSymbols = ReturnType<typeof dlopen<typeof LIBC_SYMBOLS>>["symbols"];

/** The loaded libraries, with helpers to turn libbpf's return conventions into exceptions. */
export interface Libbpf {
  readonly bpf: LibbpfSymbols;
  readonly libc: LibcSymbols;
  /** Number of possible CPUs: per-CPU map values hold one slot per possible CPU. */
  readonly possibleCpus: number;
  /** libbpf's warnings since the last call, cleared. */
  takeLog(): string;
  /** Throws a {@link BpfError} when `ret` (a libbpf int return, -errno on failure) is negative; returns it otherwise. */
  check(op: string, ret: number): number;
  /** Throws a {@link BpfError} with the current errno when `pointer` is null. */
  checkPtr(op: string, pointer: Pointer | bigint | null): Pointer;
  /** The current errno (for calls that return -1 or NULL). */
  errno(): number;
  /** The kernel's CLOCK_MONOTONIC in nanoseconds, the clock of bpf_ktime_get_ns. */
  monotonicNs(): bigint;
}

let cached: Libbpf | undefined;

/** A NUL-terminated copy of `text` for passing to C. */
export function cstr(text: string): Buffer {
  return Buffer.from(`${text}\0`, "utf8");
}

/** Opens libbpf.so.1, libc and the shim (built by `make bpf`) once per process. */
export function loadLibbpf(shimPath: string): Libbpf {
  if (cached) return cached;
  if (!existsSync(shimPath)) throw new LibbpfUnavailable(`libbpf shim ${shimPath} is missing (run make bpf)`);
  let bpf: LibbpfSymbols;
  let libc: LibcSymbols;
  let shim: ReturnType<typeof dlopen<typeof SHIM_SYMBOLS>>["symbols"];
  try {
    bpf = dlopen("libbpf.so.1", LIBBPF_SYMBOLS).symbols;
    libc = dlopen("libc.so.6", LIBC_SYMBOLS).symbols;
    shim = dlopen(shimPath, SHIM_SYMBOLS).symbols;
  } catch (error) {
    throw new LibbpfUnavailable("cannot load libbpf.so.1 (install libbpf1 / libbpf-dev)", { cause: error });
  }
  shim.x0_libbpf_capture();
  const logBuffer = Buffer.alloc(16384);
  const timespec = new BigInt64Array(2);
  const takeLog = () => {
    const length = Number(shim.x0_libbpf_take_log(logBuffer, logBuffer.length));
    return logBuffer.subarray(0, length).toString("utf8");
  };
  const errno = () => read.i32(libc.__errno_location() as Pointer, 0);
  const possibleCpus = bpf.libbpf_num_possible_cpus();
  if (possibleCpus <= 0) throw new LibbpfUnavailable(`libbpf_num_possible_cpus failed: ${possibleCpus}`);
  cached = {
    bpf,
    libc,
    possibleCpus,
    takeLog,
    errno,
    check: (op, ret) => {
      if (ret < 0) throw new BpfError(op, -ret, takeLog());
      return ret;
    },
    checkPtr: (op, pointer) => {
      const p = asPointer(pointer);
      if (p === null) throw new BpfError(op, errno() || 22, takeLog());
      return p;
    },
    monotonicNs: () => {
      // CLOCK_MONOTONIC = 1
      libc.clock_gettime(1, timespec);
      return (timespec[0] as bigint) * 1_000_000_000n + (timespec[1] as bigint);
    },
  };
  return cached;
}

/** A pointer returned through bun:ffi, or null for NULL. */
export function asPointer(pointer: Pointer | bigint | null): Pointer | null {
  if (pointer === null || pointer === 0 || pointer === 0n) return null;
  return (typeof pointer === "bigint" ? Number(pointer) : pointer) as Pointer;
}
