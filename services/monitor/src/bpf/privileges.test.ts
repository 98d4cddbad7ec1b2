import { describe, expect, test } from "bun:test";
import { checkReadiness, parseCapEff } from "./privileges.ts";

const status = (capEff: string) => () => `Name:\tbun\nCapInh:\t0000000000000000\nCapEff:\t${capEff}\nCapBnd:\t000001ffffffffff\n`;

describe("privileges", () => {
  test("privileges - parses the effective set from /proc/self/status", () => {
    expect(parseCapEff(status("000001ffffffffff")())).toBe(0x1ffffffffffn);
    expect(parseCapEff("no such line")).toBe(0n);
  });

  test("privileges - root with every capability and BTF lacks nothing", () => {
    expect(checkReadiness({ status: status("000001ffffffffff"), btfPath: import.meta.path })).toEqual({ missing: [], tracepointsMissing: [] });
  });

  test("privileges - names each missing capability and missing BTF", () => {
    const readiness = checkReadiness({ status: status("0000000000000000"), btfPath: "/nonexistent/vmlinux" });
    expect(readiness.missing[0]).toBe("CAP_BPF (or CAP_SYS_ADMIN)");
    expect(readiness.missing[1]).toBe("CAP_NET_ADMIN");
    expect(readiness.missing[2]).toContain("kernel BTF");
    expect(readiness.tracepointsMissing).toEqual(["CAP_PERFMON (or CAP_SYS_ADMIN)"]);
  });

  test("privileges - CAP_BPF with CAP_NET_ADMIN is enough for XDP, CAP_PERFMON for tracepoints", () => {
    const caps = (1n << 39n) | (1n << 12n) | (1n << 38n);
    expect(checkReadiness({ status: status(caps.toString(16).padStart(16, "0")), btfPath: import.meta.path })).toEqual({ missing: [], tracepointsMissing: [] });
  });
});
