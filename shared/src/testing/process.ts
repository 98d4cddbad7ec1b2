// Real processes under test: free ports, waiting for a condition, collecting output, and services as Bun processes.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";

/** The repository root. */
export const REPO_ROOT = join(import.meta.dir, "..", "..", "..");

/** A TCP port that was free a moment ago. */
export function freePort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const { port } = listener;
  listener.stop(true);
  return port;
}

/** Polls `check` until it returns true or `timeoutMs` passes. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000, everyMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await Bun.sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Whether `url` answers 2xx within a second. */
export async function httpOk(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
    return response.ok;
  } catch {
    return false;
  }
}

/** Appends each line of `stream` to `into` as it arrives (in the background). */
export function collectLines(stream: ReadableStream<Uint8Array>, into: string[]): void {
  void (async () => {
    const decoder = new TextDecoder();
    let rest = "";
    for await (const chunk of stream) {
      rest += decoder.decode(chunk, { stream: true });
      const lines = rest.split("\n");
      rest = lines.pop() ?? "";
      into.push(...lines);
    }
    if (rest) into.push(rest);
  })();
}

/** A service process under test. */
export interface ServiceProcess {
  readonly name: string;
  readonly port: number;
  readonly process: Subprocess<"ignore", "pipe", "pipe">;
  /** Lines written to stdout and stderr so far. */
  readonly output: string[];
  readonly exited: Promise<number>;
  ready(): Promise<boolean>;
  waitReady(timeoutMs?: number): Promise<void>;
  stop(): Promise<number>;
}

/** Starts `services/<name>/src/main.ts` as its own Bun process with `env` on top of a minimal environment. */
export function startServiceProcess(name: string, env: Record<string, string>): ServiceProcess {
  const port = env.X0_HTTP_PORT ? Number(env.X0_HTTP_PORT) : freePort();
  // Signing keys (and a development KEK) go to a folder of this process unless the test shares one.
  const keyDir = env.X0_KEY_DIR ? undefined : mkdtempSync(join(tmpdir(), `x0-keys-${name}-`));
  const child = Bun.spawn([process.execPath, join(REPO_ROOT, "services", name, "src", "main.ts")], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/root",
      X0_HTTP_PORT: String(port),
      ...(keyDir ? { X0_KEY_DIR: keyDir } : {}),
      // A test that gives no identity talks plain NATS to its own local server: the development flag says so.
      ...(env.X0_DEV_CA_DIR || env.X0_NATS_TLS_CERT || env.SPIFFE_ENDPOINT_SOCKET || env.X0_SVID_SOURCE ? {} : { X0_NATS_INSECURE_DEV: "true" }),
      ...env,
    },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  void child.exited.then(() => {
    if (keyDir) rmSync(keyDir, { recursive: true, force: true });
  });
  return serviceProcessOf(name, port, child, () => httpOk(`http://127.0.0.1:${port}/readyz`));
}

/** A spawned service as a {@link ServiceProcess}: its output collected, ready when `ready()` says so, stopped with SIGTERM (SIGKILL after 5 s). */
export function serviceProcessOf(name: string, port: number, child: Subprocess<"ignore", "pipe", "pipe">, ready: () => Promise<boolean>): ServiceProcess {
  const output: string[] = [];
  collectLines(child.stdout, output);
  collectLines(child.stderr, output);
  return {
    name,
    port,
    process: child,
    output,
    exited: child.exited,
    ready,
    waitReady: async (timeoutMs = 20_000) => {
      try {
        await waitFor(
          `${name} ready`,
          async () => {
            if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}:\n${output.join("\n")}`);
            return ready();
          },
          timeoutMs,
          50,
        );
      } catch (error) {
        throw new Error(`${(error as Error).message}\n--- ${name} output ---\n${output.slice(-40).join("\n")}`);
      }
    },
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      const code = await child.exited;
      clearTimeout(timer);
      return code;
    },
  };
}
