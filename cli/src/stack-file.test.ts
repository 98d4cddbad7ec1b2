import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StackFileError } from "./errors.ts";
import { readStackFile, removeStackFile, type StackFile, writeStackFile } from "./stack-file.ts";

const dir = mkdtempSync(join(tmpdir(), "x0-stack-file-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const stack: StackFile = {
  pid: 4242,
  nats: { url: "nats://127.0.0.1:4222", monitorPort: 8222, pid: 4243 },
  services: [
    { name: "monitor", port: 9101, pid: 4244 },
    { name: "analyzer", port: 9102, pid: null },
  ],
  started_at: "2025-01-01T00:00:00.000Z",
};

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
