// Runs the batman-adv tests (test/batman.netns.test.ts) inside the lab VM, where Debian's kernel has batman-adv: this
// machine's kernel has none, so without the VM they would only ever skip. The guest must run them, not skip them.
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { runInVm, vmImageDirOf } from "@x0/lab";
import { REPO_ROOT } from "../cli/src/paths.ts";

const imageDir = vmImageDirOf(process.env);
const reason =
  process.getuid?.() !== 0
    ? "needs root"
    : Bun.which("qemu-system-x86_64") === null
      ? "needs qemu-system-x86_64 (scripts/bootstrap.sh installs it)"
      : !existsSync(join(imageDir, "vmlinuz"))
        ? `no VM image in ${imageDir} (make vm builds it; make test does)`
        : existsSync("/sys/module/batman_adv")
          ? "this kernel has batman-adv: test/batman.netns.test.ts runs natively"
          : null;
if (reason !== null) process.stderr.write(`batman.vm.test.ts: skipped: ${reason}\n`);

const GUEST_TESTS = "test/batman.netns.test.ts";

/** The 20 lines before each "(fail)" line of a bun test output: the error and its message. */
function guestFailures(output: string): string {
  const lines = output.split("\n");
  const digest: string[] = [];
  lines.forEach((line, index) => {
    if (line.startsWith("(fail)")) digest.push(`--- ${line}`, ...lines.slice(Math.max(0, index - 20), index).map((l) => `  ${l.slice(0, 300)}`));
  });
  return digest.length > 0 ? digest.join("\n") : "(none reported)";
}
const TIMEOUT_MS = 25 * 60_000;

describe.skipIf(reason !== null)("batman-adv in the lab VM", () => {
  test(
    "batman vm - every batman-adv test passes inside the VM (none skipped)",
    async () => {
      const chunks: string[] = [];
      const result = await runInVm({
        argv: [process.execPath, "test", "--timeout", "600000", GUEST_TESTS],
        cwd: REPO_ROOT,
        env: { X0_REQUIRE_BATMAN: "1" },
        imageDir,
        timeoutMs: TIMEOUT_MS - 30_000,
        onOutput: (chunk) => {
          chunks.push(chunk);
          if (process.env.X0_VM_VERBOSE === "1") process.stderr.write(chunk);
        },
      });
      const output = result.output;
      const passed = Number(/^\s*(\d+) pass/m.exec(output)?.[1] ?? 0);
      const failed = Number(/^\s*(\d+) fail/m.exec(output)?.[1] ?? -1);
      const skipped = Number(/^\s*(\d+) skip/m.exec(output)?.[1] ?? 0);
      // The end of the guest's output, then its failures (the lines before each of its "(fail)" lines) last: what a
      // truncated log keeps (scripts/test-digest.sh prints the lines before each failure).
      const context = `guest output (last 3000 characters):\n${output.slice(-3000)}\nguest failures:\n${guestFailures(output)}`;
      expect(result.exitCode, context).toBe(0);
      expect(failed, context).toBe(0);
      expect(skipped, context).toBe(0);
      expect(passed, context).toBeGreaterThanOrEqual(4);
    },
    TIMEOUT_MS,
  );
});
