// The standard OTEL_* variables that configure tracing, validated at start like the rest of the config. The
// OpenTelemetry SDK reads them from process.env itself; checking them here stops a service on a typo the SDK would only warn about.
import { z } from "zod";

/**
 * A comma-separated `key=value` list with percent-encoded keys and values, read as the SDK reads it: OTEL_RESOURCE_ATTRIBUTES
 * (`strict`: one '=' and at most 255 characters a side, or the SDK drops every attribute) or OTEL_EXPORTER_OTLP_HEADERS.
 */
function keyValueListSchema({ strict }: { strict: boolean }) {
  return z.string().superRefine((list, ctx) => {
    for (const pair of list.split(",")) {
      if (pair.trim() === "") continue;
      const problem = pairProblem(pair, strict);
      if (problem) {
        // Headers often carry a token: only a resource attribute is quoted back.
        const where = strict ? ` in "${pair}"` : "";
        ctx.addIssue({ code: "custom", message: `${problem}${where} (expected key=value,key=value with ',' and '=' percent-encoded)` });
        return;
      }
    }
  });
}

function pairProblem(pair: string, strict: boolean): string | undefined {
  const at = pair.indexOf("=");
  const [key, value] = at < 0 ? [pair, ""] : [pair.slice(0, at).trim(), pair.slice(at + 1).trim()];
  if (at < 0 || key === "") return "no key=value";
  if (strict && value.includes("=")) return "a second '='";
  if (!strict && value === "") return "an empty value";
  let decoded: [string, string];
  try {
    decoded = [decodeURIComponent(key), decodeURIComponent(value)];
  } catch {
    return "invalid percent-encoding";
  }
  if (strict && decoded.some((side) => side.length > 255)) return "more than 255 characters";
  return undefined;
}

/** The trace exporters the Node SDK knows. */
const TRACE_EXPORTERS = ["otlp", "console", "zipkin", "none"] as const;

/** The samplers OTEL_TRACES_SAMPLER may name (the spec's, less jaeger_remote and xray which the Node SDK lacks). */
const SAMPLERS = ["always_on", "always_off", "traceidratio", "parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio"] as const;

const protocolSchema = z.enum(["grpc", "http/protobuf", "http/json"]);

/** An http(s) URL: a bare `collector:4318` would parse as a URL of scheme `collector:`. */
const endpointSchema = z.url({ protocol: /^https?$/, error: "expected an http:// or https:// URL" });

/** The OTEL_* settings every service reads; spread into the base config. */
export const otelConfigShape = {
  OTEL_SDK_DISABLED: z
    .string()
    .transform((value) => value.toLowerCase())
    .pipe(z.enum(["true", "false"]))
    .default("false")
    .transform((value) => value === "true")
    .describe("`true` turns the OpenTelemetry SDK off: no span is exported whatever else is set."),
  OTEL_SERVICE_NAME: z
    .string()
    .min(1)
    .optional()
    .describe("service.name of the traces [`x0-<service>`]; wins over a service.name in OTEL_RESOURCE_ATTRIBUTES."),
  OTEL_RESOURCE_ATTRIBUTES: keyValueListSchema({ strict: true })
    .optional()
    .describe("Extra resource attributes, `key=value,...` (e.g. `deployment.environment.name=prod`); they override x0tta6bl4's own."),
  OTEL_TRACES_EXPORTER: z
    .string()
    .transform((list) =>
      list
        .split(",")
        .map((item) => item.trim())
        .filter(Boolean),
    )
    .pipe(
      z
        .array(z.enum(TRACE_EXPORTERS))
        .refine((exporters) => !exporters.includes("none") || exporters.length === 1, "none cannot be combined with other exporters"),
    )
    .optional()
    .describe("Comma-separated trace exporters: otlp, console, zipkin or none [otlp when an OTLP endpoint is set, else none]."),
  OTEL_TRACES_SAMPLER: z.enum(SAMPLERS).optional().describe("Which spans are sampled [parentbased_always_on]."),
  OTEL_TRACES_SAMPLER_ARG: z
    .string()
    .refine((value) => value.trim() !== "" && Number(value) >= 0 && Number(value) <= 1, "expected a ratio between 0 and 1")
    .optional()
    .describe("The ratio of the traceidratio samplers, 0 to 1 [1]."),
  OTEL_EXPORTER_OTLP_ENDPOINT: endpointSchema
    .optional()
    .describe("OTLP collector base URL (http://collector:4318; /v1/traces is appended over HTTP); tracing is off unless this or another exporter is set."),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: endpointSchema.optional().describe("Full OTLP traces URL, used as is; wins over OTEL_EXPORTER_OTLP_ENDPOINT."),
  OTEL_EXPORTER_OTLP_PROTOCOL: protocolSchema.optional().describe("OTLP transport: grpc, http/protobuf or http/json [http/protobuf]."),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: protocolSchema.optional().describe("OTLP transport of traces; wins over OTEL_EXPORTER_OTLP_PROTOCOL."),
  OTEL_EXPORTER_OTLP_HEADERS: keyValueListSchema({ strict: false })
    .optional()
    .describe("Headers sent with every OTLP request, `key=value,...` (e.g. `authorization=Bearer%20...`)."),
  OTEL_EXPORTER_OTLP_TRACES_HEADERS: keyValueListSchema({ strict: false })
    .optional()
    .describe("Headers sent with OTLP trace requests, merged over OTEL_EXPORTER_OTLP_HEADERS."),
};

/** The parsed OTEL_* settings. */
export type OtelConfig = z.infer<z.ZodObject<typeof otelConfigShape>>;

/**
 * Whether spans are exported: the SDK is not disabled and an exporter is configured (an OTLP endpoint,
 * or OTEL_TRACES_EXPORTER other than none). Without one the SDK is not even loaded.
 */
export function tracingEnabled(config: OtelConfig): boolean {
  if (config.OTEL_SDK_DISABLED) return false;
  const exporters = config.OTEL_TRACES_EXPORTER ?? [];
  if (exporters.includes("none")) return false;
  return exporters.length > 0 || config.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined || config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT !== undefined;
}
