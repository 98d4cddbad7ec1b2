import { describe, expect, test } from "bun:test";
import { freePort } from "@x0/shared/testing";
import type { Output } from "./status/command.ts";
import { runX0, X0_USAGE } from "./x0.ts";

function capture(): Output & { outText: () => string; errText: () => string } {
  const out: string[] = [];
  const err: string[] = [];
  return { out: (text) => out.push(text), err: (text) => err.push(text), outText: () => out.join("\n"), errText: () => err.join("\n") };
}

describe("x0", () => {
  test("x0 - --help, -h and help print the usage and exit 0", async () => {
    for (const argv of [["--help"], ["-h"], ["help"]]) {
      const output = capture();
      expect(await runX0(argv, {}, output)).toBe(0);
      expect(output.outText()).toBe(X0_USAGE);
    }
  });

  test("x0 - help <command> prints that command's usage", async () => {
    const output = capture();
    expect(await runX0(["help", "status"], {}, output)).toBe(0);
    expect(output.outText()).toStartWith("Usage: x0 status");
  });

  test("x0 - an unknown or missing command prints the usage and exits 2", async () => {
    for (const argv of [["frobnicate"], []]) {
      const output = capture();
      expect(await runX0(argv, {}, output)).toBe(2);
      expect(output.errText()).toContain(X0_USAGE);
    }
  });

  test("x0 - a bad option of a command exits 2 naming the command", async () => {
    const output = capture();
    expect(await runX0(["status", "--frob"], {}, output)).toBe(2);
    expect(output.errText()).toContain("x0 status:");
  });

  test("x0 - status of a service that does not answer shows it down and exits 1", async () => {
    const output = capture();
    const url = `http://127.0.0.1:${freePort()}`;
    expect(await runX0(["status", "--json", "--url", url], {}, output)).toBe(1);
    const report = JSON.parse(output.outText());
    expect(report.all_ready).toBe(false);
    expect(report.services[0]).toMatchObject({ name: url, url, state: "down" });
  });
});
