// Brings up the eBPF data plane, or explains why not: the monitor never fails to start because of eBPF.
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { EbpfState, Logger } from "@x0/shared";
import { type Libbpf, loadLibbpf } from "../bpf/libbpf.ts";
import { ensureMounted } from "../bpf/mounts.ts";
import { checkReadiness } from "../bpf/privileges.ts";
import type { MonitorMetrics } from "../metrics.ts";
import { NetTrace } from "../trace/tracepoints.ts";
import type { XdpModePreference } from "../xdp/attach.ts";
import { Dataplane } from "../xdp/dataplane.ts";

/** The folder `make bpf` builds into. */
export const DEFAULT_BPF_DIR = join(import.meta.dir, "..", "..", "..", "..", "bpf", "build");

/** Object files `make bpf` builds. */
export const BPF_FILES = { xdp: "xdp_mesh.bpf.o", trace: "net_trace.bpf.o", shim: "libx0shim.so" } as const;

/** Settings of {@link startEbpf}. */
export interface EbpfSettings {
  enabled: boolean;
  bpfDir: string;
  pinRoot: string;
  mode: XdpModePreference;
  intervalMs: number;
  /** Attach the node-wide tracepoint programs (off in labs, where every namespace shares one kernel's tracepoints). */
  tracepoints?: boolean;
  logger: Logger;
  metrics: MonitorMetrics;
  /** Injectable readiness check (tests). */
  readiness?: typeof checkReadiness;
}

/** The running data plane (absent parts are undefined) and its state for telemetry. */
export interface Ebpf {
  lib?: Libbpf;
  dataplane?: Dataplane;
  trace?: NetTrace;
  state(): EbpfState;
  close(): void;
}

/** Node-wide pins (tracepoint maps) live here; ':' cannot occur in an interface name, so this never clashes with one. */
export const NODE_PIN_DIR = ":node";

/** Checks privileges and BTF, mounts bpffs/tracefs, loads libbpf and attaches the tracepoints; XDP attaches per interface later. */
export function startEbpf({ enabled, bpfDir, pinRoot, mode, intervalMs, tracepoints = true, logger, metrics, readiness = checkReadiness }: EbpfSettings): Ebpf {
  const off = (missing: string[], error?: string): Ebpf => {
    logger.warn("eBPF data plane off: falling back to /sys/class/net counters", { missing, error });
    const state: EbpfState = { available: false, missing, tracepoints: false, ...(error ? { error } : {}) };
    return { state: () => state, close: () => {} };
  };
  if (!enabled) return off(["disabled by X0_MONITOR_EBPF=off"]);
  const { missing, tracepointsMissing } = readiness();
  const files = Object.values(BPF_FILES).map((file) => join(bpfDir, file));
  const absent = files.filter((file) => !existsSync(file));
  if (absent.length > 0) missing.push(`BPF objects ${absent.join(", ")} (run make bpf)`);
  if (missing.length > 0) return off(missing);

  let lib: Libbpf;
  try {
    ensureMounted("/sys/fs/bpf", "bpf");
    lib = loadLibbpf(join(bpfDir, BPF_FILES.shim));
  } catch (error) {
    return off([], (error as Error).message);
  }
  const onMapError = (op: string) => metrics.mapErrors.inc({ op });
  const dataplane = new Dataplane(lib, {
    objectPath: join(bpfDir, BPF_FILES.xdp),
    pinRoot,
    mode,
    denyEventIntervalNs: BigInt(intervalMs) * 1_000_000n,
    retryMs: 5000,
    onMapError,
    onAttach: (iface, { mode: attached, error, cleanedStale }) => {
      if (error) logger.warn("XDP not attached: this interface falls back to sysfs counters", { interface: iface, error: error.message });
      else logger.info("XDP attached", { interface: iface, mode: attached, cleaned_stale: cleanedStale });
    },
  });

  let trace: NetTrace | undefined;
  let traceError = !tracepoints
    ? "disabled by X0_MONITOR_TRACEPOINTS=off"
    : tracepointsMissing.length > 0
      ? `missing ${tracepointsMissing.join(", ")}`
      : undefined;
  if (!traceError) {
    try {
      ensureMounted("/sys/kernel/tracing", "tracefs");
      trace = NetTrace.attach(lib, { objectPath: join(bpfDir, BPF_FILES.trace), pinDir: join(pinRoot, NODE_PIN_DIR), onMapError });
    } catch (error) {
      traceError = (error as Error).message;
    }
  }
  if (traceError) logger.warn("tracepoints not attached", { error: traceError });
  return {
    lib,
    dataplane,
    trace,
    state: () => ({
      available: true,
      missing: tracepointsMissing,
      tracepoints: trace !== undefined,
      ...(traceError ? { error: `tracepoints: ${traceError}` } : {}),
    }),
    close: () => {
      trace?.close();
      dataplane.close();
    },
  };
}
