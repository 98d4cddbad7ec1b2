// batman-adv for real (root, a kernel with batman-adv: test/batman.vm.test.ts runs this file inside a VM that has it): a lab
// routed by batman-adv, the whole loop on it, and assertions on what batctl and probe traffic show.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { BATMAN_MESH_INTERFACE, type LabLinkCosts, LabProber, linkBetween, nodeOf, type ProbeEvent, setLinkLoss } from "@x0/lab";
import {
  Buckets,
  batadvMesh,
  NetlinkSockets,
  NodeAnnouncement,
  openBucket,
  parseBatctlInterfaces,
  parseBatctlMesh,
  parseBatctlNeighbours,
  parseBatctlOriginators,
  rtnetlinkMasters,
  slavesOf,
  type Telemetry,
} from "@x0/shared";
import { recordEvents, waitFor } from "@x0/shared/testing";
import { aggregationActuator, batmanControl, hopPenaltyActuator } from "../services/executor/src/actuators/batman/mod.ts";
import { batmanRequired, batmanSkipReason } from "./batman-env.ts";
import { type HealLab, inVm, startHealLab, VM_PROFILE } from "./lab-stack.ts";

const skipReason = batmanSkipReason();
if (skipReason !== null && batmanRequired) throw new Error(`batman-adv tests were asked for (X0_REQUIRE_BATMAN=1) but cannot run: ${skipReason}`);
if (skipReason !== null) process.stderr.write(`batman.netns.test.ts: skipped: ${skipReason}\n`);
const runnable = skipReason === null;

// In a TCG VM everything is ~40× slower than on the host: the lab runs with the VM profile.
const slow = inVm;
const START_MS = slow ? VM_PROFILE.startTimeoutMs : 30_000;
const common: Record<string, string> = slow ? { ...VM_PROFILE.common } : {};
const monitorEnv: Record<string, string> = slow ? { ...VM_PROFILE.common, ...VM_PROFILE.monitor } : {};
const serviceEnv: Record<string, Record<string, string>> = slow ? { analyzer: { ...VM_PROFILE.analyzer } } : {};

/** batctl in a node's namespace, JSON output parsed. */
function batctlJson<T>(lab: HealLab, node: string, ...args: string[]): T {
  return JSON.parse(batctlText(lab, node, ...args)) as T;
}

/** What `batctl meshif bat0 <args>` prints in a node's namespace, trimmed. */
function batctlText(lab: HealLab, node: string, ...args: string[]): string {
  const result = Bun.spawnSync(["ip", "netns", "exec", nodeOf(lab.plan, node).netns, "batctl", "meshif", BATMAN_MESH_INTERFACE, ...args], {
    stdout: "pipe",
    stderr: "pipe",
  });
  if (result.exitCode !== 0) throw new Error(`batctl ${args.join(" ")} in ${node}: ${result.stderr.toString()}`);
  return result.stdout.toString().trim();
}

/** Hard interfaces attached to a node's bat0 now. */
function hardInterfaces(lab: HealLab, node: string): string[] {
  const result = Bun.spawnSync(["ip", "netns", "exec", nodeOf(lab.plan, node).netns, "batctl", "meshif", BATMAN_MESH_INTERFACE, "interface"], {
    stdout: "pipe",
  });
  return result.stdout
    .toString()
    .split("\n")
    .flatMap((line) => /^(\S+):/.exec(line)?.[1] ?? []);
}

/** Every node's announcement, once each names its batman-adv originator. */
async function announcements(lab: HealLab): Promise<Map<string, NodeAnnouncement>> {
  const kv = await openBucket(lab.nc, Buckets.topology);
  const found = new Map<string, NodeAnnouncement>();
  await waitFor(
    "every node to announce its batman-adv originator",
    async () => {
      for (const node of lab.plan.nodes) {
        const entry = await kv.get(`node.${node.name}`);
        if (!entry?.value?.length) continue;
        const parsed = NodeAnnouncement.safeParse(JSON.parse(new TextDecoder().decode(entry.value)));
        if (parsed.success && parsed.data.batman) found.set(node.name, parsed.data);
      }
      return found.size === lab.plan.nodes.length;
    },
    START_MS,
    250,
  );
  return found;
}

/** Waits until every node's telemetry shows a best route with TQ > 0 to every other node's originator. */
async function tqReachesTelemetry(lab: HealLab): Promise<Map<string, Telemetry>> {
  const announced = await announcements(lab);
  const loop = await recordEvents(lab.nc, { telemetry: true });
  try {
    await waitFor(
      "TQ to every originator in every node's telemetry",
      () =>
        lab.plan.nodes.every((node) => {
          const batman = loop.telemetry.get(node.name)?.message.batman;
          if (!batman || batman.error) return false;
          return lab.plan.nodes
            .filter((other) => other.name !== node.name)
            .every((other) => {
              const originator = announced.get(other.name)?.batman?.originator;
              return batman.originators.some((o) => o.originator === originator && o.best && o.tq > 0);
            });
        }),
      START_MS,
      250,
    );
  } finally {
    await loop.stop();
  }
  return new Map([...loop.telemetry].flatMap(([node, { message }]) => (message.batman ? [[node, message]] : [])));
}

/** A batman lab with monitors and NATS only: TQ, announcements and the actuators need nothing more. */
function monitorsOnlyLab(topology: string, prefix: string, linkCosts: LabLinkCosts = "equal"): Promise<HealLab> {
  return startHealLab({
    topology,
    prefix: `${prefix}${process.pid % 10_000}`,
    routing: "batman",
    linkCosts,
    services: [],
    monitorEnv,
    env: common,
    startTimeoutMs: START_MS,
  });
}

describe.skipIf(!runnable)("batman-adv lab", () => {
  describe("line:3", () => {
    let lab: HealLab;
    beforeAll(async () => {
      lab = await monitorsOnlyLab("line:3", "x0bl");
    }, 2 * START_MS);
    afterAll(async () => lab?.stop(), 60_000);

    test(
      "batman line:3 - TQ values reach telemetry, and the announcements name each node's originator and hard interfaces",
      async () => {
        const latest = await tqReachesTelemetry(lab);
        const announced = await announcements(lab);
        expect(announced.get("n2")?.batman).toMatchObject({ mesh_interface: "bat0", hard_interfaces: ["n2-n1", "n2-n3", "primary0"] });
        expect(announced.get("n2")?.batman?.address).toBe(`${nodeOf(lab.plan, "n2").serviceAddress}/16`);
        // n1 reaches n3 through n2: its best route's next hop is an interface MAC of n2.
        const n3 = announced.get("n3")?.batman?.originator;
        const route = latest.get("n1")?.batman?.originators.find((o) => o.originator === n3 && o.best);
        const n2Macs = announced.get("n2")?.interfaces.map((i) => i.mac);
        expect(n2Macs).toContain(route?.next_hop);
      },
      2 * START_MS,
    );
  });

  describe("grid:2x3", () => {
    let lab: HealLab;
    beforeAll(async () => {
      // Distinct link costs, as bench:batman runs it: n1|n2 2, n1|n4 4, n2|n3 6, n2|n5 8, n3|n6 10, n4|n5 12, n5|n6 14.
      lab = await monitorsOnlyLab("grid:2x3", "x0bg", "distinct");
    }, 2 * START_MS);
    afterAll(async () => lab?.stop(), 60_000);

    test(
      "batman grid:2x3 - TQ values reach telemetry",
      async () => {
        await tqReachesTelemetry(lab);
      },
      2 * START_MS,
    );

    test(
      "batman grid:2x3 - with distinct link costs each hard interface has its link's hop penalty, and batman-adv takes the cheapest path",
      async () => {
        const hardifPenalty = (node: string, iface: string) => {
          const result = Bun.spawnSync(["ip", "netns", "exec", nodeOf(lab.plan, node).netns, "batctl", "hardif", iface, "hop_penalty"], { stdout: "pipe" });
          return Number(result.stdout.toString().trim());
        };
        for (const link of lab.plan.links) {
          expect(hardifPenalty(link.a.node, link.a.interface)).toBe(link.hopPenalty);
          expect(hardifPenalty(link.b.node, link.b.interface)).toBe(link.hopPenalty);
        }
        // Three 3-hop paths from n1 to n6; n1→n2→n3→n6 costs 2 + 6 + 10, the others 2 + 8 + 14 and 4 + 12 + 14. No tie:
        // every node on it routes to n6 over the next one.
        const n6 = batctlJson<{ hard_address: string }>(lab, "n6", "mj").hard_address;
        const nextHopTo = (node: string) =>
          batctlJson<{ orig_address: string; hard_ifname: string; best?: boolean }[]>(lab, node, "oj").find((o) => o.orig_address === n6 && o.best)
            ?.hard_ifname;
        await waitFor("n1 → n6 over n2 and n3", () => nextHopTo("n1") === "n1-n2" && nextHopTo("n2") === "n2-n3" && nextHopTo("n3") === "n3-n6", START_MS, 500);
      },
      2 * START_MS,
    );

    test(
      "batman grid:2x3 - hop_penalty and OGM aggregation are applied, verified and rolled back on the real mesh through batctl",
      async () => {
        const penalty = hopPenaltyActuator(batmanControl({ netnsTemplate: `${lab.plan.prefix}-{node}` }));
        const params = { node: "n2", mesh_interface: "bat0", interface: "n2-n1", value: 200 };
        const read = () => {
          const result = Bun.spawnSync(["ip", "netns", "exec", nodeOf(lab.plan, "n2").netns, "batctl", "hardif", "n2-n1", "hop_penalty"], { stdout: "pipe" });
          return Number(result.stdout.toString().trim());
        };
        const before = read();
        expect(before).not.toBe(200);
        const step = { index: 0, type: "batman_hop_penalty" as const, params, reason: "test" };
        const applied = await penalty.apply(step, { node: "site", beforeChange: async () => {} } as never);
        expect(read()).toBe(200);
        const verified = await penalty.verify(step, applied, {} as never);
        expect(verified.ok).toBe(true);
        await penalty.rollback(step, applied, {} as never);
        expect(read()).toBe(before);

        // OGM aggregation through the real batctl: it prints enabled/disabled and takes 0/1.
        const aggregation = aggregationActuator(batmanControl({ netnsTemplate: `${lab.plan.prefix}-{node}` }));
        const off = { index: 0, type: "batman_aggregation" as const, params: { node: "n2", mesh_interface: "bat0", enabled: false }, reason: "test" };
        const aggregationNow = () => batctlText(lab, "n2", "aggregation");
        expect(aggregationNow()).toBe("enabled");
        const turnedOff = await aggregation.apply(off, { node: "site", beforeChange: async () => {} } as never);
        expect(turnedOff.undo).toEqual({ previous: true });
        expect(aggregationNow()).toBe("disabled");
        expect((await aggregation.verify(off, turnedOff, {} as never)).ok).toBe(true);
        await aggregation.rollback(off, turnedOff, {} as never);
        expect(aggregationNow()).toBe("enabled");
      },
      START_MS,
    );

    test(
      "batman grid:2x3 - in process over netlink: a hard interface leaves bat0 and comes back, the OGM interval, hop penalty and aggregation are set and restored, and the tables read as batctl prints them",
      async () => {
        const sockets = new NetlinkSockets();
        try {
          const netns = nodeOf(lab.plan, "n2").netns;
          const masters = rtnetlinkMasters(sockets);
          const mesh = batadvMesh(sockets, masters);
          const batctlRead = (...args: string[]) =>
            Bun.spawnSync(["ip", "netns", "exec", netns, "batctl", "meshif", "bat0", ...args], { stdout: "pipe" }).stdout.toString();
          expect(slavesOf(masters.links(netns), "bat0")).toContain("n2-n1");
          masters.setMaster(netns, "n2-n1", null);
          expect(batctlRead("interface")).not.toContain("n2-n1");
          expect(slavesOf(masters.links(netns), "bat0")).not.toContain("n2-n1");
          masters.setMaster(netns, "n2-n1", "bat0");
          expect(batctlRead("interface")).toContain("n2-n1");

          // The OGM interval (u32) and the mesh's hop penalty (u8), each set and restored as batctl reads them.
          for (const [setting, value] of [
            ["orig_interval", 250],
            ["hop_penalty", 10],
          ] as const) {
            const before = mesh.get(netns, "bat0", setting);
            expect(before).toBe(Number(batctlRead(setting).trim()));
            mesh.set(netns, "bat0", setting, value);
            expect(batctlRead(setting).trim()).toBe(String(value));
            expect(mesh.get(netns, "bat0", setting)).toBe(value);
            mesh.set(netns, "bat0", setting, before);
            expect(Number(batctlRead(setting).trim())).toBe(before);
          }
          // OGM aggregation (a u8 used as a boolean), which batctl prints as enabled/disabled.
          expect(mesh.get(netns, "bat0", "aggregated_ogms")).toBe(1);
          expect(batctlRead("aggregation").trim()).toBe("enabled");
          mesh.set(netns, "bat0", "aggregated_ogms", 0);
          expect(batctlRead("aggregation").trim()).toBe("disabled");
          expect(mesh.get(netns, "bat0", "aggregated_ogms")).toBe(0);
          mesh.set(netns, "bat0", "aggregated_ogms", 1);
          expect(batctlRead("aggregation").trim()).toBe("enabled");
          expect(() => mesh.get(netns, "bat7", "orig_interval")).toThrow(/has no mesh interface bat7/);

          // The tables the monitor reads: the same routes, neighbours and mesh facts as batctl prints. n2-n1 was just
          // attached again, so its neighbour, routes and status may change between two reads: compare until they agree.
          const agree = async (read: () => [string[], string[]]) => {
            let last: [string[], string[]] = [[], []];
            for (let attempt = 0; attempt < 20; attempt++) {
              last = read();
              if (last[0].length > 0 && JSON.stringify(last[0]) === JSON.stringify(last[1])) return last;
              await Bun.sleep(250);
            }
            return last;
          };
          const routes = (entries: { originator: string; next_hop: string; interface: string; best: boolean }[]) =>
            entries.map((e) => `${e.originator} via ${e.next_hop} on ${e.interface}${e.best ? " best" : ""}`).sort();
          const [routesOverNetlink, routesOverBatctl] = await agree(() => [
            routes(mesh.originators(netns, "bat0")),
            routes(parseBatctlOriginators(batctlRead("oj"))),
          ]);
          expect(routesOverNetlink).toEqual(routesOverBatctl);
          const neighbours = (entries: { neighbour: string; interface: string }[]) => entries.map((n) => `${n.neighbour} on ${n.interface}`).sort();
          const [neighboursOverNetlink, neighboursOverBatctl] = await agree(() => [
            neighbours(mesh.neighbours(netns, "bat0")),
            neighbours(parseBatctlNeighbours(batctlRead("nj"))),
          ]);
          expect(neighboursOverNetlink).toEqual(neighboursOverBatctl);
          const facts = mesh.facts(netns, "bat0");
          const mj = parseBatctlMesh(batctlRead("mj"));
          expect([facts.originator, facts.primaryInterface]).toEqual([mj.originator, mj.primaryInterface]);
          const statuses = (listing: Map<string, string>) => [...listing].map(([name, status]) => `${name}: ${status}`).sort();
          const overNetlinkStatus = () => new Map([...mesh.hardInterfaces(netns, "bat0")].map(([name, active]) => [name, active ? "active" : "inactive"]));
          const [statusOverNetlink, statusOverBatctl] = await agree(() => [
            statuses(overNetlinkStatus()),
            statuses(parseBatctlInterfaces(batctlRead("interface"))),
          ]);
          expect(statusOverNetlink).toEqual(statusOverBatctl);
          expect([...facts.hardInterfaces.keys()].sort()).toEqual([...overNetlinkStatus().keys()].sort());
        } finally {
          sockets.close();
        }
      },
      START_MS,
    );
  });
  // The whole loop on a ring of four (two paths between n1 and n3): fewer monitors than the grid, which matters in a VM.
  describe("ring:4", () => {
    let lab: HealLab;
    beforeAll(async () => {
      lab = await startHealLab({
        topology: "ring:4",
        prefix: `x0br${process.pid % 10_000}`,
        routing: "batman",
        monitorEnv,
        env: common,
        serviceEnv,
        startTimeoutMs: START_MS,
      });
    }, 2 * START_MS);
    afterAll(async () => lab?.stop(), 60_000);

    test(
      "batman ring:4 - a cut link is detected, its hard interfaces are removed from bat0, probe traffic resumes over the other path, and the mesh settings come back after",
      async () => {
        const announced = await announcements(lab);
        const events: ProbeEvent[] = [];
        const prober = new LabProber({
          plan: lab.plan,
          intervalMs: slow ? VM_PROFILE.proberIntervalMs : 10,
          summaryMs: 1000,
          onEvent: (event) => events.push(event),
        });
        // What the loop said, for the failure message: a wait that times out shows what happened instead.
        const loop = await recordEvents(lab.nc);
        const started = Date.now();
        const explain = (error: unknown): never => {
          throw new Error(`${(error as Error).message}\nwhat the loop said:\n${loop.describe(started).join("\n")}`);
        };
        try {
          await prober.start("n1", "n3");
          // Steady traffic first.
          await waitFor("probe replies n1 → n3", () => events.some((e) => e.event === "summary" && e.received > 0), START_MS, 100);
          // Cut the first hop batman uses from n1 towards n3 (n2 or n4: the ring has two paths).
          const n3 = announced.get("n3")?.batman?.originator;
          let best: { orig_address: string; hard_ifname: string; best?: boolean } | undefined;
          // Replies can flow while batman-adv's table has no best entry for a moment (an OGM late in a slow guest): wait for one.
          await waitFor(
            "a best originator entry for n3 on n1",
            () => {
              best = batctlJson<{ orig_address: string; hard_ifname: string; best?: boolean }[]>(lab, "n1", "oj").find((o) => o.orig_address === n3 && o.best);
              return best !== undefined;
            },
            START_MS,
            200,
          ).catch(explain);
          expect(best).toBeDefined();
          const far = (best?.hard_ifname ?? "").split("-")[1] as string;
          const { near, far: farEnd } = linkBetween(lab.plan, "n1", far);
          const cutAt = Date.now();
          await setLinkLoss(lab.plan, "n1", far, 1);
          // x0tta6bl4 removes the link's hard interface from bat0 on both ends.
          await waitFor(
            `${near.interface} and ${farEnd.interface} out of bat0`,
            () => !hardInterfaces(lab, "n1").includes(near.interface) && !hardInterfaces(lab, far).includes(farEnd.interface),
            START_MS,
            100,
          ).catch(explain);
          const plan = loop.plans.find(({ message: p }) => p.actions.some((s) => s.type === "batman_interface" && s.params.state === "inactive"));
          expect(plan).toBeDefined();
          // Probe traffic resumes over the other path.
          await waitFor("probe traffic restored", () => events.some((e) => e.event === "restored" && e.ts > cutAt), START_MS, 100).catch(explain);
          const rerouted = batctlJson<{ orig_address: string; hard_ifname: string; best?: boolean }[]>(lab, "n1", "oj").find(
            (o) => o.orig_address === n3 && o.best,
          );
          expect(rerouted?.hard_ifname).not.toBe(near.interface);
          // The announcements follow the detach (the analyzer withdraws the vanished neighbour's batman verdicts by them).
          const topologyKv = await openBucket(lab.nc, Buckets.topology);
          const announcedHardInterfaces = async (node: string) => {
            const entry = await topologyKv.get(`node.${node}`);
            return entry?.value?.length ? (NodeAnnouncement.parse(entry.json()).batman?.hard_interfaces ?? []) : [];
          };
          await waitFor(
            `${near.interface} and ${farEnd.interface} gone from the announcements`,
            async () => !(await announcedHardInterfaces("n1")).includes(near.interface) && !(await announcedHardInterfaces(far)).includes(farEnd.interface),
            START_MS,
            200,
          ).catch(explain);
          // While the link is out, every node sends OGMs every 100 ms and forwards them at once with the repair's mesh hop penalty.
          const ring = ["n1", "n2", "n3", "n4"];
          const meshSettings = () =>
            ring.map(
              (node) => `${node}:${batctlJson(lab, node, "orig_interval")}/${batctlJson(lab, node, "hop_penalty")}/${batctlText(lab, node, "aggregation")}`,
            );
          await waitFor(
            "OGMs every 100 ms with hop penalty 10 and no aggregation on every node",
            () => meshSettings().every((s) => s.endsWith(":100/10/disabled")),
            START_MS,
            200,
          ).catch(explain);
          // Heal: the interfaces come back once the link is healthy again, and the mesh's own settings with them.
          await setLinkLoss(lab.plan, "n1", far, 0);
          await waitFor(
            "the hard interfaces back in bat0",
            () => hardInterfaces(lab, "n1").includes(near.interface) && hardInterfaces(lab, far).includes(farEnd.interface),
            START_MS,
            200,
          ).catch(explain);
          await waitFor(
            "the configured OGM interval, hop penalty and aggregation back",
            () => meshSettings().every((s) => s.endsWith(":1000/30/enabled")),
            START_MS,
            200,
          ).catch(explain);
        } finally {
          await loop.stop();
          await prober.stop();
        }
      },
      6 * START_MS,
    );
  });
});
