import { describe, expect, test } from "bun:test";
import type { Telemetry } from "@x0/shared";
import { type DataplaneControl, denyActuators, type NeighbourKey, NeighbourParams, neighbourActivity } from "./deny.ts";
import { stepOf, testContext } from "./testing.ts";

/** An in-memory stand-in for the monitor's pinned maps, per pin root and interface. */
function fakeDataplane() {
  const maps = new Map<string, NeighbourKey[]>();
  const opened: string[] = [];
  const open = ({ iface, pinRoot }: { iface: string; pinRoot: string }): DataplaneControl => {
    const where = `${pinRoot}/${iface}`;
    opened.push(where);
    const deny = maps.get(where) ?? [];
    maps.set(where, deny);
    const same = (a: NeighbourKey) => (b: NeighbourKey) => a.mac === b.mac && a.ipv4 === b.ipv4;
    // Like the real maps: a closed one fails (EBADF), so using it after close is caught here too.
    let closed = false;
    const open_ = () => {
      if (closed) throw new Error("EBADF: map used after close");
    };
    return {
      deny: (key) => {
        open_();
        if (!deny.some(same(key))) deny.push(key);
      },
      allow: (key) => {
        open_();
        const at = deny.findIndex(same(key));
        if (at >= 0) deny.splice(at, 1);
        return at >= 0;
      },
      setFault: () => open_(),
      denied: () => {
        open_();
        return [...deny];
      },
      faults: () => [],
      close: () => {
        closed = true;
      },
    };
  };
  return { maps, opened, open };
}

const telemetry = (packets: number, dropped: number): Telemetry =>
  ({
    v: 1,
    node: "n2",
    interfaces: [
      {
        name: "n2-n5",
        neighbours: [{ mac: "02:00:00:00:00:05", ipv4: "10.200.0.6", packets_delta: packets, dropped_delta: dropped }],
      },
    ],
  }) as unknown as Telemetry;

describe("deny", () => {
  const params = NeighbourParams.parse({ node: "n2", interface: "n2-n5", mac: "02:00:00:00:00:05" });

  test("deny - quarantine writes the deny map under the node's pin root, verifies by the kernel entry and rising drops, rolls back", async () => {
    const dataplane = fakeDataplane();
    const [quarantine] = denyActuators({ open: dataplane.open, pinRootTemplate: "/sys/fs/bpf/x0lab/{node}", watchMs: 200 });
    let samples = [telemetry(10, 10)];
    const ctx = testContext("site", { nextTelemetry: async () => samples.shift() });
    const step = stepOf("quarantine_neighbour", params);
    const applied = await quarantine?.apply(step, ctx);
    if (!quarantine || !applied) throw new Error("no actuator");
    expect(dataplane.opened).toContain("/sys/fs/bpf/x0lab/n2/n2-n5");
    expect(dataplane.maps.get("/sys/fs/bpf/x0lab/n2/n2-n5")).toEqual([{ mac: "02:00:00:00:00:05", ipv4: "any" }]);
    expect(ctx.journaled[0]?.undo).toMatchObject({ wasDenied: false });
    expect(await quarantine.verify(step, applied, ctx)).toMatchObject({ ok: true, detail: expect.stringMatching(/10 frames, 10 dropped/) });
    // Still passing frames: not quarantined, whatever the map says.
    samples = [telemetry(10, 0)];
    expect((await quarantine.verify(step, applied, ctx)).ok).toBe(false);
    // Silent neighbour: the kernel entry is what is observed, and the detail says so.
    samples = [];
    expect(await quarantine.verify(step, applied, ctx)).toMatchObject({ ok: true, detail: expect.stringMatching(/no telemetry/) });
    await quarantine.rollback(step, applied, ctx);
    expect(dataplane.maps.get("/sys/fs/bpf/x0lab/n2/n2-n5")).toEqual([]);
  });

  test("deny - release of a denied neighbour is rolled back by denying it again", async () => {
    const dataplane = fakeDataplane();
    const [, release] = denyActuators({ open: dataplane.open, pinRootTemplate: "/pins/{node}" });
    dataplane.open({ iface: "n2-n5", pinRoot: "/pins/n2" }).deny({ mac: "02:00:00:00:00:05", ipv4: "any" });
    const ctx = testContext("site");
    const step = stepOf("release_neighbour", params);
    const applied = await release?.apply(step, ctx);
    if (!release || !applied) throw new Error("no actuator");
    expect(applied.undo.wasDenied).toBe(true);
    expect((await release.verify(step, applied, ctx)).ok).toBe(true);
    await release.rollback(step, applied, ctx);
    expect(dataplane.maps.get("/pins/n2/n2-n5")).toHaveLength(1);
  });

  test("deny - a pin root without {node} reaches this node's maps only; unopenable maps are an actuator error", async () => {
    const [quarantine] = denyActuators({
      open: () => {
        throw new Error("ENOENT");
      },
    });
    const ctx = testContext("n1");
    expect(quarantine?.handles(params, ctx).ok).toBe(false);
    const own = NeighbourParams.parse({ ...params, node: "n1" });
    expect(quarantine?.handles(own, ctx).ok).toBe(true);
    await expect(quarantine?.apply(stepOf("quarantine_neighbour", own), ctx) as Promise<unknown>).rejects.toThrow(
      /cannot open the pinned maps of n2-n5 under \/sys\/fs\/bpf\/x0/,
    );
  });

  test("deny - params: MACs normalised, ipv4 any by default, none for non-IPv4 frames, junk refused", () => {
    expect(NeighbourParams.parse({ node: "n1", interface: "eth0", mac: "02:AA:00:00:00:05" })).toMatchObject({ mac: "02:aa:00:00:00:05", ipv4: "any" });
    expect(NeighbourParams.parse({ node: "n1", interface: "eth0", mac: "02:aa:00:00:00:05", ipv4: "none" }).ipv4).toBe("none");
    expect(NeighbourParams.safeParse({ node: "n1", interface: "eth0", mac: "02:aa:00:00:00" }).success).toBe(false);
    expect(NeighbourParams.safeParse({ node: "n1", interface: "../x", mac: "02:aa:00:00:00:05" }).success).toBe(false);
    expect(neighbourActivity(telemetry(3, 1), "n2-n5", { mac: "02:00:00:00:00:05", ipv4: "10.200.0.6" })).toEqual({ packets: 3, dropped: 1 });
    expect(neighbourActivity(telemetry(3, 1), "n2-n5", { mac: "02:00:00:00:00:05", ipv4: null })).toBeUndefined();
  });
});
