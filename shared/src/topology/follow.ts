// Node announcements from x0_topology (`node.<node>`): loaded at start, then followed as they change.

import { NodeAnnouncement } from "../contracts/announcement.ts";
import type { Live } from "../contracts/bus.ts";
import type { openBucket } from "../knowledge/knowledge.ts";
import type { Logger } from "../observability/logger.ts";

type Kv = Awaited<ReturnType<typeof openBucket>>;

/** Where announcements go (the planner's topology, the analyzer's peer map). */
export interface AnnouncementSink {
  announce(announcement: NodeAnnouncement): void;
  forget(node: string): void;
}

function apply(sink: AnnouncementSink, logger: Logger, key: string, operation: string, read: () => unknown): void {
  const node = key.slice("node.".length);
  if (operation !== "PUT") {
    sink.forget(node);
    return;
  }
  let parsed: ReturnType<typeof NodeAnnouncement.safeParse>;
  try {
    parsed = NodeAnnouncement.safeParse(read());
  } catch (error) {
    logger.warn("announcement is not JSON", { key, error });
    return;
  }
  if (parsed.success && parsed.data.node === node) sink.announce(parsed.data);
  else logger.warn("ignoring invalid announcement", { key, error: parsed.success ? `names node ${parsed.data.node}` : parsed.error.message });
}

/**
 * Loads every announcement, then watches for changes. The watch starts with the last values again, so a change
 * between the load and the watch is not missed (announcing is idempotent).
 */
export async function followAnnouncements(kv: Kv, sink: AnnouncementSink, logger: Logger): Promise<Live> {
  for await (const key of await kv.keys("node.>")) {
    const entry = await kv.get(key);
    if (entry) apply(sink, logger, key, entry.operation, () => entry.json());
  }
  const watcher = await kv.watch({ key: "node.>" });
  let live = true;
  const loop = (async () => {
    for await (const entry of watcher) apply(sink, logger, entry.key, entry.operation, () => entry.json());
  })()
    .catch((error) => logger.error("announcement watch ended", { error }))
    .finally(() => {
      live = false;
    });
  return {
    name: "watch x0_topology node.>",
    isLive: () => live,
    stop: async () => {
      watcher.stop();
      await loop;
    },
  };
}
