// Test seams of the supply-chain checks: temporary trees, and a registry that answers advisory queries in the npm
// registry's bulk format (the "fixture mode" of the audit check: bun audit itself queries it).
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Advisory } from "./audit.ts";

/** The repository root. */
export const REPO_ROOT = join(import.meta.dir, "..", "..");

/** A temporary folder, removed by `cleanup`. */
export function tempTree(prefix: string): { dir: string; write(path: string, text: string): string; copy(path: string): void; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), `x0-supply-${prefix}-`));
  return {
    dir,
    write(path, text) {
      const full = join(dir, path);
      mkdirSync(dirname(full), { recursive: true });
      writeFileSync(full, text);
      return full;
    },
    copy(path) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      cpSync(join(REPO_ROOT, path), join(dir, path), { recursive: true });
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** One advisory the fixture registry knows, for a package name. */
export interface KnownAdvisory extends Advisory {
  package: string;
}

/**
 * A registry on 127.0.0.1 with the bulk advisory endpoint: it reads the `{name: [versions]}` body bun audit sends
 * (gzip or plain) and answers the advisories whose vulnerable range holds one of the versions asked about, as the npm
 * registry does. With `status` set, every request gets that status instead (a registry without the endpoint).
 */
export function advisoryRegistry(known: KnownAdvisory[], options: { status?: number } = {}) {
  const asked: Record<string, string[]>[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const url = new URL(request.url);
      if (options.status) return new Response("Method Not Allowed", { status: options.status });
      if (request.method !== "POST" || url.pathname !== "/-/npm/v1/security/advisories/bulk") return new Response("not found", { status: 404 });
      const raw = new Uint8Array(await request.arrayBuffer());
      const body = JSON.parse(new TextDecoder().decode(request.headers.get("content-encoding") === "gzip" ? Bun.gunzipSync(raw) : raw)) as Record<
        string,
        string[]
      >;
      asked.push(body);
      const answer: Record<string, Advisory[]> = {};
      for (const { package: name, ...advisory } of known) {
        const versions = body[name] ?? [];
        if (versions.some((v) => Bun.semver.satisfies(v, advisory.vulnerable_versions))) answer[name] = [...(answer[name] ?? []), advisory];
      }
      return Response.json(answer);
    },
  });
  return { url: `http://127.0.0.1:${server.port}/`, asked, stop: () => server.stop(true) };
}
