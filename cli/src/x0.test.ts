import { describe, expect, test } from "bun:test";
import { freePort } from "@x0/shared/testing";
import type { Output } from "./status/command.ts";
import { runX0, X0_USAGE } from "./x0.ts";

/** Runs x0 with an empty environment and returns its exit code and what it printed. */
async function x0(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const output: Output = { out: (text) => out.push(text), err: (text) => err.push(text) };
  const code = await runX0(argv, {}, output);
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("x0", () => {
  test("x0 - --help, -h and help print the usage and exit 0", async () => {
    for (const argv of [["--help"], ["-h"], ["help"]]) expect(await x0(argv)).toMatchObject({ code: 0, out: X0_USAGE });
  });

  test("x0 - version and --version print the version and exit 0", async () => {
    for (const argv of [["version"], ["--version"]])
      expect(await x0(argv)).toMatchObject({ code: 0, out: expect.stringMatching(/^x0 \d+\.\d+\.\d+ \(bun \d/) });
  });

  test("x0 - a NATS server that does not answer is named with the cause, and the command exits 1", async () => {
    const port = freePort();
    const result = await x0(["incidents", "--nats", `nats://127.0.0.1:${port}`]);
    expect(result.code).toBe(1);
    expect(result.err).toContain(`cannot connect to NATS at nats://127.0.0.1:${port}`);
    expect(result.err).toContain("connection refused");
  }, 20_000);

  test("x0 - help <command> prints that command's usage", async () => {
    expect(await x0(["help", "status"])).toMatchObject({ code: 0, out: expect.stringMatching(/^Usage: x0 status/) });
  });

  test("x0 - an unknown or missing command prints the usage and exits 2", async () => {
    for (const argv of [["frobnicate"], []]) expect(await x0(argv)).toMatchObject({ code: 2, err: expect.stringContaining(X0_USAGE) });
  });

  test("x0 - a bad option of a command exits 2 naming the command", async () => {
    expect(await x0(["status", "--frob"])).toMatchObject({ code: 2, err: expect.stringContaining("x0 status:") });
  });

  test("x0 - a lab spec that is not valid is a usage error: exit 2 with the lab's message", async () => {
    const { code, err } = await x0(["lab", "up", "--topology", "ring"]);
    expect(code).toBe(2);
    expect(err).toStartWith('x0 lab: topology "ring": expected ring:<nodes>');
    expect(err).toContain('Run "x0 lab --help" for usage.');
  });

  test("x0 - status of a service that does not answer shows it down and exits 1", async () => {
    const url = `http://127.0.0.1:${freePort()}`;
    const { code, out } = await x0(["status", "--json", "--url", url]);
    expect(code).toBe(1);
    const report = JSON.parse(out);
    expect(report.all_ready).toBe(false);
    expect(report.services[0]).toMatchObject({ name: url, url, state: "down" });
  });
});
