import { describe, expect, test } from "bun:test";
import { stackFileFixture } from "../testing.ts";
import { resolveTargets } from "./targets.ts";

const stack = stackFileFixture();

describe("status targets", () => {
  test("status targets - --url wins over everything", () => {
    expect(resolveTargets(["http://h:1"], stack, 9101)).toEqual([{ name: undefined, url: "http://h:1" }]);
  });

  test("status targets - the stack file's services and ports come next", () => {
    expect(resolveTargets([], stack, 9101)).toEqual([
      { name: "monitor", url: "http://127.0.0.1:19101" },
      { name: "rag", url: "http://127.0.0.1:19105" },
    ]);
  });

  test("status targets - without a stack file, the loop services on the default ports from the base", () => {
    expect(resolveTargets([], undefined, 9101).map(({ name, url }) => `${name} ${url}`)).toEqual([
      "monitor http://127.0.0.1:9101",
      "analyzer http://127.0.0.1:9102",
      "planner http://127.0.0.1:9103",
      "executor http://127.0.0.1:9104",
    ]);
    expect(resolveTargets([], undefined, 20000)[3]?.url).toBe("http://127.0.0.1:20003");
  });
});
