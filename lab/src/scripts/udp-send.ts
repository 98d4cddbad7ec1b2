// Sends a known number of UDP datagrams of a known size (run inside a lab namespace by tests and the benchmark).
// usage: bun udp-send.ts <dst-ip> <port> <count> <payload-bytes> [batch]
import { openSenderSocket } from "./udp-socket.ts";

const [dst, port, count, size, batch = "64"] = process.argv.slice(2);
if (!dst || !port || !count || !size) {
  process.stderr.write("usage: udp-send.ts <dst-ip> <port> <count> <payload-bytes> [batch]\n");
  process.exit(64);
}
const socket = await openSenderSocket();
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
