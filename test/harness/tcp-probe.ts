// One TCP connection attempt from this machine, closed at once: whether a
// test host's port answers, and if not, how it refused.
import { Socket } from "node:net";

/** "connected", the error's code (ECONNREFUSED, ...), or "timeout". */
export function tcpProbe(host: string, port: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.setTimeout(timeoutMs);
    socket.once("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? String(e)));
    socket.once("timeout", () => {
      socket.destroy();
      resolve("timeout");
    });
    socket.connect(port, host);
  });
}
