// Links per node from the planner's link records in x0_topology: the topology context of a case (a leaf has no detour).
import type { KV } from "@nats-io/kv";
import type { Live, Logger } from "@x0/shared";

/** The links known per node. */
export class Degrees {
  readonly #links = new Map<string, [string, string]>();

  /** Records a link record's key (`link.<a>.<b>`), or forgets it when deleted. */
  apply(key: string, deleted: boolean): void {
    const [, a, b] = key.split(".");
    if (!a || !b) return;
    if (deleted) this.#links.delete(key);
    else this.#links.set(key, [a, b]);
  }

  /** Links per node, in the order given; undefined while no link is known. */
  of(nodes: string[]): number[] | undefined {
    if (this.#links.size === 0) return undefined;
    return nodes.map((node) => [...this.#links.values()].filter(([a, b]) => a === node || b === node).length);
  }
}

/** Keeps `degrees` current from x0_topology's link records. */
export async function watchDegrees(kv: KV, degrees: Degrees, logger: Logger): Promise<Live> {
  const watcher = await kv.watch({ key: "link.>" });
  let live = true;
  const loop = (async () => {
    for await (const entry of watcher) degrees.apply(entry.key, entry.operation !== "PUT");
  })()
    .catch((error) => logger.error("link record watch ended", { error }))
    .finally(() => {
      live = false;
    });
  return {
    name: "watch x0_topology link.>",
    isLive: () => live,
    stop: async () => {
      watcher.stop();
      await loop;
    },
  };
}
