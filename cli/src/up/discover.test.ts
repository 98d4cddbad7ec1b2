import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "../paths.ts";
import { discoverServices, orderServices } from "./discover.ts";

const dir = mkdtempSync(join(tmpdir(), "x0-discover-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function service(name: string, withMain = true): void {
  mkdirSync(join(dir, name, "src"), { recursive: true });
  if (withMain) writeFileSync(join(dir, name, "src", "main.ts"), "");
}

describe("discover", () => {
  test("discover - folders with src/main.ts are services, the loop ones first in MAPE-K order", () => {
    for (const name of ["swarm", "executor", "crypto", "monitor", "planner", "analyzer"]) service(name);
    service("drafts", false);
    writeFileSync(join(dir, "README.md"), "");
    expect(discoverServices(dir)).toEqual(["monitor", "analyzer", "planner", "executor", "crypto", "swarm"]);
  });

  test("discover - orders unknown services by name after the known ones", () => {
    expect(orderServices(["rag", "executor", "crypto"])).toEqual(["executor", "crypto", "rag"]);
  });

  test("discover - finds the implemented services of this repository", () => {
    expect(discoverServices(join(REPO_ROOT, "services")).slice(0, 4)).toEqual(["monitor", "analyzer", "planner", "executor"]);
  });
});
