// Keeps the latest batman-adv sample, refreshed in the background every batman interval (batman-adv itself sends OGMs
// once a second; with batctl each read is a process spawn, too costly for every 100 ms telemetry interval).
import { type BatmanSample, batadvMesh, type Logger, NetlinkSockets, rtnetlinkMasters } from "@x0/shared";
import {
  type BatmanMesh,
  collectBatman,
  collectBatmanMesh,
  collectBatmanMeshNetlink,
  collectBatmanNetlink,
  findBatmanInterfaces,
} from "../batman/collector.ts";

/** How often batctl reads the mesh's originator address and hard interfaces again (they change only when a hard interface is added or removed). */
const MESH_REFRESH_MS = 5000;

/**
 * Whether the mesh facts are read again now: with every read over netlink (two requests, no spawn), every
 * MESH_REFRESH_MS through batctl. The announcement's hard interfaces must follow a detach within one read: the analyzer
 * withdraws the batman verdicts of a neighbour whose interface left the mesh by them. A detach that never reaches the
 * announcement (a repair and its restore 5 s apart) lets the vanished neighbour age into a second link_down right after
 * the restore, and a second detach and return then falls inside batman-adv's 30 s sequence number reset protection.
 */
export function meshFactsDue(source: BatmanSettings["source"], now: number, readAt: number): boolean {
  return source === "netlink" || now - readAt >= MESH_REFRESH_MS;
}

/** Settings: `meshInterface` is a name, "auto" (detect batadv links) or "off". */
export interface BatmanSettings {
  meshInterface: string;
  /** Read batman-adv over its netlink family in process, or by running batctl. */
  source: "netlink" | "batctl";
  batctl: string;
  intervalMs: number;
  logger: Logger;
}

/** The refresh loop's getters: the latest sample and the latest mesh facts (for the node's announcement). */
export interface BatmanSource {
  latest: () => BatmanSample | undefined;
  mesh: () => BatmanMesh | undefined;
  stop: () => void;
}

/** Starts the refresh loop; returns the latest sample and mesh getters and a stop function. */
export function startBatman({ meshInterface, source, batctl, intervalMs, logger }: BatmanSettings): BatmanSource {
  if (meshInterface === "off") return { latest: () => undefined, mesh: () => undefined, stop: () => {} };
  const sockets = source === "netlink" ? new NetlinkSockets() : undefined;
  const netlink = sockets ? batadvMesh(sockets, rtnetlinkMasters(sockets)) : undefined;
  let latest: BatmanSample | undefined;
  let meshFacts: BatmanMesh | undefined;
  let meshReadAt = Number.NEGATIVE_INFINITY;
  let mesh = meshInterface === "auto" ? undefined : meshInterface;
  let lastDetect = 0;
  let running = false;
  let lastError = "";
  const refresh = async () => {
    if (running) return;
    running = true;
    try {
      // Auto-detection is a process spawn too: at most every 10 s.
      if (meshInterface === "auto" && !mesh && Date.now() - lastDetect >= 10_000) {
        lastDetect = Date.now();
        mesh = (await findBatmanInterfaces())[0];
        if (mesh) logger.info("batman-adv mesh interface found", { interface: mesh });
      }
      if (!mesh) return;
      const now = Date.now();
      const readMesh = meshFactsDue(source, now, meshReadAt);
      const [sample, facts] = netlink
        ? [collectBatmanNetlink(netlink, mesh), readMesh ? collectBatmanMeshNetlink(netlink, mesh) : meshFacts]
        : await Promise.all([
            collectBatman({ meshInterface: mesh, batctl }),
            readMesh ? collectBatmanMesh({ meshInterface: mesh, batctl }) : Promise.resolve(meshFacts),
          ]);
      latest = sample;
      if (readMesh) {
        meshFacts = facts;
        meshReadAt = now;
      }
      lastError = "";
    } catch (error) {
      const message = (error as Error).message;
      if (message !== lastError) logger.warn("cannot read batman-adv state", { error: message });
      lastError = message;
      if (mesh) latest = { mesh_interface: mesh, originators: [], neighbours: [], error: message.slice(0, 1024) };
    } finally {
      running = false;
    }
  };
  void refresh();
  const timer = setInterval(() => void refresh(), intervalMs);
  return {
    latest: () => latest,
    mesh: () => meshFacts,
    stop: () => {
      clearInterval(timer);
      sockets?.close();
    },
  };
}
