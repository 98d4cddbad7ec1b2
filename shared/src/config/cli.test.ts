import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { cryptoConfigShape } from "../crypto/control-plane.ts";
import { governanceConfigShape } from "../governance/config.ts";
import { REPO_ROOT } from "../testing/process.ts";
import { parseServiceArgs, renderServiceHelp, variableType } from "./cli.ts";
import { baseConfigShape, commaListSchema, portSchema } from "./config.ts";

describe("service command line", () => {
  test("service command line - nothing runs the service; -h/--help and --print-config describe it; anything else is refused", () => {
    expect(parseServiceArgs([])).toEqual({ kind: "run" });
    expect(parseServiceArgs(["--help"])).toEqual({ kind: "help" });
    expect(parseServiceArgs(["-h"])).toEqual({ kind: "help" });
    expect(parseServiceArgs(["--print-config"])).toEqual({ kind: "print-config" });
    expect(parseServiceArgs(["--bogus"])).toEqual({ kind: "invalid", message: "Unknown option '--bogus'" });
    expect(parseServiceArgs(["start"])).toMatchObject({ kind: "invalid", message: expect.stringContaining("'start'") });
    expect(parseServiceArgs(["--help=yes"])).toMatchObject({ kind: "invalid" });
  });

  test("service command line - a variable's type is its allowed values, or its kind and range", () => {
    expect(variableType(portSchema.default(0))).toBe("integer 0..65535");
    expect(variableType(z.enum(["debug", "info"]).default("info"))).toBe("debug|info");
    expect(variableType(z.enum(["a-long-value", "another-long-value", "a-third-long-value"]))).toBe(
      "one of a-long-value, another-long-value, a-third-long-value",
    );
    expect(variableType(z.coerce.number().int().positive().default(1))).toBe("integer > 0");
    expect(variableType(z.coerce.number().min(0))).toBe("number >= 0");
    expect(variableType(z.url().optional())).toBe("URL");
    expect(variableType(commaListSchema.default([]))).toBe("string");
  });

  test("service command line - every common, crypto and governance variable has a description", () => {
    const undescribed = Object.entries({ ...baseConfigShape, ...cryptoConfigShape, ...governanceConfigShape }).filter(
      ([, schema]) => !(schema as z.ZodType).description,
    );
    expect(undescribed.map(([name]) => name)).toEqual([]);
  });

  test("service command line - help lists each variable with its type, default and description, within 100 columns", () => {
    const shape = {
      ...baseConfigShape,
      X0_DEMO_LIMIT: z.coerce.number().int().min(1).max(9).default(3).describe("How many demos run at once, at most; a long description wraps."),
      X0_DEMO_KEY: z.string().describe("The demo's key (required)."),
    };
    const help = renderServiceHelp({ name: "demo", version: "1.0.0", command: "bun services/demo/src/main.ts", shape });
    expect(help).toStartWith("Usage: bun services/demo/src/main.ts [-h | --help | --print-config]");
    expect(help).toContain("  X0_DEMO_LIMIT  integer 1..9, default 3\n      How many demos run at once");
    expect(help).toContain("  X0_DEMO_KEY  string, required\n      The demo's key (required).");
    expect(help).toContain("  X0_NODE  string, default the host name\n      This node's id");
    expect(help).toContain("  X0_NATS_SERVERS  string, default nats://127.0.0.1:4222\n      Comma-separated NATS server URLs.");
    expect(help.split("\n").filter((line) => line.length > 100)).toEqual([]);
  });

  test("service command line - every service prints its described variables on --help (exit 0) and refuses a flag it does not take (exit 2)", async () => {
    const services = readdirSync(join(REPO_ROOT, "services")).filter((name) => existsSync(join(REPO_ROOT, "services", name, "src", "main.ts")));
    expect(services.toSorted()).toEqual(["analyzer", "crypto", "executor", "monitor", "planner", "rag", "swarm"]);
    const run = async (name: string, arg: string) => {
      // No NATS and no identity: both answers come before the service would need either.
      const child = Bun.spawn([process.execPath, join("services", name, "src", "main.ts"), arg], {
        cwd: REPO_ROOT,
        env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", X0_NATS_SERVERS: "nats://127.0.0.1:1" },
        stdout: "pipe",
        stderr: "pipe",
      });
      const [code, out, err] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
      return { code, out, err };
    };
    for (const name of services) {
      const [help, bogus] = await Promise.all([run(name, "--help"), run(name, "--bogus")]);
      expect(help.code, `${name} --help: ${help.err}`).toBe(0);
      expect(help.out, name).toStartWith(`Usage: bun services/${name}/src/main.ts [-h | --help | --print-config]`);
      expect(help.out, name).toContain("  X0_NATS_SERVERS  string, default nats://127.0.0.1:4222\n      Comma-separated NATS server URLs.");
      expect(help.out, name).toContain("  X0_NODE  string, default the host name\n      This node's id");
      const lines = help.out.split("\n");
      const undescribed = lines.flatMap((line, index) => {
        const variable = /^ {2}([A-Z][A-Z0-9_]+) {2}/.exec(line)?.[1];
        if (variable === undefined) return [];
        const next = lines.slice(index + 1).find((after) => !after.startsWith("        "));
        return next?.startsWith("      ") ? [] : [variable];
      });
      expect(undescribed, `${name}: variables without a description`).toEqual([]);
      expect(
        lines.filter((line) => line.length > 100),
        name,
      ).toEqual([]);
      expect(bogus, name).toMatchObject({ code: 2, out: "" });
      expect(bogus.err, name).toStartWith(`x0-${name}: Unknown option '--bogus'\nRun "bun services/${name}/src/main.ts --help"`);
    }
  }, 120_000);
});
