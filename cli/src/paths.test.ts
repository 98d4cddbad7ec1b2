import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { REPO_ROOT, stackFileOf, stateDirOf } from "./paths.ts";

describe("paths", () => {
  test("paths - the repo root holds the services and the cli", () => {
    expect(existsSync(join(REPO_ROOT, "services"))).toBe(true);
    expect(existsSync(join(REPO_ROOT, "cli", "src", "paths.ts"))).toBe(true);
  });

  test("paths - state lives in <repo>/.x0 unless X0_STATE_DIR moves it", () => {
    expect(stateDirOf({})).toBe(join(REPO_ROOT, ".x0"));
    expect(stateDirOf({ X0_STATE_DIR: "" })).toBe(join(REPO_ROOT, ".x0"));
    expect(stateDirOf({ X0_STATE_DIR: "some/dir" })).toBe(resolve("some/dir"));
    expect(stackFileOf("/tmp/x")).toBe("/tmp/x/stack.json");
  });
});
