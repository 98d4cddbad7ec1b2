import { describe, expect, test } from "bun:test";
import { mulberry32, type PlannedAction } from "@x0/shared";
import { RouteLoop } from "../errors.ts";
import { planOf } from "../run/testing.ts";
import { applyWaves, partsOf } from "./waves.ts";

/** A route step of `node` towards `destination` whose new route leads along `path` (next hop first, destination last). */
const route = (node: string, destination: string, path: string): PlannedAction => ({
  type: "route_replace",
  params: { node, destination, path, prefix: "10.0.0.1", via: "10.1.0.1", dev: "eth0" },
  reason: "test",
});
const notify: PlannedAction = { type: "notify", params: { message: "m" }, reason: "test" };

/** The node a packet for `destination` is at after each hop from `from`, following `nextHop` (undefined: no route); loops are cut. */
function walk(from: string, destination: string, nextHop: (node: string) => string | undefined): { reached: boolean; loop: boolean } {
  const seen = new Set<string>();
  for (let node: string | undefined = from; node !== undefined; node = nextHop(node)) {
    if (node === destination) return { reached: true, loop: false };
    if (seen.has(node)) return { reached: false, loop: true };
    seen.add(node);
  }
  return { reached: false, loop: false };
}

/** `items` in a random order (Fisher–Yates): a fixed number of draws, unlike sort() with a random comparator, whose calls vary. */
function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const result = [...items];
  for (let i = result.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [result[i], result[j]] = [result[j] as T, result[i] as T];
  }
  return result;
}

/** A random tree towards node 0 over `n` nodes: each node's parent is a node that joined before it, in a random order. */
function randomTree(n: number, random: () => number): Map<string, string> {
  const order = shuffled(
    Array.from({ length: n - 1 }, (_, k) => k + 1),
    random,
  );
  const joined = ["m0"];
  const parent = new Map<string, string>();
  for (const k of order) {
    const node = `m${k}`;
    parent.set(node, joined[Math.floor(random() * joined.length)] as string);
    joined.push(node);
  }
  return parent;
}

describe("apply waves", () => {
  test("waves - every node takes part with its steps; steps without a node are the home node's, which coordinates even without steps", () => {
    const plan = planOf([route("n2", "n9", "n3,n9"), notify, route("n3", "n9", "n9"), route("n2", "n8", "n5,n8")], { node: "n1" });
    expect([...partsOf(plan)]).toEqual([
      ["n1", [1]],
      ["n2", [0, 3]],
      ["n3", [2]],
    ]);
    expect([...partsOf(planOf([route("n4", "n9", "n9")], { node: "n4" }))]).toEqual([["n4", [0]]]);
  });

  test("waves - a route waits for the plan's routes towards the same destination on its new path; others are in wave 0", () => {
    // n1 → n2 → n3 → n9: the new routes are installed n3 first, then n2, then n1; n7's route to n8 and the notify at once.
    const actions = [route("n1", "n9", "n2,n3,n9"), route("n2", "n9", "n3,n9"), route("n3", "n9", "n9"), route("n7", "n8", "n6,n8"), notify];
    expect(applyWaves(actions)).toEqual([[2, 3, 4], [1], [0]]);
    // Past a node whose route stays (n5): n4 still waits for n6, further along its path.
    expect(applyWaves([route("n4", "n9", "n5,n6,n9"), route("n6", "n9", "n9")])).toEqual([[1], [0]]);
    // The same next hop towards another destination does not order them.
    expect(applyWaves([route("n1", "n8", "n2,n8"), route("n2", "n9", "n3,n9")])).toEqual([[0, 1]]);
    // Routes without a path (an older planner) cannot be ordered: all at once.
    const bare = { ...route("n1", "n9", ""), params: { node: "n1", destination: "n9", prefix: "10.0.0.9", via: "10.1.0.2", dev: "e" } };
    expect(applyWaves([bare, route("n2", "n9", "n9")])).toEqual([[0, 1]]);
    expect(applyWaves([])).toEqual([]);
  });

  test("waves - routes towards one destination that loop are refused, naming the loop", () => {
    expect(() => applyWaves([route("n1", "n9", "n2,n9"), route("n2", "n9", "n3,n9"), route("n3", "n9", "n1,n9")])).toThrow(RouteLoop);
    expect(() => applyWaves([route("n1", "n9", "n2,n9"), route("n2", "n9", "n1,n9")])).toThrow("towards n9 form a loop: n1 → n2 → n1");
  });

  test("waves - on random trees, no state between waves (any part of a wave applied) has a forwarding loop, and every node reaches the destination once done", () => {
    const random = mulberry32(19);
    const pathOf = (tree: Map<string, string>, node: string) => {
      const path: string[] = [];
      for (let at = tree.get(node); at !== undefined; at = tree.get(at)) path.push(at);
      return path.join(",");
    };
    /** Loops seen while the steps are installed wave by wave, each wave in a random order, checking after every step. */
    const loopsWhileInstalling = (before: Map<string, string>, after: Map<string, string>, actions: PlannedAction[], waves: number[][], n: number) => {
      const installed = new Set<number>();
      const nextHop = (node: string) => {
        const k = actions.findIndex((action) => action.params.node === node);
        return k >= 0 && installed.has(k) ? after.get(node) : before.get(node);
      };
      const nodes = Array.from({ length: n }, (_, k) => `m${k}`);
      let loops = 0;
      for (const wave of waves) {
        for (const index of shuffled(wave, random)) {
          installed.add(index);
          loops += nodes.filter((node) => walk(node, "m0", nextHop).loop).length;
        }
      }
      for (const node of nodes) expect(walk(node, "m0", nextHop).reached).toBe(true);
      return loops;
    };
    let loops = 0;
    let nextHopOnlyLoops = 0;
    for (let trial = 0; trial < 300; trial++) {
      const n = 3 + Math.floor(random() * 14);
      const before = randomTree(n, random);
      const after = randomTree(n, random);
      const changed = [...after].filter(([node, next]) => before.get(node) !== next);
      const actions = changed.map(([node]) => route(node, "m0", pathOf(after, node)));
      loops += loopsWhileInstalling(before, after, actions, applyWaves(actions), n);
      // Ordering by the next hop alone is not enough: a route whose next hop keeps its route may lead to one not yet moved.
      const nextHopOnly = changed.map(([node, next]) => route(node, "m0", next));
      nextHopOnlyLoops += loopsWhileInstalling(before, after, nextHopOnly, applyWaves(nextHopOnly), n);
    }
    expect(loops).toBe(0);
    expect(nextHopOnlyLoops).toBeGreaterThan(0);
  });
});
