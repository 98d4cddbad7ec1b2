// The contract of a way of healing (static routes, batman-adv): it plans on its own belief, keeps it, and settles it.
import type { ActionResult, Plan } from "@x0/shared";
import type { BatmanEffect } from "../batman/plan.ts";
import type { Proposal } from "../emit/emit.ts";
import type { Settled } from "../outcomes/store.ts";
import type { Element } from "../topology/element.ts";

/** A repair of a failed element, or a restore of what is up again, for the strategy of the element's mesh. */
export interface HealingRequest {
  purpose: "repair" | "restore";
  /** The element; a restore may have none (every link it cleared is up again). */
  element: Element | undefined;
  /** Batman repairs: detach the element's hard interfaces or raise their hop penalty. */
  effect?: BatmanEffect;
  /** What the plan is about: the start of its summary and of each step's reason. */
  what: string;
}

/**
 * One way of healing, owning what it believes the network has: `plan` proposes steps against that belief, `persist`
 * takes a published plan into it, `settle` confirms or reverts a plan once its result is known, `restore` reads the
 * belief back after a restart.
 */
export interface HealingStrategy<P extends Proposal = Proposal> {
  /** Reads the belief back from x0_topology. */
  restore(): Promise<void>;
  /** The steps that repair or restore the request's element, with the checks that verify them. */
  plan(request: HealingRequest, now: number): P;
  /** Takes a published plan's changes into the belief (auto plans at once) and writes it to x0_topology. */
  persist(proposal: P, plan: Plan, now: number): Promise<void>;
  /** A plan's result: confirms a manual plan that ran, reverts an auto plan that did not hold (`settled`: what it meant). */
  settle(result: ActionResult, settled: Settled | undefined, now: number): Promise<void>;
}
