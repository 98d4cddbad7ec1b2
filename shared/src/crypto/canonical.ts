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
    case "object":
      if (value === null) return "null";
      if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(",")}]`;
      return canonicalObject(value as Record<string, unknown>);
    default:
      throw new InvalidCryptoInput(`cannot canonicalise a ${typeof value}`);
  }
}

/**
 * The canonical JSON text of `record` with the members of `replace` put in place of (or added to) its own: the same
 * text as canonicalJson({ ...record, ...replace }), without copying the record (signing covers a message with its
 * signature replaced by the signature's metadata, on every sign and verify).
 */
export function canonicalObject(record: Record<string, unknown>, replace?: Record<string, unknown>): string {
  const keys = Object.keys(record);
  if (replace) for (const key of Object.keys(replace)) if (!Object.hasOwn(record, key)) keys.push(key);
  keys.sort();
  // String concatenation: JSC builds ropes, cheaper than arrays joined at every level.
  let text = "{";
  for (const key of keys) {
    const member = replace !== undefined && Object.hasOwn(replace, key) ? replace[key] : record[key];
    if (member === undefined) continue;
    if (text.length > 1) text += ",";
    text += `${JSON.stringify(key)}:${canonicalJson(member)}`;
  }
  return `${text}}`;
}
