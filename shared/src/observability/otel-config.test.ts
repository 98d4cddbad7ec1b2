import { describe, expect, test } from "bun:test";
import { loadConfig } from "../config/config.ts";
import { ConfigError } from "../errors.ts";
import { otelConfigShape, tracingEnabled } from "./otel-config.ts";

const load = (env: Record<string, string>) => loadConfig(otelConfigShape, { env });

/** The variable a rejected environment names. */
function refused(env: Record<string, string>): string | undefined {
  try {
    load(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.variable;
    throw error;
  }
  return undefined;
}

describe("otel-config", () => {
  test("otel-config - tracing is on only with an exporter configured and the SDK not disabled", () => {
    expect(tracingEnabled(load({}))).toBe(false);
    expect(tracingEnabled(load({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" }))).toBe(true);
    expect(tracingEnabled(load({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://collector:4318/v1/traces" }))).toBe(true);
    expect(tracingEnabled(load({ OTEL_TRACES_EXPORTER: "console" }))).toBe(true);
    expect(tracingEnabled(load({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318", OTEL_TRACES_EXPORTER: "none" }))).toBe(false);
    expect(tracingEnabled(load({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318", OTEL_SDK_DISABLED: "TRUE" }))).toBe(false);
    expect(tracingEnabled(load({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318", OTEL_SDK_DISABLED: "false" }))).toBe(true);
  });

  test("otel-config - valid standard values are accepted", () => {
    const config = load({
      OTEL_SERVICE_NAME: "mesh-analyzer",
      OTEL_RESOURCE_ATTRIBUTES: "deployment.environment.name=test,team=mesh%20ops",
      OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
      OTEL_TRACES_SAMPLER_ARG: "0.25",
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_EXPORTER_OTLP_HEADERS: "authorization=Bearer%20abc==,x-tenant=mesh",
      OTEL_TRACES_EXPORTER: "otlp, console",
    });
    expect(config.OTEL_TRACES_EXPORTER).toEqual(["otlp", "console"]);
    expect(config.OTEL_SDK_DISABLED).toBe(false);
  });

  test("otel-config - a bad value stops the service naming the variable", () => {
    expect(refused({ OTEL_SDK_DISABLED: "yes" })).toBe("OTEL_SDK_DISABLED");
    expect(refused({ OTEL_TRACES_SAMPLER: "ratio" })).toBe("OTEL_TRACES_SAMPLER");
    expect(refused({ OTEL_TRACES_SAMPLER_ARG: "1.5" })).toBe("OTEL_TRACES_SAMPLER_ARG");
    expect(refused({ OTEL_TRACES_SAMPLER_ARG: "half" })).toBe("OTEL_TRACES_SAMPLER_ARG");
    expect(refused({ OTEL_TRACES_EXPORTER: "jaeger" })).toBe("OTEL_TRACES_EXPORTER");
    expect(refused({ OTEL_TRACES_EXPORTER: "otlp,none" })).toBe("OTEL_TRACES_EXPORTER");
    expect(refused({ OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" })).toBe("OTEL_EXPORTER_OTLP_ENDPOINT");
    expect(refused({ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http" })).toBe("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL");
    expect(refused({ OTEL_EXPORTER_OTLP_HEADERS: "authorization" })).toBe("OTEL_EXPORTER_OTLP_HEADERS");
    expect(refused({ OTEL_EXPORTER_OTLP_HEADERS: "x-tenant=%zz" })).toBe("OTEL_EXPORTER_OTLP_HEADERS");
  });

  test("otel-config - resource attributes the SDK would drop whole are refused: a bare '=', an empty key, over 255 characters", () => {
    expect(refused({ OTEL_RESOURCE_ATTRIBUTES: "team=a=b" })).toBe("OTEL_RESOURCE_ATTRIBUTES");
    expect(refused({ OTEL_RESOURCE_ATTRIBUTES: "=mesh" })).toBe("OTEL_RESOURCE_ATTRIBUTES");
    expect(refused({ OTEL_RESOURCE_ATTRIBUTES: `team=${"m".repeat(256)}` })).toBe("OTEL_RESOURCE_ATTRIBUTES");
    expect(refused({ OTEL_RESOURCE_ATTRIBUTES: "team=a%3Db" })).toBeUndefined();
  });
});
