import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig } from "@x0/shared";
import { checkScope, executorConfigShape, executorServiceName, resolveMode } from "./config.ts";

const load = (env: Record<string, string>) => loadConfig(executorConfigShape, { env });

describe("config", () => {
  test("config - the default mode is dry-run; X0_EXECUTOR_MODE picks enforce or detect-only", () => {
    expect(resolveMode(load({}))).toBe("dry-run");
    expect(resolveMode(load({ X0_EXECUTOR_MODE: "enforce" }))).toBe("enforce");
    expect(resolveMode(load({ X0_EXECUTOR_MODE: "detect-only" }))).toBe("detect-only");
    expect(() => load({ X0_EXECUTOR_MODE: "yolo" })).toThrow(/X0_EXECUTOR_MODE/);
  });

  test("config - X0_EXECUTOR_DRY_RUN=true is still accepted as dry-run; false or a contradiction is refused", () => {
    expect(resolveMode(load({ X0_EXECUTOR_DRY_RUN: "true" }))).toBe("dry-run");
    expect(() => load({ X0_EXECUTOR_DRY_RUN: "false" })).toThrow(/X0_EXECUTOR_DRY_RUN: must be true .*X0_EXECUTOR_MODE=enforce/);
    expect(() => resolveMode(load({ X0_EXECUTOR_DRY_RUN: "true", X0_EXECUTOR_MODE: "enforce" }))).toThrow(ConfigError);
  });

  test("config - the process allow-list is JSON or a JSON file, validated", () => {
    const dir = mkdtempSync(join(tmpdir(), "x0-executor-config-"));
    try {
      const file = join(dir, "processes.json");
      writeFileSync(file, JSON.stringify({ mesh: { unit: "x0-mesh.service" } }));
      expect(load({ X0_EXECUTOR_PROCESSES: file }).X0_EXECUTOR_PROCESSES).toMatchObject({ mesh: { unit: "x0-mesh.service" } });
      expect(load({ X0_EXECUTOR_PROCESSES: '{"d":{"pidfile":"/run/d.pid","command":["/usr/sbin/d"]}}' }).X0_EXECUTOR_PROCESSES.d?.command).toEqual([
        "/usr/sbin/d",
      ]);
      expect(load({}).X0_EXECUTOR_PROCESSES).toEqual({});
      expect(() => load({ X0_EXECUTOR_PROCESSES: '{"d":{"pidfile":"/run/d.pid"}}' })).toThrow(/X0_EXECUTOR_PROCESSES/);
      expect(() => load({ X0_EXECUTOR_PROCESSES: join(dir, "missing.json") })).toThrow(/cannot read process allow-list/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("config - templates take only safe characters", () => {
    expect(load({ X0_EXECUTOR_NETNS: "x0-{node}", X0_EXECUTOR_BPF_PIN_ROOT: "/sys/fs/bpf/x0lab/{node}" }).X0_EXECUTOR_NETNS).toBe("x0-{node}");
    expect(() => load({ X0_EXECUTOR_NETNS: "x0 $(reboot)" })).toThrow(/X0_EXECUTOR_NETNS/);
  });

  test("config - a node executor refuses {node} templates (every node's namespace or maps); a site executor takes them", () => {
    const site = load({ X0_EXECUTOR_SCOPE: "all", X0_EXECUTOR_NETNS: "x0-{node}", X0_EXECUTOR_BPF_PIN_ROOT: "/sys/fs/bpf/x0lab/{node}" });
    expect(() => checkScope(site)).not.toThrow();
    expect(() => checkScope(load({ X0_EXECUTOR_NETNS: "x0-n3", X0_EXECUTOR_BPF_PIN_ROOT: "/sys/fs/bpf/x0lab/n3" }))).not.toThrow();
    expect(() => checkScope(load({ X0_EXECUTOR_NETNS: "x0-{node}" }))).toThrow(ConfigError);
    expect(() => checkScope(load({ X0_EXECUTOR_BPF_PIN_ROOT: "/sys/fs/bpf/x0lab/{node}" }))).toThrow(/X0_EXECUTOR_BPF_PIN_ROOT.*without \{node\}/);
  });

  test("config - scope all runs as executor-site, its own identity; node scope (the default) as executor", () => {
    expect(executorServiceName({ X0_EXECUTOR_SCOPE: "all" })).toBe("executor-site");
    expect(executorServiceName({})).toBe("executor");
    expect(executorServiceName({ X0_EXECUTOR_SCOPE: "node" })).toBe("executor");
    // A bad value is the service's to report when it loads its configuration.
    expect(executorServiceName({ X0_EXECUTOR_SCOPE: "everything" })).toBe("executor");
  });
});
