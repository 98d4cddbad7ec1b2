import { describe, expect, test } from "bun:test";
import type { MeshSettingName } from "@x0/shared";
import { stepOf, testContext } from "../testing.ts";
import type { Actuator, Step } from "../types.ts";
import { AggregationParams, aggregationActuator } from "./aggregation.ts";
import { type BatmanControl, batmanControl } from "./control.ts";
import { HopPenaltyParams, hopPenaltyActuator } from "./hop-penalty.ts";
import { OrigIntervalParams, origIntervalActuator } from "./orig-interval.ts";
import { detailsOf, useFakeBatman, verifyThenRollBack } from "./testing.ts";

const fake = useFakeBatman();

/** One mesh setting changed on n1 and n2 in one batch, then verified and rolled back on one of them. */
interface OverMesh<P> {
  type: Step["type"];
  actuator: (control: BatmanControl) => Actuator<P, unknown>;
  params: (node: string) => P;
  /** The setting as batman-adv's netlink names it, its value before and the one asked for. */
  setting: MeshSettingName;
  from: number;
  to: number;
  details: string[];
  /** The node whose step is verified and rolled back. */
  undone: "n1" | "n2";
}

const overMesh = <P>(row: OverMesh<P>) => ({
  name: `batman settings - with \`mesh\`, ${row.type} of two nodes in one batch is read, set, verified and rolled back over it (no batctl spawn)`,
  run: async () => {
    const calls: string[] = [];
    const actuator = row.actuator(batmanControl({ batctl: fake.nsBatctl, ip: fake.ip, netnsTemplate: "x0-{node}", mesh: fake.mesh(calls) }));
    const steps = ["n1", "n2"].map((node, k) => stepOf(row.type, row.params(node), k));
    const results = await (actuator.applyBatch as NonNullable<typeof actuator.applyBatch>)(steps, testContext("site"));
    expect(detailsOf(results)).toEqual(row.details);
    const kept = row.undone === "n1" ? "n2" : "n1";
    expect(fake.nsState(`x0-${kept}`).meshif.bat0[row.setting]).toBe(row.to);
    expect(await verifyThenRollBack(actuator, steps, results, row.undone === "n1" ? 0 : 1, testContext("site"))).toMatchObject({ ok: true });
    expect(fake.nsState(`x0-${row.undone}`).meshif.bat0[row.setting]).toBe(row.from);
    expect(calls).toEqual([
      `get x0-n1 bat0 ${row.setting}`,
      `get x0-n2 bat0 ${row.setting}`,
      `set x0-n1 bat0 ${row.setting} ${row.to}`,
      `set x0-n2 bat0 ${row.setting} ${row.to}`,
      `get x0-${row.undone} bat0 ${row.setting}`,
      `set x0-${row.undone} bat0 ${row.setting} ${row.from}`,
    ]);
    expect(fake.ipCalls()).toEqual([]);
  },
});

describe("batman settings", () => {
  const cases = [
    overMesh({
      type: "batman_orig_interval",
      actuator: origIntervalActuator,
      params: (node) => OrigIntervalParams.parse({ node, mesh_interface: "bat0", value: 100 }),
      setting: "orig_interval",
      from: 1000,
      to: 100,
      details: ["n1: orig_interval of bat0 1000 ms → 100 ms", "n2: orig_interval of bat0 1000 ms → 100 ms"],
      undone: "n1",
    }),
    overMesh({
      type: "batman_hop_penalty",
      actuator: hopPenaltyActuator,
      params: (node) => HopPenaltyParams.parse({ node, mesh_interface: "bat0", value: 10 }),
      setting: "hop_penalty",
      from: 30,
      to: 10,
      details: ["n1: hop_penalty of bat0 30 → 10", "n2: hop_penalty of bat0 30 → 10"],
      undone: "n1",
    }),
    // OGM aggregation: a boolean as batman-adv's u8 (1 by default).
    overMesh({
      type: "batman_aggregation",
      actuator: aggregationActuator,
      params: (node) => AggregationParams.parse({ node, mesh_interface: "bat0", enabled: false }),
      setting: "aggregated_ogms",
      from: 1,
      to: 0,
      details: ["n1: aggregation of bat0 enabled → disabled", "n2: aggregation of bat0 enabled → disabled"],
      undone: "n2",
    }),
  ];
  for (const { name, run } of cases) test(name, run);
});
