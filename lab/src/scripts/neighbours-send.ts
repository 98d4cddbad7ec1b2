// Keeps `count` neighbours alive: one small datagram from each source address every `everyMs` for `seconds`.
// usage: bun neighbours-send.ts <dst-ip> <port> <seconds> <everyMs> <src-ip>...
export {};

const [dst, port, seconds, everyMs, ...sources] = process.argv.slice(2);
if (!dst || !port || !seconds || !everyMs || sources.length === 0) {
  process.stderr.write("usage: neighbours-send.ts <dst-ip> <port> <seconds> <everyMs> <src-ip>...\n");
  process.exit(64);
}
// ICMP errors from the target (nobody listens on the port) are expected and change nothing here.
const sockets = await Promise.all(sources.map((hostname) => Bun.udpSocket({ hostname, socket: { error: () => {} } })));
const payload = Buffer.alloc(32, 0x6e);
const end = performance.now() + Number(seconds) * 1000;
let sent = 0;
while (performance.now() < end) {
  for (const socket of sockets) if (socket.send(payload, Number(port), dst)) sent++;
  await Bun.sleep(Number(everyMs));
}
for (const socket of sockets) socket.close();
process.stdout.write(`${sent}\n`);
