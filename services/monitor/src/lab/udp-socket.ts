/**
 * A UDP socket for the lab's load scripts. ICMP port-unreachable replies from the target are expected
 * (nobody listens) and ignored; any other socket error is raised. Bun 1.4.5 passes the error first at
 * run time although its types say (socket, error), so either order is accepted.
 */
export function openSenderSocket() {
  return Bun.udpSocket({
    socket: {
      error(...args: unknown[]) {
        const error = args.find((arg) => arg instanceof Error) as NodeJS.ErrnoException | undefined;
        if (error && error.code !== "ECONNREFUSED") throw error;
      },
    },
  });
}
