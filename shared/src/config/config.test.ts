import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { ConfigError } from "../errors.ts";
import { baseConfigShape, describeConfig, loadConfig } from "./config.ts";

const shape = { X0_COUNT: z.coerce.number().int().min(1).default(3), X0_NAME: z.string().min(1) };

function file(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), "x0-config-")), "x0.yaml");
  writeFileSync(path, text);
  return path;
}

describe("config", () => {
  test("config - env values are validated and defaults applied", () => {
    expect(loadConfig(shape, { env: { X0_NAME: "a" } })).toEqual({ X0_COUNT: 3, X0_NAME: "a" });
    expect(loadConfig(shape, { env: { X0_NAME: "a", X0_COUNT: "7" } }).X0_COUNT).toBe(7);
  });

  test("config - a missing required variable is named", () => {
    expect(() => loadConfig(shape, { env: {} })).toThrow(ConfigError);
    expect(() => loadConfig(shape, { env: {} })).toThrow(/X0_NAME: .*it is not set/);
  });

  test("config - an invalid value names the variable and shows what was given", () => {
    try {
      loadConfig(shape, { env: { X0_NAME: "a", X0_COUNT: "0" } });
      throw new Error("expected a ConfigError");
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).variable).toBe("X0_COUNT");
      expect((error as ConfigError).message).toContain('got "0"');
      expect((error as ConfigError).cause).toBeDefined();
    }
  });

  test("config - the file named by X0_CONFIG_FILE is read and the environment overrides it", () => {
    const path = file("X0_NAME: from-file\nX0_COUNT: 5\n");
    expect(loadConfig(shape, { env: { X0_CONFIG_FILE: path } })).toEqual({ X0_COUNT: 5, X0_NAME: "from-file" });
    expect(loadConfig(shape, { env: { X0_CONFIG_FILE: path, X0_COUNT: "9" } }).X0_COUNT).toBe(9);
  });

  test("config - an empty variable counts as unset", () => {
    expect(loadConfig(shape, { env: { X0_NAME: "a", X0_COUNT: "" } }).X0_COUNT).toBe(3);
  });

  test("config - an unreadable or malformed file is an error on X0_CONFIG_FILE", () => {
    expect(() => loadConfig(shape, { env: { X0_CONFIG_FILE: "/nonexistent.yaml" } })).toThrow(/X0_CONFIG_FILE: cannot read/);
    expect(() => loadConfig(shape, { env: { X0_CONFIG_FILE: file("- a\n- b\n") } })).toThrow(/X0_CONFIG_FILE: .*mapping/);
    expect(() => loadConfig(shape, { env: { X0_CONFIG_FILE: file("a: [") } })).toThrow(/X0_CONFIG_FILE: .*not valid YAML/);
  });

  test("config - the base settings split the server list and check the node token", () => {
    const base = loadConfig(baseConfigShape, { env: { X0_NATS_SERVERS: "nats://a:4222, nats://b:4222", X0_NODE: "n-1" } });
    expect(base.X0_NATS_SERVERS).toEqual(["nats://a:4222", "nats://b:4222"]);
    expect(() => loadConfig(baseConfigShape, { env: { X0_NODE: "a.b" } })).toThrow(/X0_NODE/);
    expect(() => loadConfig(baseConfigShape, { env: { OTEL_EXPORTER_OTLP_ENDPOINT: "not a url" } })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT/);
  });

  test("config - a bad value that may hold a credential is named but not echoed", () => {
    const headers = "authorization=Bearer%20s3cr3t,broken";
    const error = (() => {
      try {
        loadConfig(baseConfigShape, { env: { OTEL_EXPORTER_OTLP_HEADERS: headers } });
      } catch (thrown) {
        return thrown as Error;
      }
    })();
    expect(error?.message).toContain("OTEL_EXPORTER_OTLP_HEADERS");
    expect(error?.message).toContain("value withheld");
    expect(error?.message).not.toContain("s3cr3t");
  });

  test("config - JetStream replicas default to 1 and accept only an odd quorum of at most 5", () => {
    expect(loadConfig(baseConfigShape, { env: {} }).X0_JS_REPLICAS).toBe(1);
    expect(loadConfig(baseConfigShape, { env: { X0_JS_REPLICAS: "3" } }).X0_JS_REPLICAS).toBe(3);
    for (const bad of ["2", "7", "0", "three"]) expect(() => loadConfig(baseConfigShape, { env: { X0_JS_REPLICAS: bad } })).toThrow(/X0_JS_REPLICAS/);
  });

  test("config - describeConfig lists each variable, whether it is required and its default", () => {
    expect(describeConfig(shape)).toEqual([
      { name: "X0_COUNT", required: false, default: 3 },
      { name: "X0_NAME", required: true },
    ]);
    const base = describeConfig(baseConfigShape);
    expect(base.find((variable) => variable.name === "X0_NODE")).toEqual({ name: "X0_NODE", required: false });
    expect(base.find((variable) => variable.name === "X0_NATS_SERVERS")?.default).toEqual(["nats://127.0.0.1:4222"]);
  });
});
