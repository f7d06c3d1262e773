// The load generator: server-sent event streams opened over kept-alive
// connections, each timed from the moment its request is written to its
// first token (time to first token) and between tokens. Every loop is bounded
// by a count and a deadline.
import { Agent as HttpAgent, request as httpRequest, type ClientRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { performance } from "node:perf_hooks";
import { createParser } from "eventsource-parser";

export interface StreamTarget {
  url: string;
  method: "POST" | "GET";
  body?: string;
  headers: Record<string, string>;
  /** The SSE event name a token arrives in: "delta" from the API, "content_block_delta" from Anthropic's format. */
  tokenEvent: string;
  ca?: Buffer;
}

export interface StreamOutcome {
  status: number;
  /** From the request written to the first token; null without one. */
  ttftMs: number | null;
  /** Between consecutive tokens. */
  gapsMs: number[];
  tokens: number;
  /** Every event, tokens or not. */
  events: number;
  /** The name of the last event received (what ended a stream that ended). */
  lastEvent?: string;
  /** The server ended the stream normally (not reset, not cut). */
  completed: boolean;
  error?: string;
}

/** Kept-alive connections, as a browser or an SDK keeps them: connection set-up is not what is measured. */
export function keepAliveAgents(): { http: HttpAgent; https: HttpsAgent; destroy(): void } {
  const http = new HttpAgent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 20_000 });
  const https = new HttpsAgent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 20_000 });
  return {
    http,
    https,
    destroy() {
      http.destroy();
      https.destroy();
    },
  };
}

export interface OpenOptions {
  agents: ReturnType<typeof keepAliveAgents>;
  /** Called once with the first token (the stream is established end to end). */
  onFirstToken?: () => void;
  timeoutMs: number;
  /** Hangs up when aborted; the outcome's error is then "aborted". */
  signal?: AbortSignal;
}

export function openStream(target: StreamTarget, options: OpenOptions): Promise<StreamOutcome> {
  return new Promise((resolve) => {
    const outcome: StreamOutcome = { status: 0, ttftMs: null, gapsMs: [], tokens: 0, events: 0, completed: false };
    let lastToken = 0;
    let settled = false;
    const finish = (error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) outcome.error = error;
      resolve(outcome);
    };
    const started = performance.now();
    const req = send(target, options.agents, { accept: "text/event-stream" });
    const timer = setTimeout(() => {
      req.destroy();
      finish(`no end within ${options.timeoutMs} ms`);
    }, options.timeoutMs);
    req.on("error", (error) => finish(error.message));
    options.signal?.addEventListener("abort", () => {
      finish("aborted");
      req.destroy();
    });
    req.on("response", (res) => {
      outcome.status = res.statusCode ?? 0;
      if (outcome.status !== 200) {
        // Its body says who refused (the API's error code, or nothing from the proxy).
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (text += chunk.slice(0, 200)));
        res.on("end", () => finish(`HTTP ${outcome.status} ${text.slice(0, 200) || "(no body)"}`));
        return;
      }
      const parser = createParser({
        onEvent(event) {
          outcome.events++;
          outcome.lastEvent = event.event ?? "message";
          // An error event says why in its code: kept, so a failure can be told apart.
          if (event.event === "error") outcome.lastEvent += ` ${errorCode(event.data)}`;
          if (event.event !== target.tokenEvent) return;
          const now = performance.now();
          if (outcome.tokens === 0) {
            outcome.ttftMs = now - started;
            options.onFirstToken?.();
          } else outcome.gapsMs.push(now - lastToken);
          lastToken = now;
          outcome.tokens++;
        },
      });
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => parser.feed(chunk));
      res.on("end", () => {
        outcome.completed = true;
        finish();
      });
      res.on("error", (error) => finish(error.message));
      res.on("close", () => finish(outcome.completed ? undefined : "cut before its end"));
    });
    req.end(target.body);
  });
}

export interface JsonAnswer {
  status: number;
  body: unknown;
  /** From the request written to the whole answer read. */
  ms: number;
}

/** The request, on the kept-alive connections, its JSON body (if any) not yet written. */
function send(
  target: Pick<StreamTarget, "url" | "method" | "body" | "headers" | "ca">,
  agents: ReturnType<typeof keepAliveAgents>,
  extraHeaders: Record<string, string>,
): ClientRequest {
  const url = new URL(target.url);
  const secure = url.protocol === "https:";
  return (secure ? httpsRequest : httpRequest)({
    method: target.method,
    hostname: url.hostname,
    port: url.port,
    path: url.pathname + url.search,
    headers: {
      ...extraHeaders,
      ...(target.body ? { "content-type": "application/json", "content-length": Buffer.byteLength(target.body) } : {}),
      ...target.headers,
    },
    agent: secure ? agents.https : agents.http,
    ...(secure && target.ca ? { ca: target.ca } : {}),
  });
}

/** A plain JSON request over the same kept-alive connections. */
export function requestJson(
  target: Pick<StreamTarget, "url" | "method" | "body" | "headers" | "ca">,
  agents: ReturnType<typeof keepAliveAgents>,
): Promise<JsonAnswer> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = send(target, agents, {});
    req.on("error", reject);
    req.on("response", (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => {
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON: keep the text
        }
        resolve({ status: res.statusCode ?? 0, body, ms: performance.now() - started });
      });
    });
    req.end(target.body);
  });
}

/** Runs `count` tasks, at most `concurrency` at a time, and stops starting new ones at `deadline` (ms since epoch). */
export async function pool<T>(
  count: number,
  concurrency: number,
  deadline: number,
  task: (index: number) => Promise<T>,
): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count && Date.now() < deadline) {
      const index = next++;
      results[index] = await task(index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return results.filter((r) => r !== undefined);
}

function errorCode(data: string): string {
  try {
    return String((JSON.parse(data) as { code?: unknown }).code ?? "");
  } catch {
    return "";
  }
}
