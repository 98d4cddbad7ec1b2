import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VmError } from "../errors.ts";
import { envFile, qemuArgv, runInVm, shellQuote, vmImage, vmImageDirOf } from "./vm.ts";

describe("lab vm", () => {
  test("lab vm - arguments are quoted for the guest's shell, whatever they hold", () => {
    expect(shellQuote("plain")).toBe("'plain'");
    expect(shellQuote("it's; rm -rf / $(x) `y`")).toBe(`'it'\\''s; rm -rf / $(x) \`y\`'`);
    const quoted = ["a b", "c'd", "$HOME", ""].map(shellQuote).join(" ");
    const echoed = Bun.spawnSync(["sh", "-c", `printf '%s\\n' ${quoted}`], { stdout: "pipe" }).stdout.toString();
    expect(echoed).toBe("a b\nc'd\n$HOME\n\n");
  });

  test("lab vm - the env file exports every variable quoted and refuses names a shell cannot take", () => {
    expect(envFile({ A: "1", B_2: "x y'z" })).toBe(`export A='1'\nexport B_2='x y'\\''z'\n`);
    expect(() => envFile({ "A;rm": "1" })).toThrow(VmError);
    const script = `${envFile({ X0_T: "$(echo no)" })}printf %s "$X0_T"`;
    expect(Bun.spawnSync(["sh", "-c", script], { stdout: "pipe" }).stdout.toString()).toBe("$(echo no)");
  });

  test("lab vm - QEMU boots the kernel with TCG, the host's root read-only and the job folder writable over 9p", () => {
    const argv = qemuArgv({ qemu: "qemu-system-x86_64", kernel: "/k", initrd: "/i", cpus: 2, memoryMb: 1024, jobDir: "/tmp/job", repoDir: "/tmp/x0" });
    expect(argv.slice(0, 5)).toEqual(["qemu-system-x86_64", "-accel", "tcg,thread=multi", "-cpu", "max"]);
    expect(argv).toContain("local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap");
    expect(argv).toContain("local,path=/tmp/job,mount_tag=job,security_model=none,multidevs=remap");
    // The repository again at its own path: a checkout under /tmp stays visible under the guest's tmpfs.
    expect(argv).toContain("local,path=/tmp/x0,mount_tag=repo,security_model=none,readonly=on,multidevs=remap");
    expect(argv[argv.indexOf("-serial") + 1]).toBe("file:/tmp/job/console.log");
    expect(argv).not.toContain("-enable-kvm");
  });

  test("lab vm - a missing image says how to build it", async () => {
    const empty = mkdtempSync(join(tmpdir(), "x0-vm-test-"));
    try {
      expect(() => vmImage(empty)).toThrow(/make vm/);
      await expect(runInVm({ argv: ["true"], cwd: "/", imageDir: empty })).rejects.toThrow(VmError);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
    expect(vmImageDirOf({ X0_VM_IMAGE_DIR: "/x/y" })).toBe("/x/y");
    expect(vmImageDirOf({})).toEndWith(join(".x0", "vm", "current"));
  });
});
