// Writes docs/asyncapi.yaml from the zod contracts (`bun run docs:asyncapi`).
import { join } from "node:path";
import { renderAsyncApi } from "./asyncapi.ts";

const target = join(import.meta.dir, "..", "..", "..", "docs", "asyncapi.yaml");
await Bun.write(target, renderAsyncApi());
process.stdout.write(`wrote ${target}\n`);
