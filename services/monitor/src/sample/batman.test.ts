import { describe, expect, test } from "bun:test";
import { meshFactsDue } from "./batman.ts";

describe("batman source", () => {
  test("batman source - over netlink the mesh facts (hard interfaces) are read with every read; through batctl every 5 s", () => {
    // A detach must reach the announcement within one read, whatever the last mesh read was.
    expect(meshFactsDue("netlink", 1_000, 0)).toBe(true);
    expect(meshFactsDue("netlink", 1_000, 999)).toBe(true);
    expect(meshFactsDue("batctl", 4_999, 0)).toBe(false);
    expect(meshFactsDue("batctl", 5_000, 0)).toBe(true);
    expect(meshFactsDue("batctl", 1_000, Number.NEGATIVE_INFINITY)).toBe(true);
  });
});
