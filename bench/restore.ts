// When probe traffic counts as restored after a fault: the first reply after the outage the fault caused that lasts (no
// new outage within a hold time; a route change can leave a short second outage while nodes switch one after another).
import type { ProbeEvent, RestoredEvent } from "@x0/lab";

/** What `events` say about the outage after `at` by `now`: restored (ms after `at`), none yet, or still unknown. */
export type Restoration = { state: "restored"; ms: number } | { state: "no_outage" } | { state: "waiting" };

/** The restoration after `at` that lasted `holdMs` by `now`, from the prober's outage and restored events. */
export function lastingRestore(events: readonly ProbeEvent[], at: number, now: number, holdMs = 1000): Restoration {
  const after = events.filter((event) => event.ts >= at);
  const firstOutage = after.find((event) => event.event === "outage");
  if (!firstOutage) return { state: "no_outage" };
  for (const restored of after.filter((event): event is RestoredEvent => event.event === "restored" && event.ts >= firstOutage.ts)) {
    if (now < restored.ts + holdMs) break; // not yet known to last
    if (!after.some((event) => event.event === "outage" && event.ts > restored.ts && event.ts <= restored.ts + holdMs))
      return { state: "restored", ms: restored.ts - at };
  }
  return { state: "waiting" };
}

/**
 * Polls `events` (appended to by the prober) until the outage after `at` is restored for good: its ms after `at`, or null
 * after `timeoutMs`; with `noOutageMs`, `interrupted` false once that long passed without an outage (off the probe's path).
 */
export async function restoredAfter(
  events: readonly ProbeEvent[],
  at: number,
  { timeoutMs, noOutageMs, pollMs = 20 }: { timeoutMs: number; noOutageMs?: number; pollMs?: number },
): Promise<{ repaired: number | null; interrupted: boolean }> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const now = Date.now();
    const restoration = lastingRestore(events, at, now);
    if (restoration.state === "restored") return { repaired: restoration.ms, interrupted: true };
    if (restoration.state === "no_outage" && noOutageMs !== undefined && now - at > noOutageMs) return { repaired: null, interrupted: false };
    await Bun.sleep(pollMs);
  }
  return { repaired: null, interrupted: true };
}
