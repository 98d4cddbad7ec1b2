// A minimal service that runtime.test.ts runs as its own process: one variable of its own, one tracked subscription
// (`fixture.work`, counted), and a stop hook; both say on stdout when they ran.
import { z } from "zod";
import { runService } from "./runtime.ts";

await runService({
  name: "fixture",
  version: "0.0.1",
  httpPort: 0,
  config: {
    /** A positive whole number: the test sets it wrong to see the service refuse to start. */
    X0_FIXTURE_LIMIT: z.coerce.number().int().positive().default(1),
  },
  async start({ nc, track, onStop }) {
    let handled = 0;
    const work = nc.subscribe("fixture.work", { callback: () => void handled++ });
    track({
      name: "subscription fixture.work",
      isLive: () => !work.isClosed(),
      stop: async () => {
        await work.drain();
        process.stdout.write(`fixture: subscription drained after ${handled} messages\n`);
      },
    });
    onStop(() => void process.stdout.write(`fixture: stop hook ran, NATS still open: ${!nc.isClosed()}\n`));
  },
});
