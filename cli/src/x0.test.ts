import { describe, expect, test } from "bun:test";
import { freePort } from "@x0/shared/testing";
import { X0_SPEC } from "./commands.ts";
import { type CommandSpec, HELP_WIDTH, pathName, subtreeFlagsOf, walkCommands } from "./spec.ts";
import type { Output } from "./status/command.ts";
import { RUNNERS, runX0, X0_USAGE } from "./x0.ts";

/** Runs x0 with an empty environment and returns its exit code and what it printed. */
async function x0(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const output: Output = { out: (text) => out.push(text), err: (text) => err.push(text) };
  const code = await runX0(argv, { X0_STATE_DIR: "/nonexistent" }, output);
  return { code, out: out.join("\n"), err: err.join("\n") };
}

/** Every command of the table but x0 itself, with the words that name it. */
const commands = walkCommands(X0_SPEC)
  .slice(1)
  .map((path) => ({ path, words: path.slice(1).map((command) => command.name), name: pathName(path), command: path.at(-1) as CommandSpec }));
/** The commands that need one of their subcommands. */
const groups = commands.filter(({ command }) => command.commands !== undefined && !command.runsAlone);

describe("x0", () => {
  test("x0 - --help, -h and help print the usage on stdout and exit 0", async () => {
    for (const argv of [["--help"], ["-h"], ["help"]]) expect(await x0(argv)).toEqual({ code: 0, out: X0_USAGE, err: "" });
    expect(X0_USAGE).toStartWith("Usage: x0 <command> [options]");
  });

  test("x0 - version and --version print the version and exit 0", async () => {
    for (const argv of [["version"], ["--version"]])
      expect(await x0(argv)).toMatchObject({ code: 0, out: expect.stringMatching(/^x0 \d+\.\d+\.\d+ \(bun \d/) });
  });

  test("x0 - every command and subcommand prints its own usage on --help, -h and help <command>, and exits 0", async () => {
    expect(commands.map(({ name }) => name)).toContain("x0 lab fault flap");
    for (const { words, name, command } of commands) {
      const help = await x0([...words, "--help"]);
      expect(help, name).toMatchObject({ code: 0, err: "" });
      expect(help.out.split("\n")[0], name).toStartWith(`Usage: ${name}`);
      for (const flag of Object.keys(command.flags ?? {})) expect(help.out, `${name} --${flag}`).toContain(`--${flag}`);
      for (const sub of command.commands ?? []) expect(help.out, `${name} ${sub.name}`).toContain(`  ${sub.name}  `);
      expect(await x0([...words, "-h"]), name).toEqual(help);
      expect(await x0(["help", ...words]), name).toEqual(help);
    }
    for (const name of ["x0 lab fault --help", "x0 certs issue --help", "x0 gov vote --help", "x0 keys hsm init --help"]) {
      expect((await x0(name.split(" ").slice(1))).out, name).toStartWith(`Usage: ${name.replace(" --help", "")}`);
    }
  });

  test("x0 - every help text is at most 100 columns wide", async () => {
    expect(HELP_WIDTH).toBe(100);
    for (const { words, name } of [{ words: [], name: "x0" }, ...commands]) {
      const { out } = await x0([...words, "--help"]);
      const wide = out.split("\n").filter((line) => line.length > HELP_WIDTH);
      expect(wide, name).toEqual([]);
    }
  });

  test("x0 - a group without its subcommand prints its usage on stderr and exits 2", async () => {
    expect(groups.map(({ name }) => name)).toEqual(expect.arrayContaining(["x0 lab", "x0 lab fault", "x0 certs", "x0 gov", "x0 keys hsm", "x0 completion"]));
    for (const { words, name } of [{ words: [], name: "x0" }, ...groups]) {
      const result = await x0(words);
      expect(result, name).toMatchObject({ code: 2, out: "" });
      expect(result.err, name).toStartWith(`${name}: no command given\n\nUsage: ${name} <command>`);
    }
  });

  test("x0 - an unknown command or subcommand is named, with the usage, on stderr and exits 2", async () => {
    const top = await x0(["frobnicate"]);
    expect(top).toMatchObject({ code: 2, out: "" });
    expect(top.err).toStartWith(`x0: unknown command 'frobnicate'\n\n${X0_USAGE}`);
    for (const { words, name } of groups) {
      const result = await x0([...words, "frobnicate", "--json"]);
      expect(result, name).toMatchObject({ code: 2, out: "" });
      expect(result.err, name).toStartWith(`${name}: unknown command 'frobnicate'\n\nUsage: ${name} <command>`);
    }
    expect((await x0(["help", "lab", "melt"])).err).toStartWith("x0 lab: unknown command 'melt'");
  });

  test("x0 - an option a command does not take exits 2 naming it, whatever the command", async () => {
    for (const { words, name } of commands) {
      const result = await x0([...words, "--frobnicate"]);
      expect(result, name).toMatchObject({ code: 2, out: "" });
      expect(result.err, name).toBe(`${name}: unknown option '--frobnicate'\nRun "${name} --help" for usage.`);
    }
    // An option of a sibling is not this command's.
    expect((await x0(["certs", "init", "--role", "observer"])).err).toStartWith("x0 certs init: unknown option '--role'");
    expect((await x0(["lab", "fault", "cut", "n1", "n2", "--count", "2"])).err).toStartWith("x0 lab fault cut: unknown option '--count'");
  });

  test("x0 - a value a command cannot use is a usage error: exit 2 with the command's message and where to read more", async () => {
    const cases: [string[], string][] = [
      [["lab", "up", "--topology", "ring"], 'x0 lab: topology "ring": expected ring:<nodes>'],
      [["lab", "fault", "cut", "n1"], "x0 lab: usage: x0 lab fault cut <a> <b>"],
      [["lab", "up", "--topology", "line:2", "-s", "http://a:1"], 'x0 lab: --server "http://a:1" is not nats://<host>:<port>'],
      [["status", "--url", "nope"], 'x0 status: --url "nope" is not a URL'],
      [["incidents", "--since", "5y"], 'x0 incidents: --since "5y" is not a duration'],
      [["ask", "-k", "0", "why"], 'x0 ask: -k "0" is not a whole number'],
      [["gov", "vote", "p1", "--key", "k", "--choice", "maybe"], "x0 gov: --choice must be yes, no or abstain"],
      [["certs", "issue", "--role", "observer", "--id", "a b"], "x0 certs: --id"],
      [["keys", "rewrap", "--to", "file"], "x0 keys: rewrap needs --to pkcs11"],
      [["console", "--port", "70000"], 'x0 console: --port "70000" must be a whole number'],
      [["down", "--timeout-s", "soon"], 'x0 down: --timeout-s "soon" must be a whole number'],
      [["status", "--url"], "x0 status: Option '--url <value>' argument missing"],
    ];
    for (const [argv, message] of cases) {
      const result = await x0(argv);
      expect(result, argv.join(" ")).toMatchObject({ code: 2, out: "" });
      expect(result.err, argv.join(" ")).toStartWith(message);
      expect(result.err, argv.join(" ")).toContain(
        `Run "x0 ${argv
          .filter((word) => /^[a-z]/.test(word))
          .slice(0, 1)
          .join(" ")}`,
      );
    }
    expect((await x0(["lab", "fault", "cut", "n1"])).err).toEndWith('Run "x0 lab fault cut --help" for usage.');
  });

  test("x0 - a NATS server that does not answer is named with the cause, and the command exits 1", async () => {
    const port = freePort();
    const result = await x0(["incidents", "--server", `nats://127.0.0.1:${port}`]);
    expect(result.code).toBe(1);
    expect(result.err).toContain(`x0 incidents: cannot connect to NATS at nats://127.0.0.1:${port}`);
    expect(result.err).toContain("connection refused");
  }, 20_000);

  test("x0 - status of a service that does not answer shows it down and exits 1", async () => {
    const url = `http://127.0.0.1:${freePort()}`;
    const { code, out } = await x0(["status", "--json", "--url", url]);
    expect(code).toBe(1);
    const report = JSON.parse(out);
    expect(report.all_ready).toBe(false);
    expect(report.services[0]).toMatchObject({ name: url, url, state: "down", found_by: "url" });
  });

  test("x0 - the table: every command runs or is answered; within a group an option has one type and a short letter one option", () => {
    const answered = ["help", "version", "completion"];
    const names = (X0_SPEC.commands as readonly CommandSpec[]).map((command) => command.name);
    expect(names.filter((name) => !answered.includes(name)).sort()).toEqual(Object.keys(RUNNERS).sort());
    for (const group of X0_SPEC.commands as readonly CommandSpec[]) {
      const types = new Map<string, string>();
      const shorts = new Map<string, string>();
      for (const path of walkCommands(group)) {
        for (const [name, flag] of Object.entries((path.at(-1) as CommandSpec).flags ?? {})) {
          expect(types.get(name) ?? flag.type, `${group.name} --${name}`).toBe(flag.type);
          types.set(name, flag.type);
          if (flag.short === undefined) continue;
          expect(shorts.get(flag.short) ?? name, `${group.name} -${flag.short}`).toBe(name);
          shorts.set(flag.short, name);
        }
      }
      expect(Object.keys(subtreeFlagsOf(group))).toContain("help");
    }
  });
});
