import { describe, expect, test } from "bun:test";
import { UsageError } from "./errors.ts";
import { type CommandSpec, parseCommandArgs, pathName, renderHelp, resolveCommand, subtreeFlagsOf } from "./spec.ts";

const TREE: CommandSpec = {
  name: "tool",
  summary: "a tool",
  flags: { version: { type: "boolean", help: "print the version" } },
  commands: [
    {
      name: "net",
      summary: "the network",
      commands: [
        {
          name: "cut",
          summary: "cut a link",
          args: "<a> <b>",
          flags: { prefix: { type: "string", value: "p", help: "the prefix" }, count: { type: "string", short: "c", help: "how many" } },
        },
      ],
    },
    {
      name: "members",
      summary: "the members",
      runsAlone: true,
      flags: { json: { type: "boolean", help: "print JSON" } },
      commands: [{ name: "init", summary: "write the first set" }],
    },
    { name: "ask", summary: "ask a question", args: "<question>", flags: { k: { type: "string", short: "k", help: "answers" } } },
  ],
};
const names = (path: readonly CommandSpec[]) => pathName(path);

describe("command spec", () => {
  test("command spec - the leading subcommand words make the path; options may stand anywhere", () => {
    const resolved = resolveCommand(TREE, ["net", "--prefix", "cut", "cut", "n1", "n2", "-c", "3"]);
    expect(resolved).toMatchObject({ kind: "run", argv: ["--prefix", "cut", "cut", "n1", "n2", "-c", "3"] });
    expect(names(resolved.path)).toBe("tool net cut");
    const ask = resolveCommand(TREE, ["ask", "net", "cut", "-k", "3"]);
    expect(ask.kind === "run" && [names(ask.path), ask.argv]).toEqual(["tool ask", ["net", "cut", "-k", "3"]]);
  });

  test("command spec - help wins over a bad option, an unknown word wins over help", () => {
    expect(resolveCommand(TREE, ["net", "cut", "--bogus", "-h"])).toMatchObject({ kind: "help" });
    expect(names(resolveCommand(TREE, ["net", "--help", "cut"]).path)).toBe("tool net cut");
    expect(resolveCommand(TREE, ["net", "melt", "--help"])).toMatchObject({ kind: "unknown", word: "melt" });
    expect(resolveCommand(TREE, ["frob"])).toMatchObject({ kind: "unknown", word: "frob" });
  });

  test("command spec - a group needs a subcommand unless it runs alone; options belong to the command they are given to", () => {
    expect(resolveCommand(TREE, ["net"])).toMatchObject({ kind: "missing" });
    expect(resolveCommand(TREE, [])).toMatchObject({ kind: "missing" });
    expect(resolveCommand(TREE, ["members", "--json"])).toMatchObject({ kind: "run" });
    expect(names(resolveCommand(TREE, ["members", "init"]).path)).toBe("tool members init");
    expect(resolveCommand(TREE, ["members", "init", "--json"])).toMatchObject({ kind: "bad-option", option: "--json" });
    expect(resolveCommand(TREE, ["net", "cut", "a", "b", "--count=2", "--frob"])).toMatchObject({ kind: "bad-option", option: "--frob" });
    expect(resolveCommand(TREE, ["ask", "-c", "1"])).toMatchObject({ kind: "bad-option", option: "-c" });
  });

  test("command spec - words after -- are arguments, never subcommands or options", () => {
    const resolved = resolveCommand(TREE, ["ask", "--", "net", "--help"]);
    expect(resolved.kind).toBe("run");
  });

  test("command spec - a command's parser takes the options of its subtree and refuses others as usage errors", () => {
    expect(Object.keys(subtreeFlagsOf(TREE.commands?.[0] as CommandSpec)).sort()).toEqual(["count", "help", "prefix"]);
    const net = TREE.commands?.[0] as CommandSpec;
    expect(parseCommandArgs<{ prefix?: string }>(net, ["cut", "a", "--prefix", "x"])).toEqual({ values: { prefix: "x" }, positionals: ["cut", "a"] });
    expect(() => parseCommandArgs(net, ["--json"])).toThrow(UsageError);
    expect(() => parseCommandArgs(net, ["--prefix"])).toThrow(UsageError);
  });

  test("command spec - help shows the usage line, the commands and the options, wrapped", () => {
    const cut = (TREE.commands?.[0]?.commands?.[0] as CommandSpec) ?? TREE;
    expect(renderHelp(cut, "tool net cut").split("\n")).toEqual([
      "Usage: tool net cut <a> <b> [options]",
      "",
      "Cut a link.",
      "",
      "Options:",
      "      --prefix <p>     the prefix",
      "  -c, --count <value>  how many",
      "  -h, --help           print this help",
    ]);
    const members = renderHelp(TREE.commands?.[1] as CommandSpec, "tool members");
    expect(members).toStartWith("Usage: tool members [<command>] [options]");
    expect(members).toContain("Commands:\n  init  write the first set");
    expect(members).toEndWith('Run "tool members <command> --help" for a command\'s options.');
  });
});
