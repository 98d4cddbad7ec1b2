// What the eBPF data plane needs from the host, checked before anything is loaded so the monitor can say exactly what is missing.
import { accessSync, constants, readFileSync } from "node:fs";

/** Linux capability numbers (include/uapi/linux/capability.h). */
export const Cap = { NET_ADMIN: 12, SYS_ADMIN: 21, PERFMON: 38, BPF: 39 } as const;

/** The effective capability set of this process, from the CapEff line of /proc/self/status. */
export function parseCapEff(status: string): bigint {
  const match = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  return match?.[1] ? BigInt(`0x${match[1]}`) : 0n;
}

/** Whether capability `cap` is in the set `caps`. */
export function hasCap(caps: bigint, cap: number): boolean {
  return (caps & (1n << BigInt(cap))) !== 0n;
}

/** The outcome of the checks: empty `missing` lists mean the data plane can load. */
export interface Readiness {
  /** What XDP needs and lacks, e.g. "CAP_BPF (or CAP_SYS_ADMIN)". */
  missing: string[];
  /** What the tracepoints additionally need and lack. */
  tracepointsMissing: string[];
}

/** Checks capabilities and kernel BTF (both injectable for tests). */
export function checkReadiness({
  status = () => readFileSync("/proc/self/status", "utf8"),
  btfPath = "/sys/kernel/btf/vmlinux",
}: {
  status?: () => string;
  btfPath?: string;
} = {}): Readiness {
  const caps = parseCapEff(status());
  const sysAdmin = hasCap(caps, Cap.SYS_ADMIN);
  const missing: string[] = [];
  if (!hasCap(caps, Cap.BPF) && !sysAdmin) missing.push("CAP_BPF (or CAP_SYS_ADMIN)");
  if (!hasCap(caps, Cap.NET_ADMIN)) missing.push("CAP_NET_ADMIN");
  try {
    accessSync(btfPath, constants.R_OK);
  } catch {
    missing.push(`kernel BTF (${btfPath} is not readable: a kernel built with CONFIG_DEBUG_INFO_BTF=y)`);
  }
  const tracepointsMissing = hasCap(caps, Cap.PERFMON) || sysAdmin ? [] : ["CAP_PERFMON (or CAP_SYS_ADMIN)"];
  return { missing, tracepointsMissing };
}
