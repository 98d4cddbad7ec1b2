// The UDP socket of the lab's load scripts (udp-send.ts, udp-flood.ts).

/** A UDP socket that ignores ICMP port-unreachable errors (nobody listens at the target) and raises any other. */
export function openSenderSocket() {
  return Bun.udpSocket({
    socket: {
      // Bun 1.4.5 passes the error first at run time although its types say (socket, error): either order is accepted.
      error(...args: unknown[]) {
        const error = args.find((arg) => arg instanceof Error) as NodeJS.ErrnoException | undefined;
        if (error && error.code !== "ECONNREFUSED") throw error;
      },
    },
  });
}
