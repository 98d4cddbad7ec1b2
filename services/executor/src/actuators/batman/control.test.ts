import { describe, expect, test } from "bun:test";
import { stepOf, testContext } from "../testing.ts";
import { aggregationActuator } from "./aggregation.ts";
import { bandwidthUnits, batmanControl, throughputUnits } from "./control.ts";
import { GwModeParams, gwModeActuator } from "./gw-mode.ts";
import { HopPenaltyParams, hopPenaltyActuator } from "./hop-penalty.ts";
import { BatmanInterfaceParams, batmanInterfaceActuator } from "./interface.ts";
import { OrigIntervalParams, origIntervalActuator } from "./orig-interval.ts";
import { useFakeBatman } from "./testing.ts";

const fake = useFakeBatman();

describe("batman control", () => {
  const ctx = testContext("site");
  const inNamespaces = batmanControl({ batctl: fake.nsBatctl, ip: fake.ip, netnsTemplate: "x0-{node}" });

  test("batman control - throughput arguments in batman-adv's 100 kbit/s units, as batctl converts them", () => {
    expect(throughputUnits("10000")).toBe(100);
    expect(throughputUnits("10000kbit")).toBe(100);
    expect(throughputUnits("10MBit")).toBe(100);
    expect(throughputUnits("150")).toBe(1);
    expect(throughputUnits("10 mbit")).toBeUndefined();
    expect(bandwidthUnits("10000/2000")).toEqual({ down: 100, up: 20 });
    expect(bandwidthUnits("10mbit")).toEqual({ down: 100 });
    expect(bandwidthUnits("10mbit/2mbit/1")).toBeUndefined();
  });

  test("batman control - a failing batctl is an error naming the command, and the value is unchanged", async () => {
    const failing = hopPenaltyActuator(batmanControl({ batctl: fake.failingBatctl }));
    const step = stepOf("batman_hop_penalty", HopPenaltyParams.parse({ node: "n1", mesh_interface: "bat0", value: 60 }));
    await expect(failing.apply(step, testContext("n1"))).rejects.toThrow(/hop_penalty 60 exited 1: Error - hop_penalty: Operation not permitted/);
    expect(fake.state().meshif.bat0.hop_penalty).toBe(30);
  });

  test("batman control - with a namespace template, batctl runs as `ip netns exec <ns> batctl ...` for the step's node", async () => {
    const hop = hopPenaltyActuator(inNamespaces);
    const step = stepOf("batman_hop_penalty", HopPenaltyParams.parse({ node: "n2", mesh_interface: "bat0", value: 60 }));
    expect(hop.handles(step.params, ctx)).toEqual({ ok: true });
    const applied = await hop.apply(step, ctx);
    expect(applied.detail).toBe("n2: hop_penalty of bat0 30 → 60");
    expect(fake.ipCalls()).toEqual([
      `netns exec x0-n2 ${fake.nsBatctl} meshif bat0 hop_penalty`,
      `netns exec x0-n2 ${fake.nsBatctl} meshif bat0 hop_penalty 60`,
    ]);
    expect(fake.nsState("x0-n2").meshif.bat0.hop_penalty).toBe(60);
    expect(fake.nsState("x0-n1").meshif.bat0.hop_penalty).toBe(30);

    fake.clearIpCalls();
    const iface = batmanInterfaceActuator(inNamespaces);
    const down = stepOf("batman_interface", BatmanInterfaceParams.parse({ node: "n2", mesh_interface: "bat0", interface: "v23", state: "inactive" }));
    const removed = await iface.apply(down, ctx);
    expect(fake.ipCalls()).toEqual([
      `netns exec x0-n2 ${fake.nsBatctl} meshif bat0 interface`,
      `netns exec x0-n2 ${fake.nsBatctl} meshif bat0 interface del v23`,
    ]);
    expect(fake.nsState("x0-n2").meshif.bat0.interfaces).toEqual(["primary0", "v21"]);
    await iface.rollback(down, removed, ctx);
    expect(fake.nsState("x0-n2").meshif.bat0.interfaces).toEqual(["primary0", "v21", "v23"]);

    const interval = origIntervalActuator(inNamespaces);
    const it = stepOf("batman_orig_interval", OrigIntervalParams.parse({ node: "n1", mesh_interface: "bat0", value: 500 }));
    expect((await interval.verify(it, await interval.apply(it, ctx), ctx)).ok).toBe(true);
    expect(fake.nsState("x0-n1").meshif.bat0.orig_interval).toBe(500);
    const gw = gwModeActuator(inNamespaces);
    const mode = stepOf("batman_gw_mode", GwModeParams.parse({ node: "n1", mesh_interface: "bat0", mode: "client" }));
    expect((await gw.verify(mode, await gw.apply(mode, ctx), ctx)).ok).toBe(true);
    expect(fake.nsState("x0-n1").meshif.bat0.gw_mode).toBe("client");
    expect(fake.ipCalls().every((line) => line.startsWith("netns exec x0-n"))).toBe(true);
  });

  test("batman control - detaching interfaces, OGM intervals, hop penalties and aggregation share a concurrency group (a repair applies them at once); gw_mode waits its turn", () => {
    const control = batmanControl({ batctl: fake.nsBatctl });
    const [hop, iface, interval, gw, aggregation] = [
      hopPenaltyActuator(control),
      batmanInterfaceActuator(control),
      origIntervalActuator(control),
      gwModeActuator(control),
      aggregationActuator(control),
    ];
    expect(iface.concurrencyGroup).toBeString();
    expect(interval.concurrencyGroup).toBe(iface.concurrencyGroup as string);
    expect(hop.concurrencyGroup).toBe(iface.concurrencyGroup as string);
    expect(hop.concurrencyGroup).toBe(interval.concurrencyGroup as string);
    expect(aggregation.concurrencyGroup).toBe(iface.concurrencyGroup as string);
    expect(gw.concurrencyGroup).toBeUndefined();
  });

  test("batman control - which nodes an executor acts for: own node without a template, any with `{node}` in it", () => {
    const params = HopPenaltyParams.parse({ node: "n2", mesh_interface: "bat0", value: 1 });
    const own = HopPenaltyParams.parse({ node: "site", mesh_interface: "bat0", value: 1 });
    const host = hopPenaltyActuator(batmanControl({ batctl: fake.nsBatctl }));
    expect(host.handles(params, ctx)).toMatchObject({ ok: false, reason: expect.stringContaining("without X0_EXECUTOR_NETNS") });
    expect(host.handles(own, ctx)).toEqual({ ok: true });
    const fixed = hopPenaltyActuator(batmanControl({ batctl: fake.nsBatctl, ip: fake.ip, netnsTemplate: "x0-site" }));
    expect(fixed.handles(params, ctx)).toMatchObject({ ok: false, reason: expect.stringContaining("has no {node}") });
    expect(fixed.handles(own, ctx)).toEqual({ ok: true });
  });

  test("batman control - a namespace name that is not valid is refused before anything runs", async () => {
    const hop = hopPenaltyActuator(inNamespaces);
    // Node ids may be 64 characters; with the prefix the namespace name would be longer than `ip netns` takes.
    const step = stepOf("batman_hop_penalty", HopPenaltyParams.parse({ node: "n".repeat(64), mesh_interface: "bat0", value: 1 }));
    await expect(hop.apply(step, ctx)).rejects.toThrow(/namespace "x0-n+" from X0_EXECUTOR_NETNS is not a valid name/);
    expect(fake.ipCalls()).toEqual([]);
  });
});
