// A node behind the load balancer stand-in, on a loopback port: a small HTTP
// server that says who it is, answers the health path with 200 or 503 as the
// test says, streams server-sent keepalives like the API does, and reads a
// PROXY v1 header when a connection opens with one (as Caddy's
// proxy_protocol listener would), recording what it said.
import { createServer as createHttpServer, type ServerResponse } from "node:http";
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from "node:net";

export interface NodeRequest {
  path: string;
  /** The PROXY line the connection opened with ("PROXY TCP4 ..."), or null without one. */
  proxy: string | null;
}

export interface LoadBalancerNode {
  name: string;
  host: string;
  port: number;
  /** Every request but the health checks, in order. */
  requests: NodeRequest[];
  /** Health checks answered, by status. */
  checks: { passed: number; failed: number };
  /** Whether GET /healthz answers 200 (true) or 503. */
  setHealthy(healthy: boolean): void;
  stop(): Promise<void>;
}

export const HEALTH_PATH = "/healthz";
/** How often GET /stream writes a keepalive comment. */
export const STREAM_KEEPALIVE_MS = 200;

// A PROXY v1 line is at most 107 bytes, CRLF included (HAProxy's proxy protocol spec).
const PROXY_V1_MAX = 107;
const proxyHeaders = new WeakMap<Socket, string | null>();

export async function startLoadBalancerNode(name: string): Promise<LoadBalancerNode> {
  let healthy = true;
  const requests: NodeRequest[] = [];
  const checks = { passed: 0, failed: 0 };
  const streams = new Set<ServerResponse>();

  const http = createHttpServer((req, res) => {
    const path = req.url ?? "/";
    if (path === HEALTH_PATH) {
      if (healthy) checks.passed++;
      else checks.failed++;
      res.writeHead(healthy ? 200 : 503).end(healthy ? "ok" : "failing");
      return;
    }
    const proxy = proxyHeaders.get(req.socket) ?? null;
    requests.push({ path, proxy });
    if (path === "/stream") {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store" });
      res.write(`data: ${name}\n\n`);
      const timer = setInterval(() => res.write(": keepalive\n\n"), STREAM_KEEPALIVE_MS);
      streams.add(res);
      res.once("close", () => {
        clearInterval(timer);
        streams.delete(res);
      });
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ node: name, proxy }));
  });
  // Only the load balancer closes an idle connection within a test's bounds.
  http.keepAliveTimeout = 120_000;

  const tcp: Server = createTcpServer((socket) => {
    // HAProxy ends its checks with a reset (and a stopped proxy resets what it held): normal here.
    socket.on("error", () => socket.destroy());
    readProxyHeader(socket, (rest) => {
      if (rest.length > 0) socket.unshift(rest);
      http.emit("connection", socket);
      // Paused while the header was read; the HTTP parser reads the rest once it flows again.
      socket.resume();
    });
  });
  const host = "127.0.0.1";
  // Port 0: the OS picks a free port as it binds, so no other process can take it in between.
  await new Promise<void>((resolve, reject) => {
    tcp.once("error", reject);
    tcp.listen(0, host, resolve);
  });
  const port = (tcp.address() as AddressInfo).port;

  return {
    name,
    host,
    port,
    requests,
    checks,
    setHealthy: (value) => void (healthy = value),
    async stop() {
      for (const res of streams) res.destroy();
      http.closeAllConnections();
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    },
  };
}

/** Reads a PROXY v1 line if the connection opens with one, records it, then hands on the bytes after it. */
function readProxyHeader(socket: Socket, then: (rest: Buffer) => void): void {
  let buffered = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    const prefix = buffered.subarray(0, 6).toString("latin1");
    if (!"PROXY ".startsWith(prefix)) return done(null, buffered);
    const end = buffered.indexOf("\r\n");
    if (end >= 0) return done(buffered.subarray(0, end).toString("latin1"), buffered.subarray(end + 2));
    if (buffered.length >= PROXY_V1_MAX) socket.destroy();
  };
  const done = (line: string | null, rest: Buffer) => {
    socket.off("data", onData);
    socket.pause();
    proxyHeaders.set(socket, line);
    then(rest);
  };
  socket.on("data", onData);
}
