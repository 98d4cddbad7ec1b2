import { describe, expect, test } from "bun:test";
import { chmodSync } from "node:fs";
import { checkShell, isShellScript } from "./shell.ts";
import { REPO_ROOT, tempTree } from "./testing.ts";

describe("shellcheck", () => {
  test("shellcheck - the repository's shell scripts pass, .ci/run and vm/init among them", async () => {
    const r = await checkShell({ root: REPO_ROOT });
    expect(r.failures).toEqual([]);
    expect(r.summary).toContain(".ci/run");
    expect(r.summary).toContain("vm/init");
  });

  test("shellcheck - a finding in a script found by its shebang fails, with file, line, code and the wiki link", async () => {
    const tree = tempTree("shell");
    try {
      tree.write("tools/ok.sh", '#!/usr/bin/env bash\nset -euo pipefail\necho "$1"\n');
      chmodSync(tree.write("tools/run", "#!/bin/sh\nrm -rf $1/build\n"), 0o755);
      tree.write("tools/notes.txt", "rm -rf $1\n");
      const r = await checkShell({ root: tree.dir });
      expect(r.summary).toContain("on 2 scripts");
      expect(r.failures).toEqual(["tools/run:2:8: info SC2086: Double quote to prevent globbing and word splitting. (https://www.shellcheck.net/wiki/SC2086)"]);
    } finally {
      tree.cleanup();
    }
  });

  test("shellcheck - a missing shellcheck fails the check and says how to install it", async () => {
    const r = await checkShell({ root: REPO_ROOT, shellcheck: "/nonexistent/shellcheck" });
    expect(r.failures).toEqual([expect.stringContaining("is not installed: run make deps")]);
  });

  test("shellcheck - shebangs of sh, bash, dash and busybox sh are scripts; zsh and others are not", () => {
    const tree = tempTree("shebang");
    try {
      const cases: [string, boolean][] = [
        ["#!/bin/sh", true],
        ["#!/usr/bin/env bash", true],
        ["#!/bin/busybox sh", true],
        ["#!/bin/dash -e", true],
        ["#!/usr/bin/env zsh", false],
        ["#!/usr/bin/env bun", false],
        ["no shebang", false],
      ];
      for (const [i, [line, expected]] of cases.entries()) {
        tree.write(`f${i}`, `${line}\necho\n`);
        expect([line, isShellScript(tree.dir, `f${i}`)]).toEqual([line, expected]);
      }
    } finally {
      tree.cleanup();
    }
  });
});
