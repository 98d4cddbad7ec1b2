// Keeps the latest batman-adv sample, refreshed in the background every batman interval (batctl is a process spawn,
// too costly for every 100 ms telemetry interval; batman-adv itself sends OGMs once a second).
import type { BatmanSample, Logger } from "@x0/shared";
import { collectBatman, findBatmanInterfaces } from "../batman/collector.ts";

/** Settings: `meshInterface` is a name, "auto" (detect batadv links) or "off". */
export interface BatmanSettings {
  meshInterface: string;
  batctl: string;
  intervalMs: number;
  logger: Logger;
}

/** Starts the refresh loop; returns the latest sample getter and a stop function. */
export function startBatman({ meshInterface, batctl, intervalMs, logger }: BatmanSettings): { latest: () => BatmanSample | undefined; stop: () => void } {
  if (meshInterface === "off") return { latest: () => undefined, stop: () => {} };
  let latest: BatmanSample | undefined;
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
      latest = await collectBatman({ meshInterface: mesh, batctl });
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
  return { latest: () => latest, stop: () => clearInterval(timer) };
}
