import { describe, expect, test } from "bun:test";
import { xdpSelection } from "./selection.ts";

const sampled = ["eth0", "mesh0", "mesh1"];

describe("xdp selection", () => {
  test("xdp selection - nothing listed anywhere attaches nowhere", () => {
    expect(xdpSelection(undefined, [])(sampled)).toEqual([]);
    expect(xdpSelection("", [])(sampled)).toEqual([]);
  });

  test("xdp selection - the watched list is the default", () => {
    expect(xdpSelection(undefined, ["mesh0", "mesh1"])(sampled)).toEqual(["mesh0", "mesh1"]);
  });

  test("xdp selection - an explicit list narrows, and * takes every watched interface", () => {
    expect(xdpSelection("mesh1, missing", ["mesh0", "mesh1"])(sampled)).toEqual(["mesh1"]);
    expect(xdpSelection("*", [])(sampled)).toEqual(sampled);
  });
});
