// Local fakes of the Anthropic Messages and OpenAI Chat Completions APIs that
// emit the exact streaming bytes of the real services (see
// shared/WIRE-FORMATS.md), so the official SDKs parse them as in production.
// Each request takes the next scripted reply (or the default one).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type FakeReply =
  | {
      kind: "stream";
      chunks: string[];
      delayMs?: number;
      /** "immediate": tokens as fast as the event loop turns (no timer's 1 ms floor), for capacity benchmarks. */
      pace?: "timer" | "immediate";
      inputTokens?: number;
      outputTokens?: number;
      /** After `failAfter` chunks: an error event, a dropped connection, or silence. */
      failure?: "error-event" | "break" | "stall";
      failAfter?: number;
      /** Holds the first chunk until it settles, for a test to act while the answer is open. */
      gate?: Promise<unknown>;
      /** Holds chunk `index` until it settles: a test can let each chunk go only once the last one reached its client. */
      beforeChunk?: (index: number) => Promise<unknown>;
    }
  | { kind: "status"; status: number; body: unknown; headers?: Record<string, string> };

export interface RecordedRequest {
  path: string;
  headers: IncomingMessage["headers"];
  body: Record<string, unknown>;
}

export interface FakeLlm {
  url: string;
  apiKey: string;
  /** The keys it accepts (apiKey at first): a test of a key rotation adds the new one and takes the old one away. */
  keys: Set<string>;
  requests: RecordedRequest[];
  /** Requests whose client hung up before the fake finished its reply. */
  aborted: number;
  completed: number;
  script(...replies: FakeReply[]): void;
  setDefault(reply: FakeReply): void;
  close(): Promise<void>;
}

type Dialect = "anthropic" | "openai";

/** Where it listens: 127.0.0.1 on a free port unless told (a compose stack's containers reach their network's gateway). */
export interface FakeListen {
  host?: string;
  port?: number;
}

export function startFakeAnthropic(listen: FakeListen = {}): Promise<FakeLlm> {
  return startFake("anthropic", listen);
}

export function startFakeOpenAI(): Promise<FakeLlm> {
  return startFake("openai");
}

async function startFake(dialect: Dialect, listen: FakeListen = {}): Promise<FakeLlm> {
  const apiKey = `${dialect}-test-key-0123456789`;
  const keys = new Set([apiKey]);
  const queue: FakeReply[] = [];
  let fallback: FakeReply = { kind: "stream", chunks: ["Hello", " from", " the", " fake."], delayMs: 5 };
  const state = { requests: [] as RecordedRequest[], aborted: 0, completed: 0 };

  const server: Server = createServer(async (req, res) => {
    const raw = await readBody(req);
    // For a proxy's health checks (the benchmark puts Caddy straight in front of the fake).
    if (req.method === "GET" && req.url === "/health") {
      sendJson(res, 200, { status: "ok" });
      return;
    }
    const expectedPath = dialect === "anthropic" ? "/v1/messages" : "/v1/chat/completions";
    if (req.method !== "POST" || req.url !== expectedPath) {
      res.writeHead(404).end();
      return;
    }
    // Anthropic's SDK sends the key as x-api-key or (since 1.x) as a bearer token.
    const sent = req.headers.authorization?.replace(/^Bearer /, "") ?? req.headers["x-api-key"];
    const authorized =
      typeof sent === "string" && keys.has(sent) && (dialect === "anthropic" || !!req.headers.authorization);
    if (!authorized) {
      sendJson(res, 401, errorBody(dialect, "authentication_error", "invalid x-api-key"));
      return;
    }
    const body = JSON.parse(raw) as Record<string, unknown>;
    state.requests.push({ path: req.url, headers: req.headers, body });
    const reply = queue.shift() ?? fallback;
    if (reply.kind === "status") {
      res.writeHead(reply.status, { "content-type": "application/json", ...reply.headers });
      res.end(JSON.stringify(reply.body));
      return;
    }
    let clientGone = false;
    res.on("close", () => {
      if (!res.writableFinished) {
        clientGone = true;
        state.aborted++;
      }
    });
    await streamReply(dialect, res, body, reply, () => clientGone);
    if (res.writableFinished) state.completed++;
  });
  const host = listen.host ?? "127.0.0.1";
  await new Promise<void>((resolve) => server.listen(listen.port ?? 0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    apiKey,
    keys,
    get requests() {
      return state.requests;
    },
    get aborted() {
      return state.aborted;
    },
    get completed() {
      return state.completed;
    },
    script: (...replies) => void queue.push(...replies),
    setDefault: (reply) => void (fallback = reply),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function streamReply(
  dialect: Dialect,
  res: ServerResponse,
  request: Record<string, unknown>,
  reply: Extract<FakeReply, { kind: "stream" }>,
  clientGone: () => boolean,
): Promise<void> {
  const model = String(request.model);
  const write = (text: string) => res.write(text);
  const pause = () =>
    new Promise((r) => (reply.pace === "immediate" ? setImmediate(r) : setTimeout(r, reply.delayMs ?? 0)));
  const inputTokens = reply.inputTokens ?? 25;
  const outputTokens = reply.outputTokens ?? reply.chunks.length;
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });

  if (dialect === "anthropic") {
    write(
      sse("message_start", {
        type: "message_start",
        message: {
          id: "msg_01",
          type: "message",
          role: "assistant",
          content: [],
          model,
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: inputTokens, output_tokens: 1 },
        },
      }),
    );
    write(
      sse("content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }),
    );
    write('event: ping\ndata: {"type": "ping"}\n\n');
  } else {
    write(
      data({
        ...chunkBase(model),
        choices: [{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }],
        usage: null,
      }),
    );
  }

  await reply.gate;
  for (const [i, text] of reply.chunks.entries()) {
    if (reply.failure && i === (reply.failAfter ?? 0)) return fail(dialect, res, reply.failure);
    await reply.beforeChunk?.(i);
    await pause();
    if (clientGone()) return;
    if (dialect === "anthropic") {
      write(sse("content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text } }));
    } else {
      write(
        data({
          ...chunkBase(model),
          choices: [{ index: 0, delta: { content: text }, logprobs: null, finish_reason: null }],
          usage: null,
        }),
      );
    }
  }
  if (reply.failure && (reply.failAfter ?? 0) >= reply.chunks.length) return fail(dialect, res, reply.failure);

  if (dialect === "anthropic") {
    write(sse("content_block_stop", { type: "content_block_stop", index: 0 }));
    write(
      sse("message_delta", {
        type: "message_delta",
        delta: { stop_reason: "end_turn", stop_sequence: null },
        usage: { output_tokens: outputTokens },
      }),
    );
    write(sse("message_stop", { type: "message_stop" }));
  } else {
    write(
      data({
        ...chunkBase(model),
        choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: "stop" }],
        usage: null,
      }),
    );
    const options = request.stream_options as { include_usage?: boolean } | undefined;
    if (options?.include_usage) {
      write(
        data({
          ...chunkBase(model),
          choices: [],
          usage: {
            prompt_tokens: inputTokens,
            completion_tokens: outputTokens,
            total_tokens: inputTokens + outputTokens,
          },
        }),
      );
    }
    write("data: [DONE]\n\n");
  }
  res.end();
}

function fail(dialect: Dialect, res: ServerResponse, failure: "error-event" | "break" | "stall"): void {
  if (failure === "break") {
    // Let what was written reach the client, then drop the connection
    // without ending the chunked body, as a crashed upstream does.
    setTimeout(() => res.socket?.destroy(), 50);
  } else if (failure === "error-event") {
    if (dialect === "anthropic") {
      res.write(sse("error", { type: "error", error: { type: "overloaded_error", message: "Overloaded" } }));
    } else {
      res.write(
        data({
          error: {
            message: "The server had an error while processing your request.",
            type: "server_error",
            code: null,
          },
        }),
      );
    }
    res.end();
  }
  // "stall": keep the connection open and send nothing more.
}

function sse(event: string, payload: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(payload)}\n\n`;
}

function data(payload: unknown): string {
  return `data: ${JSON.stringify(payload)}\n\n`;
}

function chunkBase(model: string) {
  return { id: "chatcmpl-123", object: "chat.completion.chunk", created: 1694268190, model };
}

export function errorBody(dialect: Dialect, type: string, message: string): unknown {
  return dialect === "anthropic"
    ? { type: "error", error: { type, message } }
    : { error: { message, type, param: null, code: null } };
}

function sendJson(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString()));
    req.on("error", reject);
  });
}
