// Canonical JSON (RFC 8785 JCS for the values x0 messages hold): the bytes a signature covers.
import { InvalidCryptoInput } from "./errors.ts";

/**
 * The canonical JSON text of `value`: object keys sorted by UTF-16 code units, no whitespace,
 * ECMAScript number and string serialisation (as JCS); `undefined` members are left out.
 * @example canonicalJson({ b: 1, a: [true, "x"] }) // '{"a":[true,"x"],"b":1}'
 */
export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case "string":
    case "boolean":
      return JSON.stringify(value);
    case "number":
      if (!Number.isFinite(value)) throw new InvalidCryptoInput(`cannot canonicalise the number ${value}`);
      return JSON.stringify(value);
    case "object": {
      if (value === null) return "null";
      if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(",")}]`;
      const record = value as Record<string, unknown>;
      const members: string[] = [];
      for (const key of Object.keys(record).sort()) {
        if (record[key] === undefined) continue;
        members.push(`${JSON.stringify(key)}:${canonicalJson(record[key])}`);
      }
      return `{${members.join(",")}}`;
    }
    default:
      throw new InvalidCryptoInput(`cannot canonicalise a ${typeof value}`);
  }
}
