// The console's lab controls: cut or heal one link of a local lab through the lab itself (its XDP fault maps), never NATS.
import { loadLab, setLinkLoss, writeLabState } from "@x0/lab";

/** What the console's lab buttons do. */
export interface LabControls {
  /** Drops every frame both ways on the link a–b; returns what was done. */
  cut(a: string, b: string): Promise<string>;
  /** Stops dropping frames on the link a–b. */
  heal(a: string, b: string): Promise<string>;
}

/** Controls for the lab `prefix` whose state is in `stateDir` (the same as `x0 lab fault cut` and `x0 lab heal`, per link). */
export function labControls(stateDir: string, prefix: string): LabControls {
  return {
    async cut(a, b) {
      const { state, plan, stateFile } = loadLab(stateDir, prefix);
      await setLinkLoss(plan, a, b, 1);
      state.faults.push({ kind: "cut", a, b, probability: 1, at: new Date().toISOString() });
      writeLabState(stateFile, state);
      return `link ${a}-${b} cut (every frame dropped both ways)`;
    },
    async heal(a, b) {
      const { state, plan, stateFile } = loadLab(stateDir, prefix);
      await setLinkLoss(plan, a, b, 0);
      const same = (fault: { a: string; b: string | null }) => (fault.a === a && fault.b === b) || (fault.a === b && fault.b === a);
      writeLabState(stateFile, { ...state, faults: state.faults.filter((fault) => !same(fault)) });
      return `link ${a}-${b} healed`;
    },
  };
}
