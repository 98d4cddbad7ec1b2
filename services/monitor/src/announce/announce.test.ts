import { describe, expect, test } from "bun:test";
import { createLogger, NodeAnnouncement, type Telemetry } from "@x0/shared";
import { AddressCache, type AnnouncedMesh, announcement, readAddresses, TopologyAnnouncer } from "./announce.ts";

describe("announcement", () => {
  test("announce - interfaces carry their MAC and IPv4/prefix, and the result satisfies NodeAnnouncement", () => {
    const counters = { rx_bytes: 0, tx_bytes: 0, rx_packets: 0, tx_packets: 0, rx_errors: 0, tx_errors: 0, rx_dropped: 0, tx_dropped: 0 };
    const announced = announcement({
      node: "n1",
      interfaces: [
        { name: "n1-n2", operstate: "up", counters },
        { name: "gone", operstate: "down", counters },
      ],
      ebpf: true,
      serviceAddress: "10.255.0.1",
      probePort: 7471,
      addresses: new Map([["n1-n2", { mac: "02:00:00:00:00:01", ipv4: ["10.200.0.1/30"] }]]),
    });
    expect(announced.interfaces).toEqual([
      { name: "n1-n2", operstate: "up", xdp: "off", mac: "02:00:00:00:00:01", ipv4: ["10.200.0.1/30"] },
      { name: "gone", operstate: "down", xdp: "off", mac: null, ipv4: [] },
    ]);
    expect(NodeAnnouncement.safeParse({ ...announced, updated_at: 1 }).success).toBe(true);
  });

  test("announce - a batman-adv node announces its mesh, with the mesh interface's address", () => {
    const counters = { rx_bytes: 0, tx_bytes: 0, rx_packets: 0, tx_packets: 0, rx_errors: 0, tx_errors: 0, rx_dropped: 0, tx_dropped: 0 };
    const base = {
      node: "n2",
      interfaces: [{ name: "n2-n1", operstate: "up" as const, counters }],
      ebpf: true,
      serviceAddress: "10.255.0.2",
      probePort: 7471,
      addresses: new Map([
        ["n2-n1", { mac: "02:00:00:00:00:02", ipv4: ["10.200.0.2/30"] }],
        ["bat0", { mac: "02:00:00:00:00:b0", ipv4: ["10.255.0.2/16"] }],
      ]),
    };
    const batman = { mesh_interface: "bat0", originator: "02:00:00:00:00:99", hard_interfaces: ["n2-n1", "primary0"] };
    const announced = announcement({ ...base, batman });
    expect(announced.batman).toEqual({ ...batman, address: "10.255.0.2/16" });
    expect(NodeAnnouncement.safeParse({ ...announced, updated_at: 1 }).success).toBe(true);
    expect(announcement(base).batman).toBeUndefined();
    expect(announcement({ ...base, batman: { ...batman, mesh_interface: "bat9" } }).batman?.address).toBeNull();
  });

  test("announce - reads this namespace's addresses with prefixes", () => {
    const addresses = readAddresses();
    for (const { ipv4 } of addresses.values()) for (const cidr of ipv4) expect(cidr).toMatch(/^\d+\.\d+\.\d+\.\d+\/\d+$/);
  });

  test("announce - addresses are re-read when the interfaces change or every refresh, not every sample", () => {
    let reads = 0;
    let address = "10.200.0.1/30";
    const cache = new AddressCache(5000, () => {
      reads += 1;
      return new Map([["n1-n2", { mac: "02:00:00:00:00:01", ipv4: [address] }]]);
    });
    cache.get("n1-n2:up", 0);
    for (let t = 100; t < 5000; t += 100) cache.get("n1-n2:up", t);
    expect(reads).toBe(1);
    expect(cache.version).toBe(1);
    cache.get("n1-n2:down", 5050);
    expect(reads).toBe(2);
    expect(cache.version).toBe(1); // same addresses: nothing to announce again
    address = "10.200.0.5/30";
    expect(cache.get("n1-n2:down", 10_100).get("n1-n2")?.ipv4).toEqual(["10.200.0.5/30"]);
    expect(cache.version).toBe(2);
  });

  test("announce - the announcer writes once per change of interfaces, addresses, eBPF or mesh, and again after a failed write", async () => {
    const counters = { rx_bytes: 0, tx_bytes: 0, rx_packets: 0, tx_packets: 0, rx_errors: 0, tx_errors: 0, rx_dropped: 0, tx_dropped: 0 };
    const sample = (operstate: "up" | "down", ebpf = false, ts = 1000): Telemetry => ({
      v: 1,
      node: "n1",
      ts,
      seq: 0,
      interval_ms: 100,
      source: "sysfs",
      ebpf,
      interfaces: [{ name: "n1-n2", operstate, counters }],
    });
    let addresses = new Map([["n1-n2", { mac: "02:00:00:00:00:01", ipv4: ["10.200.0.1/30"] }]]);
    let mesh: AnnouncedMesh;
    const written: NodeAnnouncement[] = [];
    let failNext = false;
    const announcer = new TopologyAnnouncer({
      node: "n1",
      serviceAddress: null,
      probePort: 7471,
      mesh: () => mesh,
      write: async (announced) => {
        if (failNext) {
          failNext = false;
          throw new Error("kv down");
        }
        written.push(announced);
      },
      logger: createLogger({ service: "monitor-test", node: "n1", level: "error" }),
      addresses: new AddressCache(0, () => addresses),
      now: () => 42,
    });
    announcer.update(sample("up"));
    announcer.update(sample("up", false, 1100));
    expect(written.map((a) => [a.interfaces[0]?.operstate, a.updated_at])).toEqual([["up", 42]]);
    announcer.update(sample("down"));
    announcer.update(sample("down", true));
    addresses = new Map([["n1-n2", { mac: "02:00:00:00:00:01", ipv4: ["10.200.0.5/30"] }]]);
    announcer.update(sample("down", true));
    mesh = { mesh_interface: "bat0", originator: "02:00:00:00:00:01", hard_interfaces: ["n1-n2"] };
    announcer.update(sample("down", true));
    expect(written.map((a) => [a.interfaces[0]?.operstate, a.ebpf, a.interfaces[0]?.ipv4[0], a.batman?.mesh_interface])).toEqual([
      ["up", false, "10.200.0.1/30", undefined],
      ["down", false, "10.200.0.1/30", undefined],
      ["down", true, "10.200.0.1/30", undefined],
      ["down", true, "10.200.0.5/30", undefined],
      ["down", true, "10.200.0.5/30", "bat0"],
    ]);
    failNext = true;
    mesh = undefined;
    announcer.update(sample("down", true));
    await Bun.sleep(0);
    announcer.update(sample("down", true));
    expect(written).toHaveLength(6);
    expect(written.every((a) => NodeAnnouncement.safeParse(a).success)).toBe(true);
  });
});
