import { describe, expect, test } from "bun:test";
import { announce } from "../testing/mesh-sim.ts";
import { hostOf, PeerDirectory } from "./peers.ts";

describe("peers", () => {
  const directory = new PeerDirectory();
  directory.upsert(announce("n1", [["n1-n2", "10.200.0.1/30"]], "10.255.0.1"));
  directory.upsert(announce("n2", [["n2-n1", "10.200.0.2/30"]], "10.255.0.2"));

  test("peers - a probed link address maps to the link between the two nodes", () => {
    expect(hostOf("10.200.0.2:7471")).toBe("10.200.0.2");
    expect(directory.resolvePeer("n1", "10.200.0.2:7471")).toEqual({
      target: { type: "link", id: "link:n1|n2", nodes: ["n1", "n2"], interfaces: ["n1-n2", "n2-n1"] },
      peerNode: "n2",
      localInterface: "n1-n2",
    });
    // From the other end (and by service address) it is the same link.
    expect(directory.resolvePeer("n2", "10.255.0.1:7471").target.id).toBe("link:n1|n2");
  });

  test("peers - an unknown address is a link of the observer to that address", () => {
    expect(directory.resolvePeer("n1", "10.9.9.9:7471")).toEqual({ target: { type: "link", id: "link:n1|10.9.9.9", nodes: ["n1"] } });
  });

  test("peers - interfaces map to their link, or stay interfaces", () => {
    expect(directory.resolveInterface("n2", "n2-n1").target.id).toBe("link:n1|n2");
    expect(directory.resolveInterface("n2", "mesh0").target).toEqual({ type: "interface", id: "interface:n2/mesh0", nodes: ["n2"], interfaces: ["mesh0"] });
    expect(directory.linksOf("n1").map((l) => l.id)).toEqual(["link:n1|n2"]);
    const removed = new PeerDirectory();
    removed.upsert(announce("n1", [["n1-n2", "10.200.0.1/30"]], "10.255.0.1"));
    removed.remove("n1");
    expect(removed.nodeOf("10.255.0.1")).toBeUndefined();
  });

  test("peers - a batman-adv neighbour MAC maps to the link of the node owning it, the same id the probes use", () => {
    const withMacs = (node: string, iface: string, cidr: string, mac: string, hard: string[]) => {
      const announcement = announce(node, [[iface, cidr]], "");
      return {
        ...announcement,
        interfaces: announcement.interfaces.map((i) => ({ ...i, mac })),
        batman: { mesh_interface: "bat0", originator: mac, hard_interfaces: hard },
      };
    };
    const mesh = new PeerDirectory();
    mesh.upsert(withMacs("n1", "v12", "10.200.0.1/30", "1e:a9:2d:ea:81:f5", ["v12"]));
    mesh.upsert(withMacs("n2", "v21", "10.200.0.2/30", "42:93:28:47:96:b3", ["v21"]));
    expect(mesh.resolveBatmanNeighbour("n1", "v12", "42:93:28:47:96:b3")).toEqual({
      target: { type: "link", id: "link:n1|n2", nodes: ["n1", "n2"], interfaces: ["v12", "v21"] },
      peerNode: "n2",
      localInterface: "v12",
    });
    expect(mesh.resolveBatmanNeighbour("n2", "v21", "1e:a9:2d:ea:81:f5").target.id).toBe(mesh.resolvePeer("n2", "10.200.0.1:7471").target.id);
    // Hard interfaces without addresses: no announced link, but the MACs still name both ends.
    const bare = new PeerDirectory();
    bare.upsert(withMacs("n3", "v34", "10.9.0.3/24", "2a:36:58:d8:91:4f", ["v34"]));
    bare.upsert(withMacs("n4", "v43", "10.9.0.4/24", "c2:73:38:cf:1a:fe", ["v43"]));
    expect(bare.resolveBatmanNeighbour("n4", "v43", "2a:36:58:d8:91:4f").target).toEqual({
      type: "link",
      id: "link:n3|n4",
      nodes: ["n3", "n4"],
      interfaces: ["v34", "v43"],
    });
    // A MAC no node announces is a link of the observer to that MAC.
    expect(mesh.resolveBatmanNeighbour("n1", "v12", "02:00:00:00:00:09").target).toEqual({
      type: "link",
      id: "link:n1|02:00:00:00:00:09",
      nodes: ["n1"],
      interfaces: ["v12"],
    });
    // Detached hard interfaces, on either end, are out of the mesh; a node announcing no mesh does not say.
    expect(mesh.batmanAttached("n1", "v12", "42:93:28:47:96:b3")).toBe(true);
    mesh.upsert(withMacs("n2", "v21", "10.200.0.2/30", "42:93:28:47:96:b3", []));
    expect(mesh.batmanAttached("n1", "v12", "42:93:28:47:96:b3")).toBe(false);
    expect(mesh.batmanAttached("n2", "v21", "1e:a9:2d:ea:81:f5")).toBe(false);
    expect(directory.batmanAttached("n1", "n1-n2", "02:00:00:00:00:09")).toBe(true);
  });
});
