// Answers hellos on a UDP port until SIGTERM, as a neighbour's monitor does: a stand-in for one in lab namespaces.
// usage: bun hello-responder.ts <port>
import { decodeHello, encodeHello, HelloType } from "../monitor-api.ts";

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  process.stderr.write("usage: hello-responder.ts <port>\n");
  process.exit(64);
}
const socket = await Bun.udpSocket({
  port,
  hostname: "0.0.0.0",
  socket: {
    data(sock, data, fromPort, fromAddress) {
      const hello = decodeHello(data);
      if (hello?.type === HelloType.HELLO) sock.send(encodeHello({ ...hello, type: HelloType.REPLY, repliedMs: performance.now() }), fromPort, fromAddress);
    },
    // ICMP errors for replies to a peer that went away: the peer counts those hellos as lost.
    error() {},
  },
});
process.stdout.write(`ready ${socket.port}\n`);
process.once("SIGTERM", () => {
  socket.close();
  process.exit(0);
});
