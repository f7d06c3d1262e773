// A small HTTP client for tests: JSON requests, and SSE streams read event by
// event with their arrival times (parsed by eventsource-parser, as a browser
// would). Raw node:http, so tests control sockets, headers and aborts.
import { request as httpRequest, type IncomingHttpHeaders, type RequestOptions } from "node:http";
import { request as httpsRequest } from "node:https";
import { gunzipSync } from "node:zlib";
import { createParser, type EventSourceMessage } from "eventsource-parser";

export interface ClientOptions {
  headers?: Record<string, string>;
  ca?: Buffer;
  localAddress?: string;
  signal?: AbortSignal;
  /** Connect to this IPv4 address whatever the URL's host name resolves to (like curl --resolve). */
  connectTo?: string;
}

export interface JsonResponse<T = any> {
  status: number;
  headers: IncomingHttpHeaders;
  body: T;
  text: string;
}

function send(method: string, url: string, body: string | Buffer | undefined, options: ClientOptions) {
  const target = new URL(url);
  const requestOptions: RequestOptions & { ca?: Buffer } = {
    method,
    hostname: target.hostname,
    port: target.port,
    path: target.pathname + target.search,
    headers: {
      ...(body !== undefined ? { "content-length": String(Buffer.byteLength(body)) } : {}),
      ...options.headers,
    },
    localAddress: options.localAddress,
    signal: options.signal,
    agent: false,
  };
  const address = options.connectTo;
  if (address) {
    requestOptions.lookup = ((
      _host: string,
      lookupOptions: { all?: boolean },
      callback: (...args: unknown[]) => void,
    ) =>
      lookupOptions.all
        ? callback(null, [{ address, family: 4 }])
        : callback(null, address, 4)) as RequestOptions["lookup"];
  }
  if (target.protocol === "https:") requestOptions.ca = options.ca;
  const req = (target.protocol === "https:" ? httpsRequest : httpRequest)(requestOptions);
  if (body !== undefined) req.write(body);
  req.end();
  return req;
}

export function requestJson<T = any>(
  method: string,
  url: string,
  body?: unknown,
  options: ClientOptions = {},
): Promise<JsonResponse<T>> {
  const payload =
    body === undefined ? undefined : typeof body === "string" || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  const headers = payload !== undefined ? { "content-type": "application/json", ...options.headers } : options.headers;
  return new Promise((resolve, reject) => {
    const req = send(method, url, payload, { ...options, headers });
    req.on("error", reject);
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const raw = Buffer.concat(chunks);
        // Through Caddy, JSON may come gzip-compressed (the SSE tests ask for it).
        const text = (res.headers["content-encoding"] === "gzip" ? gunzipSync(raw) : raw).toString();
        let parsed: unknown;
        try {
          parsed = text ? JSON.parse(text) : undefined;
        } catch {
          // not JSON: callers read `text`
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed as T, text });
      });
    });
  });
}

/** Polls `${url}/health` until it answers 200 (a stack's first health checks and certificate take a while). */
export async function waitUntilHealthy(url: string, options: ClientOptions = {}, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await requestJson("GET", `${url}/health`, undefined, options).catch(() => undefined))?.status !== 200) {
    if (Date.now() > deadline) throw new Error(`${url} did not become healthy within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

export interface ReceivedEvent {
  id?: string;
  event?: string;
  data: any;
  at: number;
}

export interface SseStream {
  status: number;
  headers: IncomingHttpHeaders;
  events: ReceivedEvent[];
  /** Comments (keep-alives) seen. */
  comments: string[];
  raw: string[];
  /** Resolves when the server ends the stream (or the request fails). */
  ended: Promise<void>;
  /** Resolves when `count` events have arrived. */
  waitForEvents(count: number, timeoutMs?: number): Promise<ReceivedEvent[]>;
  /** Hangs up, as a closed browser tab does. */
  disconnect(): void;
}

export function openSse(method: string, url: string, body: unknown, options: ClientOptions = {}): Promise<SseStream> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers = {
    accept: "text/event-stream",
    ...(payload ? { "content-type": "application/json" } : {}),
    ...options.headers,
  };
  return new Promise((resolve, reject) => {
    const req = send(method, url, payload, { ...options, headers });
    req.on("error", reject);
    req.on("response", (res) => {
      const events: ReceivedEvent[] = [];
      const comments: string[] = [];
      const raw: string[] = [];
      const waiters: Array<() => void> = [];
      const parser = createParser({
        onEvent(message: EventSourceMessage) {
          let data: unknown = message.data;
          try {
            data = JSON.parse(message.data);
          } catch {
            // keep the raw text
          }
          events.push({ id: message.id, event: message.event, data, at: Date.now() });
          waiters.forEach((w) => w());
        },
        onComment: (comment) => void comments.push(comment),
      });
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        raw.push(chunk);
        parser.feed(chunk);
      });
      const ended = new Promise<void>((done) => {
        res.on("end", done);
        res.on("close", done);
        res.on("error", () => done());
      });
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        events,
        comments,
        raw,
        ended,
        waitForEvents(count, timeoutMs = 10_000) {
          return new Promise((done, fail) => {
            const check = () => {
              if (events.length >= count) {
                clearTimeout(timer);
                done(events.slice(0, count));
              }
            };
            const timer = setTimeout(
              () => fail(new Error(`only ${events.length} of ${count} events arrived: ${JSON.stringify(events)}`)),
              timeoutMs,
            );
            waiters.push(check);
            check();
          });
        },
        disconnect: () => req.destroy(),
      });
    });
  });
}
