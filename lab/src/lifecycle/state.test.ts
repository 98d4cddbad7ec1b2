import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LabStateError } from "../errors.ts";
import { planOfState } from "./lab.ts";
import { type LabState, readLabState, writeLabState } from "./state.ts";

const dir = mkdtempSync(join(tmpdir(), "x0-lab-state-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A state file as `x0 lab up` wrote it before batman labs and link costs existed.
const older: Omit<LabState, "routing" | "link_costs"> = {
  v: 1,
  prefix: "x0",
  topology: "grid:2x3",
  mgmt_subnet: "10.254.0.0/16",
  nats: null,
  owner: "lab",
  owner_pid: 1,
  processes: [],
  faults: [],
  created_at: "2026-11-20T10:00:00.000Z",
};

describe("lab state", () => {
  test("lab state - an older file reads as static routing with equal link costs, and the plan is rebuilt from it", () => {
    const path = join(dir, "older.json");
    writeFileSync(path, JSON.stringify(older));
    const state = readLabState(path);
    expect(state).toMatchObject({ routing: "static", link_costs: "equal" });
    expect(planOfState(state as NonNullable<typeof state>).links.every((link) => link.hopPenalty === 0)).toBe(true);
  });

  test("lab state - distinct link costs survive the file, and the plan gets them back", () => {
    const path = join(dir, "distinct.json");
    writeLabState(path, { ...older, routing: "batman", link_costs: "distinct" });
    const state = readLabState(path);
    expect(state?.link_costs).toBe("distinct");
    expect(planOfState(state as NonNullable<typeof state>).links.map((link) => link.hopPenalty)).toEqual([2, 4, 6, 8, 10, 12, 14]);
  });

  test("lab state - an unknown link cost is a LabStateError naming the field", () => {
    const path = join(dir, "unknown.json");
    writeFileSync(path, JSON.stringify({ ...older, routing: "batman", link_costs: "random" }));
    expect(() => readLabState(path)).toThrow(LabStateError);
    expect(() => readLabState(path)).toThrow(/link_costs/);
  });
});
