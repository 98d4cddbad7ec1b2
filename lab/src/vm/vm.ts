// `x0 lab vm`: runs a command inside a QEMU VM booted with Debian's kernel (it has batman-adv, which this machine's kernel
// may lack), over the host's root shared read-only (lab/README.md "The VM").
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { VmError } from "../errors.ts";
import { REPO_ROOT } from "../paths.ts";

/** Where `make vm` (scripts/vm-image.sh) puts the kernel and initramfs, unless X0_VM_IMAGE_DIR says otherwise. */
export function vmImageDirOf(env: Record<string, string | undefined>): string {
  return env.X0_VM_IMAGE_DIR ? resolve(env.X0_VM_IMAGE_DIR) : join(REPO_ROOT, ".x0", "vm", "current");
}

/** The kernel and initramfs of an image folder; throws {@link VmError} saying how to build them when missing. */
export function vmImage(dir: string): { kernel: string; initrd: string } {
  const kernel = join(dir, "vmlinuz");
  const initrd = join(dir, "initrd.gz");
  if (!existsSync(kernel) || !existsSync(initrd)) throw new VmError(`no VM image in ${dir}: run "make vm" (scripts/vm-image.sh) first`);
  return { kernel, initrd };
}

/** Quotes one argument for a POSIX shell: the job script is the only shell text, and every argument goes in quoted. */
export function shellQuote(argument: string): string {
  return `'${argument.replaceAll("'", `'\\''`)}'`;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The job's `env` file: one `export NAME='value'` per variable; throws {@link VmError} on a name a shell cannot take. */
export function envFile(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([name, value]) => {
      if (!ENV_NAME.test(name)) throw new VmError(`environment variable name ${JSON.stringify(name)} is not valid`);
      return `export ${name}=${shellQuote(value)}\n`;
    })
    .join("");
}

/** What {@link runInVm} needs. */
export interface VmRunOptions {
  argv: readonly string[];
  /** Folder the command starts in, inside the guest (the host's path: the guest sees the host's root). */
  cwd: string;
  /** Variables for the command, on top of PATH, HOME and the guest defaults (X0_STATE_DIR on a tmpfs). */
  env?: Record<string, string>;
  imageDir: string;
  cpus?: number;
  memoryMb?: number;
  timeoutMs?: number;
  /** Receives the command's output (stdout and stderr together) as it is written. */
  onOutput?: (chunk: string) => void;
  qemu?: string;
}

/** What a VM run gave. */
export interface VmRunResult {
  exitCode: number;
  output: string;
  /** The guest kernel's console (boot messages, module errors), for when something went wrong before the command. */
  console: string;
  bootToExitMs: number;
}

/** The QEMU command line of a run. */
export function qemuArgv(options: {
  qemu: string;
  kernel: string;
  initrd: string;
  cpus: number;
  memoryMb: number;
  jobDir: string;
  /** The repository, shared again at its own path: the guest's tmpfs on /tmp, /run, /var/tmp and /root would hide a checkout there. */
  repoDir: string;
}): string[] {
  return [
    options.qemu,
    // TCG: KVM fails on these machines; thread=multi gives each vCPU a host thread.
    "-accel",
    "tcg,thread=multi",
    "-cpu",
    "max",
    "-smp",
    String(options.cpus),
    "-m",
    String(options.memoryMb),
    "-display",
    "none",
    "-monitor",
    "none",
    "-serial",
    `file:${join(options.jobDir, "console.log")}`,
    "-no-reboot",
    "-kernel",
    options.kernel,
    "-initrd",
    options.initrd,
    "-append",
    "console=ttyS0 quiet loglevel=3 panic=-1",
    "-virtfs",
    "local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap",
    "-virtfs",
    `local,path=${options.jobDir},mount_tag=job,security_model=none,multidevs=remap`,
    "-virtfs",
    `local,path=${options.repoDir},mount_tag=repo,security_model=none,readonly=on,multidevs=remap`,
  ];
}

/** Boots the VM, runs `argv` in it and returns its exit code and output; the VM powers off when the command ends. */
export async function runInVm(options: VmRunOptions): Promise<VmRunResult> {
  const { kernel, initrd } = vmImage(options.imageDir);
  const jobDir = mkdtempSync(join(tmpdir(), "x0-vm-"));
  const started = Date.now();
  try {
    const env: Record<string, string> = {
      PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      HOME: "/root",
      // The host's root is read-only in the guest: state goes to a tmpfs.
      X0_STATE_DIR: "/run/x0-state",
      ...options.env,
      X0_VM_CWD: options.cwd,
      X0_VM_REPO: REPO_ROOT,
      X0_IN_VM: "1",
    };
    writeFileSync(join(jobDir, "env"), envFile(env));
    writeFileSync(join(jobDir, "run.sh"), `exec ${options.argv.map(shellQuote).join(" ")}\n`);
    const argv = qemuArgv({
      qemu: options.qemu ?? "qemu-system-x86_64",
      kernel,
      initrd,
      cpus: options.cpus ?? 2,
      memoryMb: options.memoryMb ?? 3072,
      jobDir,
      repoDir: REPO_ROOT,
    });
    let child: ReturnType<typeof Bun.spawn>;
    try {
      child = Bun.spawn(argv, { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    } catch (error) {
      throw new VmError(`cannot start ${argv[0]} (scripts/bootstrap.sh installs qemu-system-x86)`, { cause: error });
    }
    const stderr = new Response(child.stderr as ReadableStream).text();
    const outputPath = join(jobDir, "out.log");
    let output = "";
    let offset = 0;
    const drain = () => {
      if (!existsSync(outputPath)) return;
      const fd = openSync(outputPath, "r");
      try {
        const buffer = Buffer.alloc(64 * 1024);
        for (;;) {
          const read = readSync(fd, buffer, 0, buffer.length, offset);
          if (read <= 0) break;
          offset += read;
          const chunk = buffer.subarray(0, read).toString("utf8");
          output += chunk;
          options.onOutput?.(chunk);
        }
      } finally {
        closeSync(fd);
      }
    };
    const timeoutMs = options.timeoutMs ?? 30 * 60_000;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    const poll = setInterval(drain, 250);
    const qemuExit = await child.exited;
    clearTimeout(timer);
    clearInterval(poll);
    drain();
    const consoleText = existsSync(join(jobDir, "console.log")) ? readFileSync(join(jobDir, "console.log"), "utf8") : "";
    if (timedOut) throw new VmError(`the VM did not finish within ${timeoutMs / 1000} s; its output so far:\n${output.slice(-4000)}`);
    const rcPath = join(jobDir, "rc");
    if (!existsSync(rcPath)) {
      throw new VmError(
        `the VM stopped (qemu exit ${qemuExit}) before the command finished: ${(await stderr).trim().slice(-2000)}\nguest console:\n${consoleText.slice(-4000)}`,
      );
    }
    const exitCode = Number(readFileSync(rcPath, "utf8").trim());
    return { exitCode: Number.isInteger(exitCode) ? exitCode : 1, output, console: consoleText, bootToExitMs: Date.now() - started };
  } finally {
    rmSync(jobDir, { recursive: true, force: true });
  }
}
