import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { X0_SPEC } from "./commands.ts";
import { bashCompletion, zshCompletion } from "./completion.ts";
import type { Output } from "./status/command.ts";
import { runX0 } from "./x0.ts";

const dir = mkdtempSync(join(tmpdir(), "x0-completion-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What `x0 completion <shell>` prints, saved to a file. */
async function script(shell: "bash" | "zsh"): Promise<string> {
  const lines: string[] = [];
  const output: Output = { out: (text) => lines.push(text), err: (text) => lines.push(text) };
  expect(await runX0(["completion", shell], {}, output)).toBe(0);
  const path = join(dir, `x0.${shell}`);
  writeFileSync(path, `${lines.join("\n")}\n`);
  return path;
}

/** Runs `code` in a shell and returns its stdout (failing on a non-zero exit). */
function run(shell: "bash" | "zsh", args: string[]): string {
  const result = Bun.spawnSync([shell, ...args], { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "", HOME: dir } });
  expect(result.stderr.toString()).toBe("");
  expect(result.exitCode).toBe(0);
  return result.stdout.toString();
}

/** What bash's completion offers for the command line `line` (the cursor at its end). */
function bashCompletes(path: string, line: string): string[] {
  const words = line.split(" ");
  const code = `source ${path}; COMP_WORDS=(${words.map((word) => `'${word}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _x0; printf '%s\\n' "\${COMPREPLY[@]}"`;
  return run("bash", ["-c", code]).split("\n").filter(Boolean);
}

const zsh = Bun.which("zsh");

describe("completion", () => {
  test("completion - the bash script is valid bash and completes commands, subcommands, options and their values", async () => {
    const path = await script("bash");
    run("bash", ["-n", path]);
    expect(bashCompletes(path, "x0 la")).toEqual(["lab"]);
    expect(bashCompletes(path, "x0 lab ")).toEqual(["up", "vm", "down", "status", "fault", "heal", "probe", "record"]);
    expect(bashCompletes(path, "x0 lab fault --")).toEqual(["--prefix", "--help"]);
    expect(bashCompletes(path, "x0 lab fault flap --")).toEqual(["--period-ms", "--count", "--prefix", "--help"]);
    expect(bashCompletes(path, "x0 lab fault ")).toEqual(["cut", "loss", "link-down", "node-down", "flap"]);
    // Option values are skipped when finding the command, and completed from their choices.
    expect(bashCompletes(path, "x0 lab up --routing ")).toEqual(["static", "batman"]);
    expect(bashCompletes(path, "x0 lab --prefix fault ")).toEqual(["up", "vm", "down", "status", "fault", "heal", "probe", "record"]);
    expect(bashCompletes(path, "x0 gov vote p1 --choice a")).toEqual(["abstain"]);
    expect(bashCompletes(path, "x0 keys hsm ")).toEqual(["init"]);
    expect(bashCompletes(path, "x0 status -s nats://h:1 --j")).toEqual(["--json"]);
    expect(bashCompletes(path, "x0 completion ")).toEqual(["bash", "zsh"]);
  });

  test("completion - the zsh script is valid zsh, and its table gives the same commands and options", async () => {
    const path = await script("zsh");
    const text = zshCompletion(X0_SPEC);
    expect(text).toStartWith("#compdef x0\n");
    expect(text).toContain("compdef _x0 x0");
    expect(text).toContain("'lab fault')");
    expect(text).toContain("'lab up|--routing') choices=('static' 'batman')");
    if (zsh === null) throw new Error("zsh is not installed: scripts/bootstrap.sh installs it");
    run("zsh", ["-n", path]);
    const spec = (key: string) =>
      run("zsh", ["-c", `autoload -Uz compinit && compinit -u -D; source ${path}; _x0_spec '${key}'; print -l -- "\${names[@]}" -- "\${flags[@]%%:*}"`]);
    expect(spec("lab").split("\n").filter(Boolean)).toEqual(["up", "vm", "down", "status", "fault", "heal", "probe", "record", "--", "--help"]);
    expect(spec("lab fault flap").split("\n").filter(Boolean)).toEqual(["--", "--period-ms", "--count", "--prefix", "--help"]);
  });

  test("completion - both scripts come from the one table: every command path and option is in each", () => {
    const bash = bashCompletion(X0_SPEC);
    const zshText = zshCompletion(X0_SPEC);
    for (const needle of ["'lab fault'", "'gov members init'", "'keys hsm init'", "--period-ms", "--tlscert", "'certs revoke|--role'"]) {
      expect(bash, needle).toContain(needle);
      expect(zshText, needle).toContain(needle);
    }
  });
});
