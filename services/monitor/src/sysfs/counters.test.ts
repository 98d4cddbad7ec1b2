import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { COUNTER_NAMES, InterfaceReader, parseCounter, readInterfaces, SysfsError, selectInterfaces } from "./counters.ts";

function fakeSysfs(interfaces: Record<string, { operstate: string; base: number }>): string {
  const root = mkdtempSync(join(tmpdir(), "x0-sysfs-"));
  for (const [name, { operstate, base }] of Object.entries(interfaces)) {
    mkdirSync(join(root, name, "statistics"), { recursive: true });
    writeFileSync(join(root, name, "operstate"), `${operstate}\n`);
    for (const [i, counter] of COUNTER_NAMES.entries()) writeFileSync(join(root, name, "statistics", counter), `${base + i}\n`);
  }
  return root;
}

function fakeSysfsInto(root: string, name: string, base: number): void {
  mkdirSync(join(root, name, "statistics"), { recursive: true });
  writeFileSync(join(root, name, "operstate"), "up\n");
  for (const [i, counter] of COUNTER_NAMES.entries()) writeFileSync(join(root, name, "statistics", counter), `${base + i}\n`);
}

describe("sysfs counters", () => {
  test("sysfs counters - reads operstate and every counter, skipping lo by default", () => {
    const root = fakeSysfs({ lo: { operstate: "unknown", base: 0 }, eth0: { operstate: "up", base: 100 }, wlan0: { operstate: "down", base: 7 } });
    const samples = readInterfaces(root);
    expect(samples.map((s) => s.name)).toEqual(["eth0", "wlan0"]);
    expect(samples[0]).toEqual({
      name: "eth0",
      operstate: "up",
      counters: { rx_bytes: 100, tx_bytes: 101, rx_packets: 102, tx_packets: 103, rx_errors: 104, tx_errors: 105, rx_dropped: 106, tx_dropped: 107 },
    });
    expect(samples[1]?.operstate).toBe("down");
  });

  test("sysfs counters - a named list selects exactly those interfaces", () => {
    expect(selectInterfaces(["eth0", "lo", "wlan0"], ["lo", "wlan0", "missing"])).toEqual(["lo", "wlan0"]);
  });

  test("sysfs counters - an unknown operstate reads as unknown", () => {
    const root = fakeSysfs({ eth0: { operstate: "weird", base: 1 } });
    expect(readInterfaces(root)[0]?.operstate).toBe("unknown");
  });

  test("sysfs counters - a named list reads exactly those interfaces that exist, in name order", () => {
    const root = fakeSysfs({ lo: { operstate: "unknown", base: 0 }, eth0: { operstate: "up", base: 100 }, wlan0: { operstate: "down", base: 7 } });
    expect(readInterfaces(root, ["wlan0", "missing", "lo", "wlan0"]).map((s) => s.name)).toEqual(["lo", "wlan0"]);
  });

  test("sysfs counters - a missing root is a SysfsError naming it", () => {
    expect(() => readInterfaces("/nonexistent/x0")).toThrow(SysfsError);
    expect(() => readInterfaces("/nonexistent/x0")).toThrow(/\/nonexistent\/x0/);
    expect(() => readInterfaces("/nonexistent/x0", ["eth0"])).toThrow(SysfsError);
  });

  test("sysfs counters - a reader keeps files open yet sees new values, a vanished interface and a re-created one", () => {
    const root = fakeSysfs({ eth0: { operstate: "up", base: 100 } });
    const reader = new InterfaceReader(root, ["eth0"]);
    try {
      expect(reader.read()[0]?.counters.rx_bytes).toBe(100);
      writeFileSync(join(root, "eth0", "statistics", "rx_bytes"), "5000\n");
      writeFileSync(join(root, "eth0", "operstate"), "down\n");
      expect(reader.read()[0]).toMatchObject({ operstate: "down", counters: { rx_bytes: 5000 } });
      rmSync(join(root, "eth0"), { recursive: true });
      expect(reader.read()).toEqual([]);
      fakeSysfsInto(root, "eth0", 7);
      expect(reader.read()[0]?.counters.rx_bytes).toBe(7);
    } finally {
      reader.close();
    }
  });

  test("sysfs counters - a reader re-opens an interface re-created between two reads", () => {
    const root = fakeSysfs({ eth0: { operstate: "up", base: 100 } });
    const reader = new InterfaceReader(root);
    try {
      expect(reader.read()[0]?.counters.rx_bytes).toBe(100);
      rmSync(join(root, "eth0"), { recursive: true });
      fakeSysfsInto(root, "eth0", 9);
      expect(reader.read()[0]?.counters.rx_bytes).toBe(9);
    } finally {
      reader.close();
    }
  });

  test("sysfs counters - a counter is decimal digits and a newline; anything else is not a number", () => {
    const parse = (text: string) => {
      const buffer = Buffer.alloc(64);
      return parseCounter(buffer, buffer.write(text, "latin1"));
    };
    expect(parse("0\n")).toBe(0);
    // Above 2^53 a counter cannot be exact: the reader reports such an interface as invalid.
    expect(Number.isSafeInteger(parse("18446744073709551615\n"))).toBe(false);
    expect(parse("9007199254740991\n")).toBe(Number.MAX_SAFE_INTEGER);
    expect(parse("123")).toBe(123);
    for (const bad of ["", "\n", "-1\n", "1e3\n", " 12\n", "12x\n"]) expect(parse(bad), bad).toBeNaN();
  });

  test("sysfs counters - the host's real /sys/class/net reads", () => {
    const samples = readInterfaces("/sys/class/net", ["lo"]);
    expect(samples).toHaveLength(1);
    expect(samples[0]?.counters.rx_bytes).toBeGreaterThanOrEqual(0);
  });
});
