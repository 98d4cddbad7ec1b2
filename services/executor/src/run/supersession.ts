// Plans superseded by newer ones: the executor runs plans one at a time, so while it verifies a plan, a newer plan that
// states the same routes again (the planner's answer to an escalated fault) is seen only through this look ahead.
import type { MessageVerifier } from "@x0/shared";

const decoder = new TextDecoder();
/** Superseded ids remembered; older ones are long settled. */
const MEMORY = 1000;

/** Which plans newer signed plans supersede. */
export class Supersessions {
  readonly #by = new Map<string, string>();

  constructor(
    private readonly verifier: Pick<MessageVerifier, "verify">,
    private readonly signers: readonly string[],
  ) {}

  /** Looks at a plan as published (raw bytes); notes what it supersedes when its signature is valid. Invalid input is ignored here: admission judges it. */
  async look(data: Uint8Array): Promise<void> {
    let raw: { plan_id?: unknown; supersedes?: unknown };
    try {
      raw = JSON.parse(decoder.decode(data));
    } catch {
      return;
    }
    if (!Array.isArray(raw.supersedes) || raw.supersedes.length === 0 || typeof raw.plan_id !== "string") return;
    // Only a plan whose signature verifies may stop another's verification; the nonce stays for its own admission.
    const verdict = await this.verifier.verify("plan", raw, { remember: false });
    if (!verdict.ok || !this.signers.includes(verdict.key.service)) return;
    for (const id of raw.supersedes) if (typeof id === "string") this.#by.set(id, raw.plan_id);
    while (this.#by.size > MEMORY) this.#by.delete(this.#by.keys().next().value as string);
  }

  /** The plan that supersedes `planId`, if one was seen. */
  supersededBy(planId: string): string | undefined {
    return this.#by.get(planId);
  }
}

/** A signal aborted, with the newer plan's id as its reason, once `supersededBy(planId)` names one (looked at every 20 ms until `stop`). */
export function watchSupersession(planId: string, supersededBy?: (planId: string) => string | undefined): { signal: AbortSignal; stop(): void } {
  const superseded = new AbortController();
  const timer = setInterval(() => {
    const by = supersededBy?.(planId);
    if (by) superseded.abort(by);
  }, 20);
  return { signal: superseded.signal, stop: () => clearInterval(timer) };
}
