// Whether batman-adv tests can run here: root, nats-server, and a kernel with the batman-adv module (this machine's kernel
// has none; `x0 lab vm` boots Debian's, which has it, and test/batman.vm.test.ts runs these tests there).
import { existsSync } from "node:fs";
import { labRunnable } from "./lab-stack.ts";

/** Loads batman-adv when it is a module that is not loaded yet; true when the kernel has it afterwards. */
function batmanModuleLoaded(): boolean {
  if (existsSync("/sys/module/batman_adv")) return true;
  const modprobe = Bun.which("modprobe") ?? (existsSync("/usr/sbin/modprobe") ? "/usr/sbin/modprobe" : null);
  if (process.getuid?.() !== 0 || modprobe === null) return false;
  Bun.spawnSync([modprobe, "batman-adv"], { stdout: "ignore", stderr: "ignore" });
  return existsSync("/sys/module/batman_adv");
}

/** Why batman-adv tests cannot run here, or null when they can. */
export function batmanSkipReason(): string | null {
  if (!labRunnable) return "needs root (namespaces, XDP) and nats-server on PATH";
  if (!batmanModuleLoaded()) return "this kernel has no batman-adv module (test/batman.vm.test.ts runs these tests in a VM that has it)";
  if (Bun.which("batctl") === null) return "needs batctl on PATH";
  return null;
}

/** Whether the VM runner asked for these tests: then a missing batman-adv is a failure, not a skip. */
export const batmanRequired = process.env.X0_REQUIRE_BATMAN === "1";
