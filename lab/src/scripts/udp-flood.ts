// Sends UDP datagrams as fast as it can for a while (benchmark load; pktgen is not available everywhere).
// usage: bun udp-flood.ts <dst-ip> <port> <seconds> <payload-bytes>   → prints the number of datagrams sent
import { openSenderSocket } from "./udp-socket.ts";

const [dst, port, seconds, size] = process.argv.slice(2);
if (!dst || !port || !seconds || !size) {
  process.stderr.write("usage: udp-flood.ts <dst-ip> <port> <seconds> <payload-bytes>\n");
  process.exit(64);
}
const socket = await openSenderSocket();
const payload = Buffer.alloc(Number(size), 0x78);
const BATCH = 256;
const batch: (Buffer | number | string)[] = [];
for (let i = 0; i < BATCH; i++) batch.push(payload, Number(port), dst);
const end = performance.now() + Number(seconds) * 1000;
let sent = 0;
while (performance.now() < end) {
  try {
    sent += socket.sendMany(batch);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // ECONNREFUSED: an ICMP error of an earlier datagram; ENOBUFS: the device queue is full, which a flood means to cause.
    if (code === "ENOBUFS") await Bun.sleep(0);
    else if (code !== "ECONNREFUSED") throw error;
  }
}
socket.close();
process.stdout.write(`${sent}\n`);
