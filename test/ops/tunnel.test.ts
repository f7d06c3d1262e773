// The tunnel the backup commands and `ops dashboard` use: bytes go both ways,
// and a local client that hangs up while the remote end is still being
// opened (a browser cancelling a request) closes that remote end instead of
// piping a destroyed socket (which threw outside any test, in CI).
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { once } from "node:events";
import type { Duplex } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { LocalTransport } from "../../infra/host/runner/local.js";
import { openTunnel, type Tunnel } from "../../scripts/ops/tunnel.js";

let remoteServer: Server | undefined;
let tunnel: Tunnel | undefined;

afterEach(async () => {
  await tunnel?.close();
  await new Promise((resolve) => (remoteServer ? remoteServer.close(resolve) : resolve(undefined)));
  tunnel = remoteServer = undefined;
});

/** A TCP echo server on loopback, standing in for the host's private port. */
async function echoServer(): Promise<number> {
  remoteServer = createServer((socket) => socket.pipe(socket));
  await new Promise<void>((resolve) => remoteServer!.listen(0, "127.0.0.1", resolve));
  return (remoteServer.address() as { port: number }).port;
}

describe("openTunnel", () => {
  it("carries bytes both ways", async () => {
    const port = await echoServer();
    tunnel = await openTunnel(new LocalTransport(), port);
    const client = createConnection({ host: "127.0.0.1", port: tunnel.port });
    client.write("ping");
    const [echoed] = (await once(client.setEncoding("utf8"), "data")) as [string];
    client.end();
    expect(echoed).toBe("ping");
  });

  it("closes the remote end when the local client left before it was open", async () => {
    const port = await echoServer();
    const opened: Duplex[] = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let asked!: () => void;
    const connectAsked = new Promise<void>((resolve) => (asked = resolve));
    const local = new LocalTransport();
    // The remote end opens only once the test says so, after the client has gone.
    const slow = Object.assign(Object.create(local) as LocalTransport, {
      async connect(remotePort: number): Promise<Duplex> {
        asked();
        await held;
        const socket = await local.connect(remotePort);
        opened.push(socket);
        return socket;
      },
    });
    tunnel = await openTunnel(slow, port);
    const client: Socket = createConnection({ host: "127.0.0.1", port: tunnel.port });
    await connectAsked;
    client.destroy();
    // Its end of the tunnel closed too: the socket the tunnel would pipe is destroyed.
    await expect.poll(() => tunnel!.clients).toBe(0);
    release();
    await expect.poll(() => opened.length).toBe(1);
    await expect.poll(() => opened[0]!.destroyed).toBe(true);
  });
});
