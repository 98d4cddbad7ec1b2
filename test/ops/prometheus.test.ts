// Prometheus configuration and alert rules, checked by promtool (Debian's prometheus package).
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { REPO_ROOT } from "@x0/shared/testing";
import { run, toolPath } from "./tools.ts";

const dir = join(REPO_ROOT, "ops", "prometheus");

/** Runs promtool in ops/prometheus. */
async function promtool(...args: string[]): Promise<{ code: number; output: string }> {
  const { code, stdout, stderr } = await run([toolPath("promtool"), ...args], dir);
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
