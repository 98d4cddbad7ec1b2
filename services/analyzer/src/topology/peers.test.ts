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
});
