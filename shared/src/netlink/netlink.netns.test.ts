// Interface masters over rtnetlink against a real kernel: a network namespace made by this test, with a bridge standing in
// for bat0 (this kernel has no batman-adv; IFLA_MASTER is the same call for both, and test/batman.vm.test.ts runs it on bat0).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readlinkSync } from "node:fs";
import { batadvMesh } from "./batadv.ts";
import { NetlinkError, NetlinkSockets } from "./netlink.ts";
import { rtnetlinkMasters, slavesOf } from "./rtnetlink.ts";

const root = process.getuid?.() === 0;
if (!root) console.warn("netlink.netns.test: skipped, needs root (network namespaces)");

// x0nl<pid>: unique per run; a leftover of a crashed run is recognised by its dead pid.
const NETNS = `x0nl${process.pid}`;

function sh(argv: string[]): string {
  const result = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${result.stderr.toString()}`);
  return result.stdout.toString();
}
const masterOf = (name: string): string | undefined => JSON.parse(sh(["ip", "-j", "-n", NETNS, "link", "show", "dev", name]))[0]?.master;

function removeLeftovers(): void {
  if (!existsSync("/run/netns")) return;
  for (const name of readdirSync("/run/netns")) {
    const pid = Number(/^x0nl(\d+)$/.exec(name)?.[1] ?? Number.NaN);
    if (Number.isNaN(pid)) continue;
    let alive = false;
    try {
      process.kill(pid, 0);
      alive = pid !== process.pid;
    } catch {}
    if (!alive) Bun.spawnSync(["ip", "netns", "delete", name], { stdout: "ignore", stderr: "ignore" });
  }
}

describe.skipIf(!root)("rtnetlink (netns)", () => {
  const sockets = root ? new NetlinkSockets() : undefined;
  const masters = sockets ? rtnetlinkMasters(sockets) : undefined;

  beforeAll(() => {
    removeLeftovers();
    sh(["ip", "netns", "add", NETNS]);
    sh(["ip", "-n", NETNS, "link", "add", "mesh0", "type", "bridge"]);
    sh(["ip", "-n", NETNS, "link", "add", "a0", "type", "veth", "peer", "name", "b0"]);
    sh(["ip", "-n", NETNS, "link", "add", "a1", "type", "veth", "peer", "name", "b1"]);
    sh(["ip", "-n", NETNS, "link", "set", "a0", "master", "mesh0"]);
  });
  afterAll(() => {
    sockets?.close();
    Bun.spawnSync(["ip", "netns", "delete", NETNS], { stdout: "ignore", stderr: "ignore" });
  });

  test("rtnetlink - lists a namespace's interfaces and which of them a master holds", () => {
    const links = masters?.links(NETNS) ?? [];
    expect(links.map((link) => link.name).sort()).toEqual(["a0", "a1", "b0", "b1", "lo", "mesh0"]);
    expect(slavesOf(links, "mesh0")).toEqual(["a0"]);
    expect(slavesOf(links, "bat9")).toBeUndefined();
    // The host's own interfaces are not the namespace's.
    expect(links.some((link) => link.name === "mesh0" && link.index > 0)).toBe(true);
  });

  test("rtnetlink - attaches and detaches an interface, as `ip link` then reads it", () => {
    masters?.setMaster(NETNS, "a1", "mesh0");
    expect(masterOf("a1")).toBe("mesh0");
    expect(slavesOf(masters?.links(NETNS) ?? [], "mesh0")?.sort()).toEqual(["a0", "a1"]);
    masters?.setMaster(NETNS, "a1", null);
    expect(masterOf("a1")).toBeUndefined();
    expect(slavesOf(masters?.links(NETNS) ?? [], "mesh0")).toEqual(["a0"]);
  });

  test("rtnetlink - the kernel's refusals are errors naming the call and the errno; nothing changes", () => {
    expect(() => masters?.setMaster(NETNS, "nope0", "mesh0")).toThrow(/setting the master of nope0 to mesh0 in namespace x0nl\d+: errno 19 \(ENODEV\)/);
    expect(() => masters?.setMaster(NETNS, "a1", "bat9")).toThrow(/namespace x0nl\d+ has no interface bat9/);
    // A bridge cannot be its own port.
    expect(() => masters?.setMaster(NETNS, "mesh0", "mesh0")).toThrow(NetlinkError);
    expect(() => masters?.links("x0nl-missing")).toThrow(/open \/run\/netns\/x0nl-missing \(no such network namespace\?\): errno 2 \(ENOENT\)/);
    expect(slavesOf(masters?.links(NETNS) ?? [], "mesh0")).toEqual(["a0"]);
  });

  test("batadv - without the batman-adv module, mesh settings fail naming the missing family; a missing mesh interface is named", () => {
    if (!sockets || !masters) return;
    const mesh = batadvMesh(sockets, masters);
    if (existsSync("/sys/module/batman_adv")) {
      expect(() => mesh.get(NETNS, "bat9", "orig_interval")).toThrow(/namespace x0nl\d+ has no mesh interface bat9/);
      return;
    }
    expect(() => mesh.get(NETNS, "mesh0", "orig_interval")).toThrow(
      /no batadv generic netlink family \(is the batman-adv module loaded\?\): errno 2 \(ENOENT\)/,
    );
    expect(() => mesh.set(NETNS, "mesh0", "orig_interval", 100)).toThrow(/batman-adv module/);
  });

  test("rtnetlink - the calling thread is back in its own namespace after every call", () => {
    const before = readlinkSync("/proc/thread-self/ns/net");
    masters?.links(NETNS);
    expect(() => masters?.links("x0nl-missing")).toThrow();
    expect(readlinkSync("/proc/thread-self/ns/net")).toBe(before);
    // This namespace's socket sees this namespace: the test's bridge is not here.
    expect(masters?.links(null).some((link) => link.name === "mesh0")).toBe(false);
  });
});
