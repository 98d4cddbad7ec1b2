import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StackFileError } from "./errors.ts";
import { readStackFile, removeStackFile, writeStackFile } from "./stack-file.ts";
import { stackFileFixture } from "./testing.ts";

const dir = mkdtempSync(join(tmpdir(), "x0-stack-file-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const stack = stackFileFixture();

describe("stack-file", () => {
  test("stack-file - what is written reads back the same", () => {
    const path = join(dir, "nested", "stack.json");
    writeStackFile(path, stack);
    expect(readStackFile(path)).toEqual(stack);
  });

  test("stack-file - a missing file reads as undefined", () => {
    expect(readStackFile(join(dir, "absent.json"))).toBeUndefined();
  });

  test("stack-file - invalid JSON or shape is a StackFileError", () => {
    const path = join(dir, "bad.json");
    writeFileSync(path, "{nope");
    expect(() => readStackFile(path)).toThrow(StackFileError);
    writeFileSync(path, JSON.stringify({ pid: "x" }));
    expect(() => readStackFile(path)).toThrow(StackFileError);
  });

  test("stack-file - is removed only by the up process that owns it", () => {
    const path = join(dir, "owned.json");
    writeStackFile(path, stack);
    expect(removeStackFile(path, 1)).toBe(false);
    expect(existsSync(path)).toBe(true);
    expect(removeStackFile(path, 4242)).toBe(true);
    expect(existsSync(path)).toBe(false);
    expect(removeStackFile(path, 4242)).toBe(false);
  });
});
