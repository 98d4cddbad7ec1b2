// Crypto service: the key authority (keyring, rotation orders, revocation) and the remote post-quantum API.
import { openControlPlaneCrypto, runService } from "@x0/shared";
import pkg from "../package.json" with { type: "json" };
import { createHandlers } from "./api/handlers.ts";
import { serveCrypto } from "./api/service.ts";
import { cryptoServiceConfigShape } from "./config.ts";
import { createCryptoMetrics } from "./metrics.ts";

await runService({
  name: "crypto",
  version: pkg.version,
  httpPort: 9105,
  config: cryptoServiceConfigShape,
  async start({ config, nc, logger, metrics, counters, track, onStop, discovery }) {
    const crypto = await openControlPlaneCrypto({ service: "crypto", config, nc, logger });
    // A KEK held in a token: the service is not ready while the token cannot be reached.
    track(crypto.kekHealth);
    onStop(() => crypto.stop());
    const { requests } = createCryptoMetrics(metrics.registry, crypto.backend);
    const service = await serveCrypto({
      nc,
      handlers: createHandlers(crypto),
      version: pkg.version,
      // discovery: where x0 status finds this instance's /status.
      metadata: { ...discovery, backend: crypto.backend.name, backend_version: crypto.backend.version, hybrid: "X-Wing" },
      requests,
      logger,
    });
    const countKeys = () => {
      counters.keys = crypto.keyring.list().length;
    };
    countKeys();
    crypto.keyring.onChange(countKeys);
    track({ name: "service x0-crypto", isLive: () => !service.isStopped, stop: async () => void (await service.stop()) });
  },
});
