// batman_interface: attaches (`active`) or detaches (`inactive`) a hard interface of a mesh interface (rtnetlink when
// there is `masters`, else `batctl meshif <bat> interface add|del`), verified by its status and the originator table.
import { type BatmanSample, parseBatctlInterfaces, parseBatctlOriginators, slavesOf } from "@x0/shared";
import { z } from "zod";
import { ActuatorError } from "../../errors.ts";
import { InterfaceName, Mac, Node } from "../params.ts";
import { type Actuator, type ActuatorContext, type Observation, observed, type Step } from "../types.ts";
import { applyConcurrently, applyOne, BATMAN_MESH_SETTINGS, type BatmanControl } from "./control.ts";

/**
 * Params of batman_interface: attach (active) or detach (inactive) a hard interface. With `verify_originator`, verification
 * also needs a best route to that originator (for inactive: one not through `interface`) within `verify_within_ms` of the change.
 */
export const BatmanInterfaceParams = z.object({
  node: Node,
  mesh_interface: InterfaceName,
  interface: InterfaceName,
  state: z.enum(["active", "inactive"]),
  verify_originator: Mac.optional(),
  verify_within_ms: z.coerce.number().int().min(0).max(30_000).default(3000),
});
/** Validated batman_interface params. */
export type BatmanInterfaceParams = z.infer<typeof BatmanInterfaceParams>;

/** One route of an originator table (`batctl oj`, or the same dump over netlink). */
export type OriginatorRoute = BatmanSample["originators"][number];

/** The best route to `originator` in an originator table, if there is one. */
export function bestRoute(routes: readonly OriginatorRoute[], originator: string): OriginatorRoute | undefined {
  return routes.find((route) => route.best && route.originator === originator.toLowerCase());
}

/** The batman_interface actuator. */
export function batmanInterfaceActuator(control: BatmanControl): Actuator<BatmanInterfaceParams, { attached: boolean }> {
  const { masters, mesh, netnsOf, run, pollMs } = control;
  const attachedOf = async (p: BatmanInterfaceParams) => parseBatctlInterfaces(await run(p.node, "meshif", p.mesh_interface, "interface"));
  /** The hard interfaces of the step's mesh interface (names only): over rtnetlink when there is `masters`, else batctl's listing. */
  const hardInterfacesOf = async (p: BatmanInterfaceParams): Promise<string[]> => {
    if (!masters) return [...(await attachedOf(p)).keys()];
    const slaves = slavesOf(masters.links(netnsOf(p.node)), p.mesh_interface);
    if (slaves === undefined) throw new ActuatorError(`${p.node}: no mesh interface ${p.mesh_interface}`);
    return slaves;
  };
  const setAttached = async (p: BatmanInterfaceParams, attach: boolean): Promise<void> => {
    if (masters) masters.setMaster(netnsOf(p.node), p.interface, attach ? p.mesh_interface : null);
    else await run(p.node, "meshif", p.mesh_interface, "interface", attach ? "add" : "del", p.interface);
  };
  /** Both ends of a link at once (see applyConcurrently). */
  const applyBatch = (steps: readonly Step<BatmanInterfaceParams>[], ctx: ActuatorContext) =>
    applyConcurrently(
      steps,
      ctx,
      async (p): Promise<{ attached: boolean }> => {
        const listing = await hardInterfacesOf(p);
        const attached = listing.includes(p.interface);
        // A mesh interface without hard interfaces cuts the node off the mesh (and older batctl destroys it with every
        // setting a rollback would need); the lab keeps primary0 attached so a repair never gets here.
        if (p.state === "inactive" && attached && listing.length === 1)
          throw new ActuatorError(`${p.node}: refusing to remove ${p.interface}, the last hard interface of ${p.mesh_interface}`);
        return { attached };
      },
      async (p, { attached }) => {
        const attach = p.state === "active";
        if (attach !== attached) await setAttached(p, attach);
        return `${p.node}: ${p.interface} ${attach ? "added to" : "removed from"} ${p.mesh_interface}${attach === attached ? " (already so)" : ""}`;
      },
    );
  /** The interface's status as batman-adv lists it (undefined: not attached). */
  const statusOf = async (p: BatmanInterfaceParams): Promise<string | undefined> => {
    if (!mesh) return (await attachedOf(p)).get(p.interface);
    const active = mesh.hardInterfaces(netnsOf(p.node), p.mesh_interface).get(p.interface);
    return active === undefined ? undefined : active ? "active" : "inactive";
  };
  const originatorsOf = async (p: BatmanInterfaceParams): Promise<OriginatorRoute[]> =>
    mesh ? mesh.originators(netnsOf(p.node), p.mesh_interface) : parseBatctlOriginators(await run(p.node, "meshif", p.mesh_interface, "oj"));
  /** One look at a step's effect: the interface listing and, when asked, the best route to the originator. */
  const observe = async (p: BatmanInterfaceParams): Promise<Observation> => {
    const status = await statusOf(p);
    const listed = p.state === "active" ? status === "active" : status === undefined || status === "inactive";
    const parts = [`batctl lists ${p.interface} in ${p.mesh_interface} as ${status ?? "absent"}${listed ? "" : ` (want ${p.state})`}`];
    let routed = true;
    if (p.verify_originator !== undefined) {
      const best = bestRoute(await originatorsOf(p), p.verify_originator);
      if (best === undefined) {
        routed = false;
        parts.push(`no best route to ${p.verify_originator}`);
      } else {
        routed = p.state === "active" || best.interface !== p.interface;
        const via = `best route to ${p.verify_originator} via ${best.interface} (tq ${best.tq}, next hop ${best.next_hop})`;
        parts.push(routed ? via : `${via}: still the removed interface`);
      }
    }
    return observed(listed && routed, parts.join("; "));
  };

  return {
    type: "batman_interface",
    params: BatmanInterfaceParams,
    reversible: true,
    handles: control.handles,
    apply: (step, ctx) => applyOne(applyBatch, step, ctx),
    // Both ends of a link (and every neighbour of a dead node) change at once: one read per node in parallel, one journal
    // write for all, then the changes in parallel. batman-adv purges a removed interface's routes on its own side only,
    // so a repair takes effect when the last end is done; in sequence every end would wait for the ones before it.
    applyBatch,
    // Detaching interfaces and speeding OGMs up repair together: neither waits for the other.
    concurrencyGroup: BATMAN_MESH_SETTINGS,
    verify: async (step, applied) => {
      // batman-adv re-selects routes within about a second of losing an interface: look again until the window after
      // the change has passed, so one early read does not fail a repair that is about to take effect.
      const until = applied.at + step.params.verify_within_ms;
      for (;;) {
        const seen = await observe(step.params);
        if (seen.ok || Date.now() + pollMs > until) return seen;
        await Bun.sleep(pollMs);
      }
    },
    rollback: async (step, applied) => {
      const attached = (await hardInterfacesOf(step.params)).includes(step.params.interface);
      const wanted = z.boolean().parse(applied.undo.attached);
      if (attached !== wanted) await setAttached(step.params, wanted);
    },
  };
}
