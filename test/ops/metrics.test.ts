// The metrics catalogue is generated from every service's registry, is fresh, and follows Prometheus conventions.
import { beforeAll, describe, expect, test } from "bun:test";
import type { CatalogueEntry } from "@x0/shared";
import { CATALOGUE_PATH, collectCatalogues, renderCatalogue, serviceNames } from "../../scripts/docs/metrics.ts";

let catalogues: Map<string, CatalogueEntry[]>;
const all = () => [...catalogues.values()].flat();
/** prom-client's default metrics: standard names, not ours to rename (nodejs_active_*_total are gauges, say). */
const isDefault = (name: string) => name.startsWith("process_") || name.startsWith("nodejs_");

beforeAll(async () => {
  catalogues = await collectCatalogues();
}, 60_000);

describe("metrics", () => {
  test("metrics - every service contributes to the catalogue", () => {
    expect([...catalogues.keys()].sort()).toEqual(serviceNames());
    for (const entries of catalogues.values()) expect(entries.some((entry) => entry.name === "x0_ready")).toBe(true);
  });

  test("metrics - docs/metrics.md is up to date (run `bun run docs:metrics`)", async () => {
    expect(await Bun.file(CATALOGUE_PATH).text()).toBe(renderCatalogue(catalogues));
  });

  test("metrics - our names have the x0_ prefix, counters end in _total, histograms carry a unit", () => {
    for (const { name, type } of all()) {
      if (isDefault(name)) continue;
      expect(name).toMatch(/^x0_[a-z][a-z0-9_]*$/);
      if (type === "counter") expect(name).toEndWith("_total");
      else expect(name).not.toEndWith("_total");
      if (type === "histogram" || type === "summary") expect(name).toMatch(/_(seconds|bytes|packets|ratio)$/);
    }
  });

  test("metrics - default process and runtime metrics keep their standard names, so stock dashboards work", () => {
    const names = new Set(all().map((entry) => entry.name));
    for (const standard of ["process_cpu_user_seconds_total", "process_cpu_seconds_total", "process_resident_memory_bytes", "nodejs_eventloop_lag_seconds"]) {
      expect(names.has(standard), standard).toBe(true);
    }
    expect([...names].filter((name) => /^x0_(process|nodejs)_/.test(name))).toEqual([]);
    // Anything without x0_ is one of prom-client's defaults, never ours.
    expect([...names].filter((name) => !name.startsWith("x0_") && !isDefault(name))).toEqual([]);
  });

  test("metrics - every metric has help and no unbounded id labels", () => {
    for (const { name, help, labels } of all()) {
      expect(help.length, name).toBeGreaterThan(10);
      for (const label of labels) expect(label, `${name}{${label}}`).not.toMatch(/(^|_)(id|uuid|trace|ts|time)$/);
    }
  });

  test("metrics - the same metric name means the same thing in every service", () => {
    const seen = new Map<string, CatalogueEntry>();
    for (const entry of all()) {
      const first = seen.get(entry.name);
      if (first) expect({ type: entry.type, labels: entry.labels }).toEqual({ type: first.type, labels: first.labels });
      else seen.set(entry.name, entry);
    }
  });
});
