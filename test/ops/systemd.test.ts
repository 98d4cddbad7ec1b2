// The node agent's systemd units (ops/systemd/): systemd-analyze verifies them and scores their sandbox, they grant
// exactly the capabilities the services use, and x0-node-setup.sh gives the x0 user its bpffs pin folder.
import { describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ConfigVariable } from "@x0/shared";
import { REPO_ROOT } from "@x0/shared/testing";
import { run } from "./tools.ts";

const DIR = join(REPO_ROOT, "ops", "systemd");
const UNITS = { monitor: "x0-monitor.service", executor: "x0-executor.service" } as const;
/** Where the units expect the tree (README.md's install). */
const INSTALL_ROOT = "/opt/x0tta6bl4";

/** A unit file's settings: every value of each key, in order (systemd keys repeat). */
function settings(file: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of readFileSync(join(DIR, file), "utf8").split("\n")) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (!match) continue;
    const [, key = "", value = ""] = match;
    out.set(key, [...(out.get(key) ?? []), value]);
  }
  return out;
}
const one = (unit: Map<string, string[]>, key: string) => unit.get(key)?.at(-1);

/** `NAME=value` pairs of Environment= lines (space-separated assignments). */
const environmentOf = (unit: Map<string, string[]>) =>
  Object.fromEntries((unit.get("Environment") ?? []).flatMap((line) => line.split(/\s+/)).map((pair) => pair.split("=", 2) as [string, string]));

/** The units with the tree's paths pointed at this checkout, in a folder of their own (systemd-analyze checks the programs exist). */
function unitsHere(): string {
  const dir = mkdtempSync(join(tmpdir(), "x0-units-"));
  for (const file of Object.values(UNITS)) writeFileSync(join(dir, file), readFileSync(join(DIR, file), "utf8").replaceAll(INSTALL_ROOT, REPO_ROOT));
  return dir;
}

const systemdAnalyze = Bun.which("systemd-analyze");
const SKIP_REASON = "systemd-analyze is not installed (scripts/bootstrap.sh installs the systemd package)";

describe("systemd", () => {
  test("systemd - the units pass systemd-analyze verify with no warning", async () => {
    if (!systemdAnalyze) return console.warn(`skipped: ${SKIP_REASON}`);
    const dir = unitsHere();
    try {
      const verified = await run([systemdAnalyze, "verify", "--man=no", ...Object.values(UNITS).map((file) => join(dir, file))], dir);
      expect(verified.code, verified.stderr).toBe(0);
      // Unknown keys and unparsable values are only warnings: none is accepted either.
      expect(verified.stderr.trim()).toBe("");
      // And it does catch them: a misspelt key is reported.
      copyFileSync(join(dir, UNITS.monitor), join(dir, "x0-typo.service"));
      writeFileSync(join(dir, "x0-typo.service"), readFileSync(join(dir, UNITS.monitor), "utf8").replace("ProtectSystem=", "ProtectSytem="));
      const typo = await run([systemdAnalyze, "verify", "--man=no", join(dir, "x0-typo.service")], dir);
      expect(typo.stderr).toContain("Unknown key 'ProtectSytem'");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  test("systemd - systemd-analyze security rates both sandboxes low exposure", async () => {
    if (!systemdAnalyze) return console.warn(`skipped: ${SKIP_REASON}`);
    const dir = unitsHere();
    try {
      for (const file of Object.values(UNITS)) {
        const rated = await run([systemdAnalyze, "security", "--offline=yes", "--no-pager", join(dir, file)], dir);
        const exposure = Number(/Overall exposure level for \S+: ([\d.]+)/.exec(rated.stdout + rated.stderr)?.[1]);
        // 0 is a fully locked-down service, 10 an unprotected one; host network and CAP_BPF keep these above 1.
        expect(exposure, `${file}\n${rated.stdout}`).toBeLessThanOrEqual(2.5);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  test("systemd - the x0 user with exactly the capabilities each service uses, never root, and the bpffs pin folder writable", () => {
    const caps = { monitor: "CAP_BPF CAP_PERFMON CAP_NET_ADMIN", executor: "CAP_BPF CAP_NET_ADMIN" };
    for (const [role, file] of Object.entries(UNITS) as [keyof typeof UNITS, string][]) {
      const unit = settings(file);
      expect(one(unit, "User"), file).toBe("x0");
      expect(one(unit, "AmbientCapabilities"), file).toBe(caps[role]);
      expect(one(unit, "CapabilityBoundingSet"), file).toBe(caps[role]);
      expect(one(unit, "NoNewPrivileges"), file).toBe("yes");
      expect(one(unit, "LimitMEMLOCK"), file).toBe("infinity");
      expect(one(unit, "ProtectSystem"), file).toBe("strict");
      expect(one(unit, "ReadWritePaths"), file).toBe("/sys/fs/bpf/x0");
      expect(one(unit, "RequiresMountsFor"), file).toBe("/sys/fs/bpf");
      expect(one(unit, "Restart"), file).toBe("on-failure");
      // The root part is only the setup script ("+"), for this role and user.
      expect(unit.get("ExecStartPre"), file).toEqual([`+${INSTALL_ROOT}/ops/systemd/x0-node-setup.sh ${role} x0`]);
      expect(one(unit, "ExecStart"), file).toBe(`bun services/${role}/src/main.ts`);
      expect(existsSync(join(REPO_ROOT, "services", role, "src", "main.ts"))).toBe(true);
      expect(one(unit, "WorkingDirectory"), file).toBe(INSTALL_ROOT);
      // The same ports as docker-compose (Prometheus scrapes 9101 and 9104) and the certificate of the service's role.
      const env = environmentOf(unit);
      expect(env.X0_HTTP_PORT, file).toBe(role === "monitor" ? "9101" : "9104");
      expect(env.X0_NATS_TLS_CERT, file).toBe(`/etc/x0/tls/${role}.crt`);
    }
    expect(environmentOf(settings(UNITS.executor)).X0_KEY_DIR).toBe("%S/x0/executor");
    expect(one(settings(UNITS.executor), "StateDirectory")).toBe("x0/executor");
    expect(readFileSync(join(DIR, "x0.sysusers.conf"), "utf8")).toMatch(/^u x0 - /m);
  });

  test("systemd - every variable the units and x0.env.example set is one the services know, and the example holds no secret", async () => {
    const example = readFileSync(join(DIR, "x0.env.example"), "utf8");
    const exampleVars = [...example.matchAll(/^#?([A-Z][A-Z0-9_]+)=/gm)].map((match) => match[1] as string);
    expect(exampleVars).toContain("X0_NATS_SERVERS");
    expect(example).not.toMatch(/^[^#]*(PASSWORD|SECRET|TOKEN|X0_KEK)=/m);
    for (const [role, file] of Object.entries(UNITS)) {
      const printed = await run(["bun", join(REPO_ROOT, "services", role, "src", "main.ts"), "--print-config"]);
      expect(printed.code, printed.stderr).toBe(0);
      const known = new Set((JSON.parse(printed.stdout) as ConfigVariable[]).map((variable) => variable.name));
      const given = [...Object.keys(environmentOf(settings(file))), ...exampleVars].filter((name) => !name.startsWith("BUN_"));
      expect(
        given.filter((name) => !known.has(name)),
        `${file}: variables its config does not know`,
      ).toEqual([]);
    }
  }, 30_000);

  test("systemd - the shell scripts of the node agent and the compose PKI pass shellcheck", async () => {
    const shellcheck = Bun.which("shellcheck");
    if (!shellcheck) return console.warn("skipped: shellcheck is not installed (scripts/bootstrap.sh installs it)");
    const checked = await run([shellcheck, join(DIR, "x0-node-setup.sh"), join(REPO_ROOT, "ops", "certs", "dev-certs.sh")]);
    expect(checked.code, checked.stdout + checked.stderr).toBe(0);
  });

  test("systemd - x0-node-setup.sh makes the pin root of a 0700 bpffs the node user's, who could not create it before", async () => {
    if (process.getuid?.() !== 0 || !Bun.which("unshare") || !Bun.which("setpriv")) {
      return console.warn("skipped: needs root, unshare and setpriv (a private mount namespace with its own bpffs)");
    }
    // In a private mount namespace: a fresh bpffs as systemd mounts it (0700), the setup for the monitor with "nobody" as
    // the node user, and no tracefs (the host's tracefs stays untouched).
    const dir = mkdtempSync(join(tmpdir(), "x0-bpffs-"));
    const asNobody = "setpriv --reuid 65534 --regid 65534 --clear-groups";
    const script = [
      "set -eu",
      `mount -t bpf -o mode=0700 bpf "${dir}"`,
      `if ${asNobody} mkdir "${dir}/x0"; then echo before=created; else echo before=refused; fi`,
      `X0_MONITOR_BPF_PIN_ROOT="${dir}/x0" BPFFS="${dir}" TRACEFS=/nonexistent sh "${join(DIR, "x0-node-setup.sh")}" monitor nobody`,
      `stat -c 'root=%a %u' "${dir}" && stat -c 'pins=%a %u' "${dir}/x0"`,
      `${asNobody} mkdir "${dir}/x0/eth0" && echo after=created`,
      // Idempotent: a second run changes nothing and succeeds.
      `X0_MONITOR_BPF_PIN_ROOT="${dir}/x0" BPFFS="${dir}" TRACEFS=/nonexistent sh "${join(DIR, "x0-node-setup.sh")}" monitor nobody`,
      `X0_EXECUTOR_BPF_PIN_ROOT="${dir}/lab/{node}" BPFFS="${dir}" sh "${join(DIR, "x0-node-setup.sh")}" executor nobody`,
      `stat -c 'lab=%a %u' "${dir}/lab"`,
      `umount "${dir}"`,
    ].join("\n");
    try {
      const result = await run(["unshare", "-m", "--propagation", "private", "sh", "-c", script]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout.split("\n").filter(Boolean)).toEqual(["before=refused", "root=1711 0", "pins=750 65534", "after=created", "lab=750 65534"]);
      expect(result.stderr).toContain("no tracefs at /nonexistent");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
