// Link quality from batman-adv's originator table: the TQ of each direct neighbour's best route.
import type { BatmanSample } from "@x0/shared";

/** TQ of the best route to each originator that is also a direct neighbour (its next hop is itself), by MAC. */
export function directTq(originators: BatmanSample["originators"]): Map<string, number> {
  const tq = new Map<string, number>();
  for (const o of originators) if (o.best && o.next_hop === o.originator) tq.set(o.originator, o.tq);
  return tq;
}
