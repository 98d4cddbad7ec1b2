// The crypto service's Prometheus metrics: the post-quantum backend in use, and API requests by endpoint and outcome.
import type { PqBackend } from "@x0/shared";
import { Counter, Gauge, type Registry } from "prom-client";

/** The crypto service's own metrics. */
export interface CryptoMetrics {
  /** API requests, by endpoint and outcome (2xx, 4xx, 5xx). */
  requests: Counter<"endpoint" | "outcome">;
}

/** Registers the crypto service's metrics in `registry`, with `backend` shown as the one in use. */
export function createCryptoMetrics(registry: Registry, backend: Pick<PqBackend, "name" | "version">): CryptoMetrics {
  const registers = [registry];
  const backendInfo = new Gauge({
    name: "x0_crypto_backend_info",
    help: "The post-quantum backend in use (value 1), by backend and version.",
    labelNames: ["backend", "version"],
    registers,
  });
  backendInfo.set({ backend: backend.name, version: backend.version }, 1);
  const requests = new Counter({
    name: "x0_crypto_requests_total",
    help: "Crypto API requests, by endpoint and outcome (2xx, 4xx, 5xx).",
    labelNames: ["endpoint", "outcome"],
    registers,
  });
  return { requests };
}
