// Public surface of @x0/monitor for other packages: control of a node's XDP data plane through its pins (the executor's
// quarantine, the lab's fault injection), and the hello wire format (the lab's probe). The monitor process is src/main.ts.
import { join } from "node:path";
import { type Libbpf, loadLibbpf } from "./bpf/libbpf.ts";
import { BPF_FILES, DEFAULT_BPF_DIR } from "./sample/ebpf.ts";
import { DEFAULT_PIN_ROOT, PinnedPolicy } from "./xdp/pins.ts";

export { BpfError, LibbpfUnavailable } from "./bpf/libbpf.ts";
export { decodeHello, encodeHello, HELLO_BYTES, type Hello, HelloType } from "./probes/hello.ts";
export { probeOnce } from "./probes/probe-once.ts";
export { DEFAULT_BPF_DIR } from "./sample/ebpf.ts";
export type { NeighbourKey } from "./xdp/layout.ts";
export { DEFAULT_PIN_ROOT } from "./xdp/pins.ts";

/** Deny and fault maps of one interface: what {@link openDataplaneControl} returns. */
export type DataplaneControl = Pick<PinnedPolicy, "deny" | "allow" | "setFault" | "denied" | "faults" | "active" | "close">;

let sharedLib: Libbpf | undefined;

/** Opens the pinned deny/fault maps of `iface` (under `<pinRoot>/<iface>/`); throws BpfError ENOENT when the monitor never attached there. */
export function openDataplaneControl({
  iface,
  pinRoot = DEFAULT_PIN_ROOT,
  bpfDir = DEFAULT_BPF_DIR,
}: {
  iface: string;
  pinRoot?: string;
  bpfDir?: string;
}): DataplaneControl {
  // One libbpf binding per process: dlopen is cheap but not free, and callers open many interfaces.
  sharedLib ??= loadLibbpf(join(bpfDir, BPF_FILES.shim));
  return PinnedPolicy.open(sharedLib, iface, pinRoot);
}
