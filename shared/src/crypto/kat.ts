// Readers of the vendored known-answer files in testdata/ (see testdata/README.md).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { fromHex } from "./bytes.ts";

const DIR = join(import.meta.dir, "testdata");

/** The final-FIPS-203 decapsulation triple (dk, c → K) of a CCTV file (`strcmp` or `unluckysample`). */
export function cctvDecapsVector(name: "strcmp" | "unluckysample"): { dk: Uint8Array; c: Uint8Array; K: Uint8Array } {
  const fields = new Map<string, string>();
  for (const line of readFileSync(join(DIR, `${name}.txt`), "utf8").split("\n")) {
    const match = /^(\w+) = ([0-9a-f]+)$/.exec(line.trim());
    if (match?.[1] && match[2]) fields.set(match[1], match[2]);
  }
  return { dk: fromHex(fields.get("dk") ?? ""), c: fromHex(fields.get("c") ?? ""), K: fromHex(fields.get("K") ?? "") };
}

/** The CCTV invalid encapsulation keys (a coefficient ≥ q). */
export function cctvInvalidModulusKeys(): Uint8Array[] {
  return gunzipSync(readFileSync(join(DIR, "modulus.txt.gz")))
    .toString("utf8")
    .split("\n")
    .filter((line) => line.trim().length > 0)
    .map((line) => fromHex(line.trim()));
}

/** The X-Wing draft's test vectors. */
export function xwingVectors(): { seed: string; sk: string; pk: string; eseed: string; ct: string; ss: string }[] {
  return JSON.parse(readFileSync(join(DIR, "xwing-test-vectors.json"), "utf8"));
}

/** The accumulated-vector result of 10,000 tests for final FIPS 203 ML-KEM-768. */
export const ACCUMULATED_10000 = "f959d18d3d1180121433bf0e05f11e7908cf9d03edc150b2b07cb90bef5bc1c1";
