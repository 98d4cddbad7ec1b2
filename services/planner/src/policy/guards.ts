// Guards on how often the planner acts: a cooldown per target and a budget of network-changing plans per minute.

/** How severe a plan's effect on its target is: an escalation is a plan more severe than the last one. */
export const Severity = { notify: 0, degraded: 1, down: 2 } as const;
/** A plan severity. */
export type Severity = (typeof Severity)[keyof typeof Severity];

/** Per target, no new plan within `ms` of the last one, unless it escalates. */
export class Cooldown {
  readonly #last = new Map<string, { at: number; severity: Severity }>();

  constructor(readonly ms: number) {}

  /** Milliseconds until `target` may get a plan of `severity` (0: now). */
  remaining(target: string, severity: Severity, now: number): number {
    const last = this.#last.get(target);
    if (!last || severity > last.severity) return 0;
    return Math.max(0, last.at + this.ms - now);
  }

  /** Starts the cooldown of `target` with a plan of `severity`. */
  record(target: string, severity: Severity, now: number): void {
    this.#last.set(target, { at: now, severity });
    // Entries past their cooldown no longer matter: drop them so the map stays as small as the active targets.
    if (this.#last.size > 1024) for (const [key, last] of this.#last) if (last.at + this.ms <= now) this.#last.delete(key);
  }
}

/** At most `perMinute` plans in any sliding minute. */
export class ActionBudget {
  #spent: number[] = [];

  constructor(readonly perMinute: number) {}

  /** Spends one plan if the budget allows it. */
  tryTake(now: number): boolean {
    this.#spent = this.#spent.filter((at) => at > now - 60_000);
    if (this.#spent.length >= this.perMinute) return false;
    this.#spent.push(now);
    return true;
  }

  /** Gives back a plan taken but not published. */
  refund(): void {
    this.#spent.pop();
  }
}
