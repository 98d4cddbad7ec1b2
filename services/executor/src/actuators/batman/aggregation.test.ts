import { describe, expect, test } from "bun:test";
import { stepOf, testContext } from "../testing.ts";
import { AggregationParams, aggregationActuator, parseEnabled } from "./aggregation.ts";
import { batmanControl } from "./control.ts";
import { useFakeBatman } from "./testing.ts";

const fake = useFakeBatman();

describe("batman_aggregation", () => {
  const ctx = testContext("n1");

  test("batman_aggregation - parses aggregation as batctl prints it; anything else is an error quoting the output", () => {
    expect(parseEnabled("enabled\n")).toBe(true);
    expect(parseEnabled("disabled\n")).toBe(false);
    expect(() => parseEnabled("Error - interface bat0 is not present")).toThrow(/printed "Error - interface bat0 is not present", not enabled or disabled/);
  });

  test("batman_aggregation - off: applied, read back, rolled back to enabled", async () => {
    const aggregation = aggregationActuator(batmanControl({ batctl: fake.batctl }));
    const step = stepOf("batman_aggregation", AggregationParams.parse({ node: "n1", mesh_interface: "bat0", enabled: false }));
    const applied = await aggregation.apply(step, ctx);
    expect(applied.undo).toEqual({ previous: true });
    expect(ctx.journaled.at(-1)?.undo).toEqual({ previous: true });
    expect(applied.detail).toBe("n1: aggregation of bat0 enabled → disabled");
    expect(fake.state().meshif.bat0.aggregated_ogms).toBe(false);
    expect(await aggregation.verify(step, applied, ctx)).toMatchObject({ ok: true, detail: "batctl reads aggregation disabled on bat0 (want disabled)" });
    await aggregation.rollback(step, applied, ctx);
    expect(fake.state().meshif.bat0.aggregated_ogms).toBe(true);
    expect(await aggregation.verify(step, applied, ctx)).toMatchObject({ ok: false, detail: "batctl reads aggregation enabled on bat0 (want disabled)" });
  });

  test('batman_aggregation - `enabled` is a JSON boolean: the string "false" would be true to a coercion, so it is refused', () => {
    expect(AggregationParams.safeParse({ node: "n1", mesh_interface: "bat0", enabled: "false" }).success).toBe(false);
    expect(AggregationParams.safeParse({ node: "n1", mesh_interface: "-bat0", enabled: false }).success).toBe(false);
  });
});
