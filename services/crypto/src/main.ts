// Crypto service: the key authority (keyring, rotation orders, revocation) and the remote post-quantum API.
import { cryptoConfigShape, openControlPlaneCrypto, runService } from "@x0/shared";
import { Counter, Gauge } from "prom-client";
import pkg from "../package.json" with { type: "json" };
import { createHandlers } from "./api/handlers.ts";
import { serveCrypto } from "./api/service.ts";

await runService({
  name: "crypto",
  version: pkg.version,
  httpPort: 9105,
  config: cryptoConfigShape,
  async start({ config, nc, logger, metrics, counters, track, onStop }) {
    const crypto = await openControlPlaneCrypto({ service: "crypto", config, nc, logger });
    onStop(() => crypto.stop());
    new Gauge({
      name: "x0_crypto_backend_info",
      help: "The post-quantum backend in use (value 1), by backend and version.",
      labelNames: ["backend", "version"],
      registers: [metrics.registry],
    }).set({ backend: crypto.backend.name, version: crypto.backend.version }, 1);
    const requests = new Counter({
      name: "x0_crypto_requests_total",
      help: "Crypto API requests, by endpoint and outcome (2xx, 4xx, 5xx).",
      labelNames: ["endpoint", "outcome"],
      registers: [metrics.registry],
    });
    const service = await serveCrypto({
      nc,
      handlers: createHandlers(crypto),
      version: pkg.version,
      metadata: { backend: crypto.backend.name, backend_version: crypto.backend.version, hybrid: "X-Wing" },
      requests,
      logger,
    });
    counters.keys = crypto.keyring.list().length;
    crypto.keyring.onChange(() => {
      counters.keys = crypto.keyring.list().length;
    });
    track({ name: "service x0-crypto", isLive: () => !service.isStopped, stop: async () => void (await service.stop()) });
  },
});
