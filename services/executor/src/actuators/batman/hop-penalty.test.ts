import { describe, expect, test } from "bun:test";
import { stepOf, testContext } from "../testing.ts";
import { batmanControl } from "./control.ts";
import { HopPenaltyParams, hopPenaltyActuator } from "./hop-penalty.ts";
import { useFakeBatman } from "./testing.ts";

const fake = useFakeBatman();

describe("batman_hop_penalty", () => {
  const hop = hopPenaltyActuator(batmanControl({ batctl: fake.batctl }));
  const ctx = testContext("n1");

  test("batman_hop_penalty - the mesh interface's penalty: applied, read back, rolled back to the previous value", async () => {
    const step = stepOf("batman_hop_penalty", HopPenaltyParams.parse({ node: "n1", mesh_interface: "bat0", value: "60" }));
    const applied = await hop.apply(step, ctx);
    expect(applied.undo).toEqual({ previous: 30 });
    expect(ctx.journaled.at(-1)?.undo).toEqual({ previous: 30 });
    expect(fake.state().meshif.bat0.hop_penalty).toBe(60);
    expect((await hop.verify(step, applied, ctx)).ok).toBe(true);
    await hop.rollback(step, applied, ctx);
    expect(fake.state().meshif.bat0.hop_penalty).toBe(30);
    expect((await hop.verify(step, applied, ctx)).ok).toBe(false);
  });

  test("batman_hop_penalty - a hard interface's penalty goes through `hardif <if>`", async () => {
    const step = stepOf("batman_hop_penalty", HopPenaltyParams.parse({ node: "n1", mesh_interface: "bat0", interface: "mesh1", value: 100 }));
    const applied = await hop.apply(step, ctx);
    expect(fake.state().hardif.mesh1.hop_penalty).toBe(100);
    expect(fake.state().meshif.bat0.hop_penalty).toBe(30);
    await hop.rollback(step, applied, ctx);
    expect(fake.state().hardif.mesh1.hop_penalty).toBe(0);
  });

  test("batman_hop_penalty - with `mesh`, a hard interface's penalty still goes through batctl (`hardif`)", async () => {
    const calls: string[] = [];
    const penalty = hopPenaltyActuator(batmanControl({ batctl: fake.nsBatctl, ip: fake.ip, netnsTemplate: "x0-{node}", mesh: fake.mesh(calls) }));
    const hardif = stepOf("batman_hop_penalty", HopPenaltyParams.parse({ node: "n1", mesh_interface: "bat0", interface: "primary0", value: 50 }));
    expect((await penalty.apply(hardif, ctx)).detail).toBe("n1: hop_penalty of bat0/primary0 0 → 50");
    expect(fake.ipCalls()).toEqual([
      `netns exec x0-n1 ${fake.nsBatctl} hardif primary0 hop_penalty`,
      `netns exec x0-n1 ${fake.nsBatctl} hardif primary0 hop_penalty 50`,
    ]);
    expect(calls).toEqual([]);
  });

  test("batman_hop_penalty - params are validated: no option-looking interface names, penalty within 0-255, only this node", () => {
    expect(HopPenaltyParams.safeParse({ node: "n1", mesh_interface: "-h", value: 1 }).success).toBe(false);
    expect(HopPenaltyParams.safeParse({ node: "n1", mesh_interface: "bat0", value: 256 }).success).toBe(false);
    expect(hop.handles(HopPenaltyParams.parse({ node: "n2", mesh_interface: "bat0", value: 1 }), ctx).ok).toBe(false);
  });
});
