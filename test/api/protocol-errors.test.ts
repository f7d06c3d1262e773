// Requests refused before any route sees them (found by the fuzzer,
// test/api/fuzz.test.ts): the JSON error shape like every other error, and,
// through Caddy, the answer itself rather than a 502. Node's handler cut
// the connection with a reset while Caddy was still sending the body, and
// Caddy then answered 502 to about one request in five.
import { request as httpsRequest } from "node:https";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCaddy, type RunningCaddy } from "../../scripts/loopback/caddy.js";
import type { ChatClient } from "../../scripts/loopback/chat-client.js";
import { startStack, type Stack } from "../../scripts/loopback/stack.js";

interface Answer {
  status: number;
  body: string;
}

/** One request through Caddy on its own connection, its whole body written. */
function throughCaddy(
  caddy: RunningCaddy,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: Buffer,
): Promise<Answer | { error: string }> {
  return new Promise((resolve) => {
    const req = httpsRequest({
      method,
      host: "127.0.0.1",
      servername: "localhost",
      port: caddy.httpsPort,
      path,
      headers: { host: `localhost:${caddy.httpsPort}`, ...headers },
      ca: caddy.ca(),
      agent: false,
    });
    req.on("error", (err) => resolve({ error: err.message }));
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.end(body);
  });
}

/** The JSON error's code, or the whole body when it is not in the error shape. */
function codeOf(body: string): string {
  try {
    const code = (JSON.parse(body) as { error?: { code?: unknown } }).error?.code;
    if (typeof code === "string") return code;
  } catch {
    // not JSON
  }
  return body;
}

/** The same request 160 times, four at once: how often each status and error code came back. */
async function tally(send: () => Promise<Answer | { error: string }>): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < 40; i++) {
    for (const answer of await Promise.all([send(), send(), send(), send()])) {
      const key = "error" in answer ? `no answer: ${answer.error}` : `${answer.status} ${codeOf(answer.body)}`;
      counts[key] = (counts[key] ?? 0) + 1;
    }
  }
  return counts;
}

const errorBody = (code: string, message: RegExp) => ({ error: { code, message: expect.stringMatching(message) } });

describe("requests refused before any route", () => {
  let stack: Stack;
  let caddy: RunningCaddy;
  let client: ChatClient;
  beforeAll(async () => {
    stack = await startStack({ env: { RATE_LIMIT_REQUESTS: "100000" } });
    caddy = await startCaddy({ upstreams: stack.apis.map((a) => `127.0.0.1:${a.port}`) });
    client = await stack.client("quinn");
  });
  afterAll(async () => {
    await caddy?.stop();
    await stack?.stop();
  });

  it("answers headers over Node's 16 KB with a JSON 431 through Caddy, never a 502, even with a body on its way", async () => {
    // Over Node's 16 KB, within Caddy's 16 KB and the 4 KB Go reads past it.
    const headers = { "content-type": "application/json", "x-padding": "p".repeat(17_000) };
    const body = Buffer.from(JSON.stringify({ title: "t".repeat(2000) }));
    const send = () => throughCaddy(caddy, "POST", "/v1/conversations", headers, body);
    expect(await tally(send)).toEqual({ "431 headers_too_large": 160 });
    const answer = (await send()) as Answer;
    expect(JSON.parse(answer.body)).toEqual(errorBody("headers_too_large", /over 16 KB; send fewer or shorter/));
  });

  it("answers headers past Caddy's own limit with Caddy's plain 431, never reaching the API", async () => {
    const headers = { "content-type": "application/json", "x-padding": "p".repeat(24_000) };
    const answer = (await throughCaddy(caddy, "POST", "/v1/conversations", headers, Buffer.from("{}"))) as Answer;
    expect(answer.status).toBe(431);
    expect(answer.body).toBe("431 Request Header Fields Too Large");
  });

  it("answers a method Node cannot parse with a JSON 400 through Caddy, never a 502", async () => {
    const body = Buffer.from(JSON.stringify({ content: "x".repeat(2000) }));
    const send = () => throughCaddy(caddy, "FOO", "/v1/conversations", { "content-type": "application/json" }, body);
    expect(await tally(send)).toEqual({ "400 invalid_request": 160 });
    const answer = (await send()) as Answer;
    expect(JSON.parse(answer.body)).toEqual(errorBody("invalid_request", /not valid HTTP/));
  });

  it("refuses an id too long for the router like any other id that is not a UUID", async () => {
    const res = await client.request("GET", `/v1/conversations/${"a".repeat(150)}`);
    expect(res.status).toBe(400);
    expect(res.body).toEqual(errorBody("invalid_request", /too long to be an id/));
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
  });

  it("refuses a path that is not valid percent-encoded UTF-8 in the JSON shape", async () => {
    const res = await client.request("GET", "/v1/conversations/%ff%fe/messages");
    expect(res.status).toBe(400);
    expect(res.body).toEqual(errorBody("invalid_request", /percent-encoded/));
  });

  it("still serves the same instance afterwards", async () => {
    expect(stack.apis[0]!.process.running).toBe(true);
    expect((await client.request("GET", "/v1/conversations")).status).toBe(200);
  });
});
