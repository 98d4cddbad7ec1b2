// JSON files that describe something running (the stack, a lab): read against a zod schema, written atomically.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";

/** The error class a caller wants its file's failures reported as. */
type FileErrorClass = new (message: string, options?: ErrorOptions) => Error;

/**
 * Reads a JSON file and checks it against `schema`; undefined when the file does not exist. A file that cannot be read, is
 * not JSON or does not match throws `FileError`, whose message names the file and says it does not describe `what`.
 */
export function readJsonFile<S extends z.ZodType>(path: string, schema: S, what: string, FileError: FileErrorClass): z.output<S> | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new FileError(`cannot read ${path}`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new FileError(`${path} is not valid JSON`, { cause: error });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new FileError(`${path} does not describe ${what}: ${z.prettifyError(parsed.error)}`, { cause: parsed.error });
  return parsed.data;
}

/** Writes `value` as indented JSON atomically (a reader never sees half of it); a failure throws `FileError`. */
export function writeJsonFile(path: string, value: unknown, FileError: FileErrorClass): void {
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(temporary, `${JSON.stringify(value, null, 2)}\n`);
    renameSync(temporary, path);
  } catch (error) {
    throw new FileError(`cannot write ${path}`, { cause: error });
  }
}
