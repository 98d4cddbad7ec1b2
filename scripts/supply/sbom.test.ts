import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { readLockfile } from "./lockfile.ts";
import { buildSbom, checkSbom, licenceChoice, purl, sha512Hex, validateSbom } from "./sbom.ts";
import { REPO_ROOT, tempTree } from "./testing.ts";

type Component = { "bom-ref": string; name: string; group?: string; version: string; purl?: string; scope?: string; hashes?: { content: string }[] };

describe("sbom", () => {
  test("sbom - the workspace's SBOM is valid CycloneDX 1.6 and holds every locked package with its purl and hash", async () => {
    const tree = tempTree("sbom");
    try {
      const out = join(tree.dir, "bom.cdx.json");
      const r = await checkSbom({ root: REPO_ROOT, out });
      expect(r.failures).toEqual([]);
      const bom = (await Bun.file(out).json()) as { components: Component[]; dependencies: { ref: string; dependsOn?: string[] }[] };
      const refs = new Set(bom.components.map((c) => c.purl));
      for (const pkg of readLockfile(REPO_ROOT).packages.values()) expect(refs.has(purl(pkg.name, pkg.version))).toBe(true);
      const zod = bom.components.find((c) => c.name === "zod");
      expect(zod?.scope).toBe("required");
      expect(zod?.hashes?.[0]?.content).toMatch(/^[0-9a-f]{128}$/);
      expect(bom.components.find((c) => c.group === "@biomejs" && c.name === "biome")?.scope).toBe("excluded");
      // The graph: the shared workspace depends on zod, and every ref it names is a component.
      const known = new Set([...bom.components.map((c) => c["bom-ref"]), "x0tta6bl4"]);
      expect(bom.dependencies.find((d) => d.ref === "x0tta6bl4/shared")?.dependsOn?.some((ref) => ref.startsWith("pkg:npm/zod@"))).toBe(true);
      for (const d of bom.dependencies) for (const ref of d.dependsOn ?? []) expect(known.has(ref)).toBe(true);
    } finally {
      tree.cleanup();
    }
  });

  test("sbom - the schema validation rejects a document that breaks CycloneDX", async () => {
    const bom = await buildSbom(REPO_ROOT);
    expect(await validateSbom(JSON.stringify(bom))).toEqual([]);
    const broken = { ...bom, components: [{ type: "library", name: "x", hashes: [{ alg: "SHA-999", content: "zz" }] }] };
    const errors = await validateSbom(JSON.stringify(broken));
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.join("\n")).toContain("/components/0/hashes/0/alg");
  });

  test("sbom - purls, hashes and licences are written as CycloneDX has them", () => {
    expect(purl("@nats-io/jetstream", "3.4.0")).toBe("pkg:npm/%40nats-io/jetstream@3.4.0");
    expect(purl("zod", "4.6.7")).toBe("pkg:npm/zod@4.6.7");
    expect(sha512Hex(`sha512-${Buffer.alloc(64, 1).toString("base64")}`)).toBe("01".repeat(64));
    expect(sha512Hex("sha1-abc")).toBeUndefined();
    expect(licenceChoice("MIT")).toEqual([{ license: { id: "MIT" } }]);
    expect(licenceChoice("(MIT OR CC0-1.0)")).toEqual([{ expression: "(MIT OR CC0-1.0)" }]);
    expect(licenceChoice("Apache 2.0")).toEqual([{ license: { name: "Apache 2.0" } }]);
  });
});
