// A port on this machine's loopback that leads to a port on the host's
// loopback, through the target's transport (an SSH tunnel for a server): how
// the backup commands reach NATS, and `dashboard` Prometheus, whose ports
// the host keeps private.
import { createServer, type Socket } from "node:net";
import { pipeline } from "node:stream";
import type { Transport } from "../../infra/host/runner/transport.js";

export interface Tunnel {
  /** The local end: 127.0.0.1:port. */
  port: number;
  /** Local clients connected now (a client counts until its socket has closed). */
  readonly clients: number;
  close(): Promise<void>;
}

/** `localPort` 0: any free port. Rejects with the listen error (EADDRINUSE: taken). */
export async function openTunnel(transport: Transport, remotePort: number, localPort = 0): Promise<Tunnel> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    transport.connect(remotePort).then(
      (remote) => {
        // The local client may hang up while the remote end is being opened
        // (a browser cancels a request): piping a destroyed socket throws.
        if (socket.destroyed) {
          remote.destroy();
          return;
        }
        pipeline(socket, remote, socket, () => socket.destroy());
      },
      (error: unknown) => {
        console.error(error instanceof Error ? error.message : String(error));
        socket.destroy();
      },
    );
  });
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(localPort, "127.0.0.1", resolve));
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("the tunnel did not get a local port");
  return {
    port: address.port,
    get clients() {
      return sockets.size;
    },
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
