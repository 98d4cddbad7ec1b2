// Grafana dashboards: generated files are fresh, use the provisioned data source, and query only metrics that exist.
import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "@x0/shared/testing";
import { parse } from "yaml";
import { buildDashboards, DASHBOARDS_DIR, NATS_EXPORTER_METRICS, PROMETHEUS_UID } from "../../scripts/docs/dashboards.ts";

interface Panel {
  id: number;
  title: string;
  datasource: { uid: string };
  targets: { expr: string }[];
}

const dashboards = buildDashboards();

describe("grafana", () => {
  test("grafana - the dashboard files are up to date (run `bun run docs:dashboards`)", async () => {
    expect(readdirSync(DASHBOARDS_DIR).sort()).toEqual(Object.keys(dashboards).sort());
    for (const [file, content] of Object.entries(dashboards)) {
      expect(await Bun.file(join(DASHBOARDS_DIR, file)).text()).toBe(`${JSON.stringify(content, null, 2)}\n`);
    }
  });

  test("grafana - panels use the provisioned Prometheus data source and have unique ids", async () => {
    const provisioned = parse(await Bun.file(join(REPO_ROOT, "ops", "grafana", "provisioning", "datasources", "datasources.yaml")).text()) as {
      datasources: { uid: string; type: string }[];
    };
    expect(provisioned.datasources.find((source) => source.uid === PROMETHEUS_UID)?.type).toBe("prometheus");
    for (const content of Object.values(dashboards)) {
      const panels = (content as { panels: Panel[] }).panels;
      expect(new Set(panels.map((panel) => panel.id)).size).toBe(panels.length);
      for (const panel of panels) expect(panel.datasource.uid).toBe(PROMETHEUS_UID);
    }
  });

  test("grafana - every metric a panel or alert queries is in the metrics catalogue or served by the NATS exporter", async () => {
    const catalogue = await Bun.file(join(REPO_ROOT, "docs", "metrics.md")).text();
    const known = new Set<string>([
      ...[...catalogue.matchAll(/`((?:x0|process|nodejs)_[a-z0-9_]+)`/g)].map((match) => match[1] as string),
      ...NATS_EXPORTER_METRICS,
    ]);
    const alerts = await Bun.file(join(REPO_ROOT, "ops", "prometheus", "alerts.yml")).text();
    const queries = [
      ...Object.values(dashboards).flatMap((content) => (content as { panels: Panel[] }).panels.flatMap((panel) => panel.targets.map((target) => target.expr))),
      ...[...alerts.matchAll(/expr: (.+)/g)].map((match) => match[1] as string),
    ];
    // Exported once SPIFFE identities land (see alerts.yml).
    const planned = new Set(["x0_svid_expiry_timestamp_seconds"]);
    for (const expr of queries) {
      for (const [name] of expr.matchAll(/\b(?:x0|process|nodejs|gnatsd|jetstream)_[a-z0-9_]+/g)) {
        const metric = name.replace(/_(bucket|count|sum)$/, "");
        if (!planned.has(metric)) expect(known.has(metric), `${metric} in ${expr}`).toBe(true);
      }
    }
  });

  test("grafana - the provisioning provider reads the folder docker-compose mounts", async () => {
    const provider = parse(await Bun.file(join(REPO_ROOT, "ops", "grafana", "provisioning", "dashboards", "dashboards.yaml")).text()) as {
      providers: { options: { path: string } }[];
    };
    const compose = await Bun.file(join(REPO_ROOT, "docker-compose.yml")).text();
    expect(compose).toContain(`./ops/grafana/dashboards:${provider.providers[0]?.options.path}:ro`);
  });
});
