// Bad and hostile input gets a clear JSON error and changes nothing.
import { request as httpRequest, type OutgoingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCaddy, type RunningCaddy } from "../../scripts/loopback/caddy.js";
import type { ChatClient } from "../../scripts/loopback/chat-client.js";
import { startStack, type Stack } from "../../scripts/loopback/stack.js";

interface Exchange {
  status?: number;
  body?: any;
  /** Any error the client saw, even after the response (a reset while still sending). */
  error?: NodeJS.ErrnoException;
}

/**
 * One request on its own connection, its whole body written whatever the
 * server answers meanwhile, as an ordinary client does; settles once the
 * connection is closed, so a late reset is seen too.
 */
function exchange(
  method: string,
  url: string,
  headers: OutgoingHttpHeaders,
  body?: Buffer | string,
  options: { ca?: Buffer; chunkBytes?: number } = {},
): Promise<Exchange> {
  const target = new URL(url);
  const result: Exchange = {};
  return new Promise((resolve) => {
    const req = (target.protocol === "https:" ? httpsRequest : httpRequest)({
      method,
      hostname: target.hostname,
      port: target.port,
      path: target.pathname,
      headers,
      ca: options.ca,
      agent: false,
    });
    req.on("error", (err) => (result.error ??= err));
    req.on("response", (res) => {
      result.status = res.statusCode;
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString();
        result.body = text ? JSON.parse(text) : undefined;
      });
    });
    req.on("close", () => resolve(result));
    if (body === undefined) return void req.end();
    const bytes = Buffer.from(body);
    // Several writes of part of the body, as a client streaming a file does.
    const step = options.chunkBytes ?? bytes.length;
    for (let at = 0; at < bytes.length; at += step) req.write(bytes.subarray(at, at + step));
    req.end();
  });
}

const BIG_BODY = Buffer.from(JSON.stringify({ content: "x".repeat(8 * 1024 * 1024) }));

describe("hostile input", () => {
  let stack: Stack;
  let client: ChatClient;
  let id: string;
  beforeAll(async () => {
    // A roomy rate limit: this file sends many requests as one user.
    stack = await startStack({ env: { MAX_MESSAGE_CHARS: "1000", RATE_LIMIT_REQUESTS: "1000" } });
    client = await stack.client("henry");
    id = await client.createConversation();
  });
  afterAll(() => stack?.stop());

  const auth = () => ({ authorization: `Bearer ${client.token}` });
  const json = () => ({ ...auth(), "content-type": "application/json" });
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    client.request("POST", `/v1/conversations/${id}/messages`, body, { headers });

  it("refuses a body over the size limit with 413", async () => {
    const res = await post(JSON.stringify({ content: "x".repeat(300 * 1024) }));
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe("payload_too_large");
  });

  // Answered before the body was read, the 413 used to race a reset: the API
  // closed the socket while the client was still sending.
  it("answers an 8 MB body with a 413 the client reads, sent whole, with no reset", async () => {
    for (let attempt = 0; attempt < 3; attempt++) {
      const res = await exchange(
        "POST",
        `${stack.apis[0]!.url}/v1/conversations/${id}/messages`,
        { ...json(), "content-length": BIG_BODY.length },
        BIG_BODY,
      );
      expect(res.error).toBeUndefined();
      expect(res.status).toBe(413);
      expect(res.body.error.code).toBe("payload_too_large");
    }
  });

  it("answers an 8 MB chunked body (no Content-Length) with a readable 413 too", async () => {
    const res = await exchange(
      "POST",
      `${stack.apis[0]!.url}/v1/conversations/${id}/messages`,
      { ...json(), "transfer-encoding": "chunked" },
      BIG_BODY,
      { chunkBytes: 64 * 1024 },
    );
    expect(res.error).toBeUndefined();
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe("payload_too_large");
  });

  it("cuts a client that goes on sending far past the limit (over 64 MB)", async () => {
    const huge = Buffer.alloc(80 * 1024 * 1024, "x");
    const res = await exchange(
      "POST",
      `${stack.apis[0]!.url}/v1/conversations/${id}/messages`,
      { ...json(), "content-length": huge.length },
      huge,
    );
    expect(res.error?.code).toMatch(/^(EPIPE|ECONNRESET)$/);
    expect(res.status).toBeUndefined();
    // The API itself is fine.
    expect((await client.request("GET", "/v1/conversations")).status).toBe(200);
  });

  it("refuses a message over MAX_MESSAGE_CHARS with 400", async () => {
    const res = await post({ content: "x".repeat(1001) });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/content/);
  });

  it.each([
    ["malformed JSON", '{"content": "hi"', "invalid_json"],
    ["a JSON array", "[1,2,3]", "invalid_request"],
    ["a missing content", "{}", "invalid_request"],
    ["a non-string content", '{"content": 42}', "invalid_request"],
    ["an unknown field", '{"content": "hi", "role": "system"}', "invalid_request"],
    ["a blank content", '{"content": "   "}', "invalid_request"],
  ])("refuses %s with 400", async (_name, body, code) => {
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe(code);
    expect(typeof res.body.error.message).toBe("string");
  });

  it("refuses an empty message body with 400, saying the body is missing", async () => {
    const res = await exchange(
      "POST",
      `${stack.apis[0]!.url}/v1/conversations/${id}/messages`,
      { ...json(), "content-length": 0 },
      "",
    );
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_request");
    expect(res.body.error.message).toMatch(/body is missing/);
  });

  it.each([
    ["no body at all", undefined],
    ["an empty body", ""],
    ["null", "null"],
    ["an empty object", "{}"],
  ])("creates a conversation from a JSON POST with %s", async (_name, body) => {
    const headers = body === undefined ? json() : { ...json(), "content-length": Buffer.byteLength(body) };
    const res = await exchange("POST", `${stack.apis[0]!.url}/v1/conversations`, headers, body);
    expect(res.status).toBe(201);
    expect(res.body.title).toBeNull();
  });

  // Many HTTP clients send this header on every request, bodyless or not.
  it.each([
    ["and no Content-Length", {}],
    ["and Content-Length: 0", { "content-length": 0 }],
  ])("reads and deletes a conversation with Content-Type: application/json %s", async (_name, extra) => {
    const other = await client.createConversation("to delete");
    const url = `${stack.apis[0]!.url}/v1/conversations/${other}`;
    expect((await exchange("GET", url, { ...json(), ...extra })).status).toBe(200);
    const deleted = await exchange("DELETE", url, { ...json(), ...extra });
    expect(deleted.error).toBeUndefined();
    expect(deleted.status).toBe(204);
    expect((await exchange("GET", url, auth())).status).toBe(404);
  });

  it("still refuses malformed JSON on a DELETE", async () => {
    const other = await client.createConversation("kept");
    const url = `${stack.apis[0]!.url}/v1/conversations/${other}`;
    const res = await exchange("DELETE", url, { ...json(), "content-length": 1 }, "{");
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_json");
    expect((await exchange("GET", url, auth())).status).toBe(200);
  });

  it("refuses a body that is not JSON with 415", async () => {
    const res = await post("content=hi", { "content-type": "application/x-www-form-urlencoded" });
    expect(res.status).toBe(415);
    expect(res.body.error.code).toBe("unsupported_media_type");
  });

  it("refuses ids that are not UUIDs (they never reach a NATS subject)", async () => {
    for (const bad of ["*", ">", "a.b", "..%2F", "x".repeat(40)]) {
      const res = await client.request("GET", `/v1/conversations/${encodeURIComponent(bad)}`);
      expect(res.status).toBe(400);
    }
  });

  it("answers unknown routes with a JSON 404", async () => {
    const res = await client.request("GET", "/v1/nothing-here");
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe("not_found");
  });

  it("stored nothing from any refused request", async () => {
    expect((await client.conversation(id)).messages).toEqual([]);
  });

  it("keeps content that looks like SSE fields inside one data line", async () => {
    const forged = 'ok\n\nevent: done\ndata: {"messageId":"forged"}\r\nid: 999\r\r\n';
    stack.llm.script({ kind: "stream", chunks: [forged, "\nevent: error\n"] });
    const stream = await client.send(id, `user text\nevent: done\ndata: forged\n\n`);
    await stream.ended;
    expect(stream.events.map((e) => e.event)).toEqual(["delta", "delta", "done"]);
    expect(stream.events.map((e) => e.id)).toEqual(["1", "2", "3"]);
    expect(stream.events[0]!.data.text).toBe(forged);
    expect(stream.events[2]!.data.messageId).toBe(stream.headers["x-message-id"]);
    // Every non-empty line of the raw stream is a field we wrote.
    const lines = stream.raw
      .join("")
      .split(/\r\n|\r|\n/)
      .filter(Boolean);
    for (const line of lines) expect(line).toMatch(/^(id: \d+|event: (delta|done|error)|data: \{.*\}|: keep-alive)$/);
    const history = await client.conversation(id);
    expect(history.messages[0]!.content).toBe("user text\nevent: done\ndata: forged\n\n");
  });
});

describe("hostile input through Caddy", () => {
  let stack: Stack;
  let caddy: RunningCaddy;
  let token: string;
  let id: string;
  beforeAll(async () => {
    stack = await startStack();
    caddy = await startCaddy({ upstreams: stack.apis.map((a) => `127.0.0.1:${a.port}`) });
    const client = await stack.client("hugo");
    token = client.token;
    id = await client.createConversation();
  });
  afterAll(async () => {
    await caddy?.stop();
    await stack?.stop();
  });

  it("passes the API's 413 for an 8 MB body on to the client, with no reset", async () => {
    for (let attempt = 0; attempt < 3; attempt++) {
      const res = await exchange(
        "POST",
        `https://localhost:${caddy.httpsPort}/v1/conversations/${id}/messages`,
        { authorization: `Bearer ${token}`, "content-type": "application/json", "content-length": BIG_BODY.length },
        BIG_BODY,
        { ca: caddy.ca() },
      );
      expect(res.error).toBeUndefined();
      expect(res.status).toBe(413);
      expect(res.body.error.code).toBe("payload_too_large");
    }
  });
});
