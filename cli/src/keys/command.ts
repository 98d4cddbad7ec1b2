// `x0 keys`: the KEK in a PKCS#11 token. `hsm init` creates it inside the token; `rewrap --to pkcs11` moves the sealed
// keys of X0_KEY_DIR from the file KEK to it (services/crypto/README.md, "KEK in an HSM").
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createHsmKey, createLogger, fileKek, HsmKek, type KekSource, loadKek, type Pkcs11Settings, readPinFile } from "@x0/shared";
import { UsageError } from "../errors.ts";
import { stateDirOf } from "../paths.ts";
import type { Output } from "../status/command.ts";
import { rewrapKeys } from "./rewrap.ts";

/** Usage text of `x0 keys`. */
export const KEYS_USAGE = `Usage: x0 keys <hsm init | rewrap --to pkcs11> [options]

  hsm init              create the key-encryption key inside a PKCS#11 token: AES-256, on the token, private,
                        sensitive, never extractable (nothing happens when a key of that label exists)
  rewrap --to pkcs11    reseal every private key in the key folder that a file KEK sealed, with the token's KEK,
                        one record at a time; safe to stop and run again. Services read both while it runs when they
                        have X0_KEK_SOURCE=pkcs11 and still X0_KEK or X0_KEK_FILE.

Options (default: the X0_* variable of the same meaning):
  --module <path>     PKCS#11 module (X0_PKCS11_MODULE)
  --token <label>     token label (X0_PKCS11_TOKEN)
  --label <label>     key label (X0_PKCS11_KEY_LABEL, default x0-kek)
  --pin-file <file>   the user PIN, in a file readable by its owner only (X0_PKCS11_PIN_FILE)
  --dir <path>        rewrap: the key folder (X0_KEY_DIR, default <state dir>/keys); the file KEK is X0_KEK,
                      X0_KEK_FILE or that folder's development KEK
  --json              print JSON
  -h, --help          print this help`;

interface Values {
  module?: string;
  token?: string;
  label?: string;
  "pin-file"?: string;
  dir?: string;
  to?: string;
  json?: boolean;
  help?: boolean;
}

/** The token settings from flags, else the environment; UsageError naming what is missing. */
export function pkcs11Settings(values: Values, env: Record<string, string | undefined>): Pkcs11Settings {
  const pick = (flag: keyof Values, variable: string) => {
    const value = (values[flag] as string | undefined) ?? env[variable];
    if (!value) throw new UsageError(`give --${flag} or set ${variable}`);
    return value;
  };
  return {
    module: pick("module", "X0_PKCS11_MODULE"),
    token: pick("token", "X0_PKCS11_TOKEN"),
    keyLabel: values.label ?? env.X0_PKCS11_KEY_LABEL ?? "x0-kek",
    pin: readPinFile(pick("pin-file", "X0_PKCS11_PIN_FILE")),
  };
}

/** Runs `x0 keys`; 0 on success. */
export async function runKeys(argv: readonly string[], env: Record<string, string | undefined>, output: Output): Promise<number> {
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        module: { type: "string" },
        token: { type: "string" },
        label: { type: "string" },
        "pin-file": { type: "string" },
        dir: { type: "string" },
        to: { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: true,
    }) as { values: Values; positionals: string[] };
  } catch (error) {
    throw new UsageError((error as Error).message, { cause: error });
  }
  const { values, positionals } = parsed;
  if (values.help || positionals.length === 0) {
    output.out(KEYS_USAGE);
    return values.help ? 0 : 2;
  }
  const print = (json: unknown, text: string) => output.out(values.json ? JSON.stringify(json, null, 2) : text);
  const logger = createLogger({ service: "x0-keys", node: "-", level: "warn" });
  const command = positionals.join(" ");
  if (command === "hsm init") {
    const settings = pkcs11Settings(values, env);
    const { created } = createHsmKey(settings);
    // Opening it as the services will checks what they check: AES-256, sensitive, not extractable.
    HsmKek.open(settings, logger).close();
    print(
      { token: settings.token, label: settings.keyLabel, created },
      created
        ? `created the KEK "${settings.keyLabel}" in token "${settings.token}"`
        : `token "${settings.token}" already holds a KEK "${settings.keyLabel}"; left as it is`,
    );
    return 0;
  }
  if (positionals[0] === "rewrap") {
    if (values.to !== "pkcs11") throw new UsageError("rewrap needs --to pkcs11 (the only direction: from a file KEK into a token)");
    const dir = values.dir ?? env.X0_KEY_DIR ?? join(stateDirOf(env), "keys");
    if (!existsSync(dir)) throw new UsageError(`no key folder ${dir}`);
    const source = loadKek({ kek: env.X0_KEK, kekFile: env.X0_KEK_FILE, dir, logger });
    const to = HsmKek.open(pkcs11Settings(values, env), logger);
    try {
      const report = rewrapKeys(dir, fileKek(source.kek, source.source as Exclude<KekSource, "pkcs11">), to);
      print(report, `${report.moved} key(s) resealed in the token, ${report.already} already there, in ${report.files} key file(s) of ${dir}`);
      return 0;
    } finally {
      to.close();
    }
  }
  throw new UsageError(`unknown keys command ${JSON.stringify(command)}`);
}
