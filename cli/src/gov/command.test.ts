import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadGenesis } from "@x0/shared/governance";
import { testMembers } from "@x0/shared/testing";
import { UsageError } from "../errors.ts";
import { parseChoice, parseMember, runGov } from "./command.ts";

const dir = mkdtempSync(join(tmpdir(), "x0-gov-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const members = testMembers({ alice: 4, bob: 9 });
const output = () => {
  const lines: string[] = [];
  return { lines, out: (text: string) => void lines.push(text), err: (text: string) => void lines.push(text) };
};
const keyOf = (index: number) => {
  const path = join(dir, `key${index}`);
  writeFileSync(path, members[index]?.privateKey as string);
  chmodSync(path, 0o600);
  return path;
};

describe("x0 gov command line", () => {
  test("members and choices parse, or say what is expected", () => {
    expect(parseMember("0x00000000000000000000000000000000000000aB:7:ops:east")).toEqual({
      address: "0x00000000000000000000000000000000000000aB",
      weight: 7,
      name: "ops:east",
    });
    expect(() => parseMember("0x1234:7")).toThrow(UsageError);
    expect(() => parseMember(`0x${"00".repeat(20)}:0`)).toThrow(/weight 1..1e9/);
    expect(parseChoice("abstain")).toBe(3);
    expect(() => parseChoice("maybe")).toThrow(/yes, no or abstain/);
  });

  test("a bad command line is refused before any connection", async () => {
    await expect(runGov(["vote", "5b2f3a52-4e8f-4b55-9a4c-0d7f43a6c2e1", "--choice", "yes"], {}, output())).rejects.toThrow(/--key/);
    await expect(runGov(["vote", "5b2f3a52-4e8f-4b55-9a4c-0d7f43a6c2e1", "--key", "k", "--choice", "si"], {}, output())).rejects.toThrow(/--choice/);
    await expect(runGov(["propose", "policy", "--title", "t"], {}, output())).rejects.toThrow(/--file/);
    await expect(runGov(["propose", "members", "--title", "t"], {}, output())).rejects.toThrow(/whole new member set/);
    await expect(runGov(["tally"], {}, output())).rejects.toThrow(/unknown gov command/);
    await expect(runGov([], {}, output())).rejects.toThrow(/gov needs a command/);
  });

  test("members init then every member's sign makes a genesis that verifies; a non-member cannot sign", async () => {
    const file = join(dir, "members.json");
    const entries = members.flatMap((member) => ["--member", `${member.account.address}:${member.weight}:${member.name}`]);
    expect(await runGov(["members", "init", "--space", "mesh.example", "--chain-id", "1", ...entries, "--out", file], {}, output())).toBe(0);
    await expect(loadGenesis(file)).rejects.toThrow(/not signed by/);
    const first = output();
    expect(await runGov(["members", "sign", file, "--key", keyOf(0)], {}, first)).toBe(0);
    expect(first.lines.join("\n")).toContain("1 member(s) still to sign");
    expect(await runGov(["members", "sign", file, "--key", keyOf(1), "--json"], {}, output())).toBe(0);
    expect((await loadGenesis(file)).members.map((member) => member.name)).toEqual(["alice", "bob"]);
    const stranger = join(dir, "stranger");
    writeFileSync(stranger, testMembers({ mallory: 1 })[0]?.privateKey as string);
    chmodSync(stranger, 0o600);
    await expect(runGov(["members", "sign", file, "--key", stranger], {}, output())).rejects.toThrow(/not a member listed/);
    expect(JSON.parse(readFileSync(file, "utf8")).signatures).toHaveLength(2);
  });
});
