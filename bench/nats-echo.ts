// A NATS responder that answers every request on its subject with a fixed body: the round-trip floor bench:rag
// compares the rag's search against (same server, same client library, a reply of the same size).
import { connect } from "@nats-io/transport-node";

const [url, subject, bytes] = [process.argv[2] as string, process.argv[3] as string, Number(process.argv[4])];
const nc = await connect({ servers: url });
const body = JSON.stringify({ pad: "x".repeat(Math.max(0, bytes - 10)) });
const sub = nc.subscribe(subject);
await nc.flush();
process.stdout.write("ready\n");
for await (const msg of sub) msg.respond(body);
