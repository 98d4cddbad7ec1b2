import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { anchorOf, readRunbooks, runbookSignature, splitMarkdown } from "./runbooks.ts";

const dir = mkdtempSync(join(tmpdir(), "x0-runbooks-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("runbooks", () => {
  test("runbooks - a file splits at its headings, with the headings above as context, and fenced # lines are not headings", () => {
    const sections = splitMarkdown(
      "cut.md",
      "# Link cut\nIntro.\n\n## When it does not heal\nCheck it.\n```sh\n# not a heading\n```\n### Leaf nodes\nNo detour.\n## Empty\n",
    );
    expect(sections.map((s) => [s.heading, s.anchor])).toEqual([
      ["Link cut", "link-cut"],
      ["When it does not heal", "when-it-does-not-heal"],
      ["Leaf nodes", "leaf-nodes"],
    ]);
    expect(sections[1]?.text).toContain("# not a heading");
    expect(sections[2]?.text.split("\n")[0]).toBe("Link cut > When it does not heal > Leaf nodes");
    expect(anchorOf("batman-adv: TQ & OGMs")).toBe("batman-adv-tq--ogms");
  });

  test("runbooks - every .md below the folder but README.md, sorted; the signature changes when a file does", () => {
    mkdirSync(join(dir, "mesh"), { recursive: true });
    writeFileSync(join(dir, "README.md"), "# How to write runbooks\nNot one.\n");
    writeFileSync(join(dir, "b.md"), "# B\nb\n");
    writeFileSync(join(dir, "mesh", "a.md"), "# A\na\n");
    const first = readRunbooks(dir);
    expect(first.sections.map((s) => s.file)).toEqual(["b.md", "mesh/a.md"]);
    expect(runbookSignature(dir)).toBe(first.signature);
    writeFileSync(join(dir, "b.md"), "# B\nchanged\n");
    expect(runbookSignature(dir)).not.toBe(first.signature);
    expect(readRunbooks(join(dir, "absent")).sections).toEqual([]);
  });
});
