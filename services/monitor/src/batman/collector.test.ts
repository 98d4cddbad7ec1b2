// The collector runs against a fake batctl on PATH that prints real recorded output: this kernel has no batman-adv module.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BatctlError, collectBatman, collectBatmanMesh } from "./collector.ts";
import { fixtureBlocks } from "./fixtures/fixture.ts";

const dir = mkdtempSync(join(tmpdir(), "x0-batctl-"));
const blocks = fixtureBlocks();
writeFileSync(join(dir, "oj.json"), blocks.get("n2 batctl meshif bat0 oj") ?? "");
writeFileSync(join(dir, "nj.json"), blocks.get("n2 batctl meshif bat0 nj") ?? "");
const lab = fixtureBlocks("lab-2x3.txt");
writeFileSync(join(dir, "mj.json"), lab.get("n1 batctl meshif bat0 mj") ?? "");
writeFileSync(join(dir, "interface.txt"), lab.get("n1 batctl meshif bat0 interface") ?? "");
// Answers like batctl 2023.0 for bat0 only, and fails like it for an unknown mesh interface.
const script = `#!/bin/sh
[ "$1" = meshif ] && [ "$2" = bat0 ] || { echo "Error - interface $2 is not present or not a batman-adv interface" >&2; exit 1; }
case "$3" in oj) cat ${JSON.stringify(join(dir, "oj.json"))};; nj) cat ${JSON.stringify(join(dir, "nj.json"))};;
  mj) cat ${JSON.stringify(join(dir, "mj.json"))};; interface) cat ${JSON.stringify(join(dir, "interface.txt"))};; *) exit 1;; esac
`;
writeFileSync(join(dir, "batctl"), script);
chmodSync(join(dir, "batctl"), 0o755);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("batman collector", () => {
  test("batman collector - reads originators and neighbours through batctl", async () => {
    const sample = await collectBatman({ meshInterface: "bat0", batctl: join(dir, "batctl") });
    expect(sample.mesh_interface).toBe("bat0");
    expect(sample.originators).toHaveLength(6);
    expect(sample.originators.find((o) => o.originator === "c2:2d:43:4d:db:f3")).toMatchObject({ next_hop: "c2:2d:43:4d:db:f3", tq: 110, best: true });
    expect(sample.neighbours).toHaveLength(3);
  });

  test("batman collector - reads the mesh's originator address and hard interfaces for the announcement", async () => {
    const mesh = await collectBatmanMesh({ meshInterface: "bat0", batctl: join(dir, "batctl") });
    expect(mesh).toEqual({
      mesh_interface: "bat0",
      originator: JSON.parse(lab.get("n1 batctl meshif bat0 mj") ?? "{}").hard_address,
      hard_interfaces: ["n1-n2", "n1-n4", "primary0"],
    });
  });

  test("batman collector - a failing batctl is a BatctlError naming the command", async () => {
    const error = await collectBatman({ meshInterface: "bat9", batctl: join(dir, "batctl") }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BatctlError);
    expect((error as Error).message).toContain("not present or not a batman-adv interface");
  });
});
