// `x0 keys`: the KEK in a PKCS#11 token. `hsm init` creates it inside the token; `rewrap --to pkcs11` moves the sealed
// keys of X0_KEY_DIR from the file KEK to it (services/crypto/README.md, "KEK in an HSM").
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createHsmKey, createLogger, fileKek, HsmKek, type KekSource, loadKek, type Pkcs11Settings, readPinFile } from "@x0/shared";
import { UsageError } from "../errors.ts";
import { stateDirOf } from "../paths.ts";
import { type CommandSpec, type FlagSpecs, parseCommandArgs } from "../spec.ts";
import type { Output } from "../status/command.ts";
import { rewrapKeys } from "./rewrap.ts";

const TOKEN_FLAGS = {
  module: { type: "string", value: "path", path: true, help: "PKCS#11 module (default X0_PKCS11_MODULE)" },
  token: { type: "string", value: "label", help: "token label (default X0_PKCS11_TOKEN)" },
  label: { type: "string", value: "label", help: "key label (default X0_PKCS11_KEY_LABEL, else x0-kek)" },
  "pin-file": {
    type: "string",
    value: "file",
    path: true,
    help: "the user PIN, in a file readable by its owner only (default X0_PKCS11_PIN_FILE)",
  },
  json: { type: "boolean", help: "print JSON" },
} as const satisfies FlagSpecs;

/** `x0 keys` in the command table. */
export const KEYS_SPEC = {
  name: "keys",
  summary: "the key-encryption key (KEK) in a PKCS#11 token",
  description: 'The key-encryption key in a PKCS#11 token (services/crypto/README.md, "KEK in an HSM").',
  commands: [
    {
      name: "hsm",
      summary: "the KEK inside a token",
      commands: [
        {
          name: "init",
          summary: "create the KEK inside a PKCS#11 token",
          description:
            "Creates the key-encryption key inside a PKCS#11 token: AES-256, on the token, private, sensitive, never extractable. Nothing happens when a key of that label exists.",
          flags: TOKEN_FLAGS,
        },
      ],
    },
    {
      name: "rewrap",
      summary: "reseal the key folder's private keys with the token's KEK",
      description:
        "Reseals every private key in the key folder that a file KEK sealed with the token's KEK, one record at a time; safe to stop and run again. Services read both while it runs when they have X0_KEK_SOURCE=pkcs11 and still X0_KEK or X0_KEK_FILE.",
      flags: {
        to: { type: "string", value: "pkcs11", choices: ["pkcs11"], help: "where to: pkcs11 (the only direction: from a file KEK into a token)" },
        dir: {
          type: "string",
          value: "path",
          path: true,
          help: "the key folder (default X0_KEY_DIR, else <state dir>/keys); the file KEK is X0_KEK, X0_KEK_FILE or that folder's development KEK",
        },
        ...TOKEN_FLAGS,
      },
    },
  ],
} as const satisfies CommandSpec;

interface Values {
  module?: string;
  token?: string;
  label?: string;
  "pin-file"?: string;
  dir?: string;
  to?: string;
  json?: boolean;
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
  const { values, positionals } = parseCommandArgs<Values>(KEYS_SPEC, argv);
  if (positionals.length === 0) throw new UsageError("keys needs a command: hsm init or rewrap");
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
