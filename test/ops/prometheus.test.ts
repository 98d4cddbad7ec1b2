// Prometheus configuration and alert rules, checked by promtool (Debian's prometheus package).
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "@x0/shared/testing";

const dir = join(REPO_ROOT, "ops", "prometheus");
// scripts/bootstrap.sh unpacks promtool into .x0/bin when the system has none.
const unpacked = join(REPO_ROOT, ".x0", "bin", "promtool");
const PROMTOOL = process.env.PROMTOOL ?? (existsSync(unpacked) ? unpacked : "promtool");

/** Runs promtool with fixed arguments in ops/prometheus (no shell). */
async function promtool(...args: string[]): Promise<{ code: number; output: string }> {
  const child = Bun.spawn([PROMTOOL, ...args], { cwd: dir, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, output: stdout + stderr };
}

describe("prometheus", () => {
  test("prometheus - the scrape config and its rule files are valid", async () => {
    const { code, output } = await promtool("check", "config", "prometheus.yml");
    expect(output).toContain("SUCCESS");
    expect(code).toBe(0);
  });

  test("prometheus - the alert rule unit tests pass", async () => {
    const { code, output } = await promtool("test", "rules", "alerts.test.yml");
    expect(output).toContain("SUCCESS");
    expect(code).toBe(0);
  });

  test("prometheus - every alert has a unit test that fires it", async () => {
    const rules = await Bun.file(join(dir, "alerts.yml")).text();
    const tests = await Bun.file(join(dir, "alerts.test.yml")).text();
    const alerts = [...rules.matchAll(/- alert: (\w+)/g)].map((match) => match[1]);
    expect(alerts.length).toBeGreaterThanOrEqual(5);
    for (const alert of alerts) expect(tests).toContain(`alertname: ${alert}`);
  });
});
