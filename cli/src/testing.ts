// Data the command line's tests share.
import type { StackFile } from "./stack-file.ts";

/** A stack file as `up` writes it (up pid 4242, a live monitor on 19101, a stopped rag on 19105); `overrides` replace fields. */
export function stackFileFixture(overrides: Partial<StackFile> = {}): StackFile {
  return {
    pid: 4242,
    nats: { url: "nats://127.0.0.1:4222", monitorPort: 8222, pid: 4243 },
    services: [
      { name: "monitor", port: 19101, pid: 4244 },
      { name: "rag", port: 19105, pid: null },
    ],
    started_at: "2025-01-01T00:00:00.000Z",
    ...overrides,
  };
}
