// Sends a known number of UDP datagrams of a known size (run inside a lab namespace by tests and the benchmark).
// usage: bun udp-send.ts <dst-ip> <port> <count> <payload-bytes> [batch]
export {};

const [dst, port, count, size, batch = "64"] = process.argv.slice(2);
if (!dst || !port || !count || !size) {
  process.stderr.write("usage: udp-send.ts <dst-ip> <port> <count> <payload-bytes> [batch]\n");
  process.exit(64);
}
const socket = await Bun.udpSocket({
  socket: {
    // ICMP port-unreachable replies (nobody listening) are expected and do not change what was sent.
    // Bun 1.4.5 passes the error first at run time although its types say (socket, error): accept either.
    error(...args: unknown[]) {
      const error = args.find((arg) => arg instanceof Error) as NodeJS.ErrnoException | undefined;
      if (error && error.code !== "ECONNREFUSED") throw error;
    },
  },
});
const payload = Buffer.alloc(Number(size), 0x78);
const perBatch = Number(batch);
let sent = 0;
while (sent < Number(count)) {
  // send() is false when the socket buffer is full, and throws ECONNREFUSED for an earlier ICMP port-unreachable
  // (that datagram did not leave): retry the same datagram so exactly `count` leave.
  let ok: boolean;
  try {
    ok = socket.send(payload, Number(port), dst);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ECONNREFUSED") throw error;
    ok = false;
  }
  if (ok) sent++;
  else await Bun.sleep(1);
  // Pause between batches so the veth backlog drains before XDP (an overflow would drop before the program sees it).
  if (sent % perBatch === 0) await Bun.sleep(1);
}
socket.close();
process.stdout.write(`${sent}\n`);
