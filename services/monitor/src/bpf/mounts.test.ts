import { describe, expect, test } from "bun:test";
import { isMounted } from "./mounts.ts";

const MOUNTS = "sysfs /sys sysfs rw,relatime 0 0\nbpf /sys/fs/bpf bpf rw,relatime 0 0\n";

describe("mounts", () => {
  test("mounts - finds a filesystem by mount point and type", () => {
    expect(isMounted(MOUNTS, "/sys/fs/bpf", "bpf")).toBe(true);
    expect(isMounted(MOUNTS, "/sys/kernel/tracing", "tracefs")).toBe(false);
    expect(isMounted(MOUNTS, "/sys/fs/bpf", "tracefs")).toBe(false);
  });
});
