// Answers hellos on a UDP port until SIGTERM: a stand-in for a neighbour's monitor in lab namespaces.
// usage: bun hello-responder.ts <port>
import { Prober } from "../probes/prober.ts";

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  process.stderr.write("usage: hello-responder.ts <port>\n");
  process.exit(64);
}
const responder = await Prober.start({ peers: [], port, intervalMs: 1000, timeoutMs: 1000, window: 1 });
process.stdout.write(`ready ${responder.port}\n`);
process.once("SIGTERM", () => {
  responder.close();
  process.exit(0);
});
