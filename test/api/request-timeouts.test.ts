// Slow clients cannot hold connections open: a request whose headers or
// body do not arrive within the limit is ended, by the API itself
// (REQUEST_TIMEOUT) and by the project's Caddy (its server timeouts), while
// an answer streaming for longer than that limit is never cut. Limits are
// shortened to 2 s here; a slow client would otherwise take minutes.
import { connect as http2Connect } from "node:http2";
import { connect as tcpConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCaddy, type RunningCaddy } from "../../scripts/loopback/caddy.js";
import { ChatClient, textOf } from "../../scripts/loopback/chat-client.js";
import { startStack, type Stack } from "../../scripts/loopback/stack.js";
import { tokenFor } from "../../scripts/loopback/tokens.js";

const LIMIT = "2s";
/** Far past the limit (plus Node's 1 s check) and far short of what the slow client would take. */
const ENDED_WITHIN_MS = 20_000;
const DRIP_MS = 1000;

interface SlowResult {
  /** From the first byte sent to the connection's end. */
  endedAfterMs: number;
  response: string;
  bytesDripped: number;
}

/**
 * Sends `head` at once, then `drip` one character a second (at most its
 * length: bounded), and waits for the server to end the connection.
 */
function slowClient(socket: Socket, head: string, drip: string): Promise<SlowResult> {
  return new Promise((resolve, reject) => {
    const startedAt = Date.now();
    let response = "";
    let dripped = 0;
    let timer: NodeJS.Timeout | undefined;
    const give = setTimeout(() => {
      socket.destroy();
      reject(new Error(`still open after ${ENDED_WITHIN_MS * 2} ms, ${dripped} bytes dripped`));
    }, ENDED_WITHIN_MS * 2);
    const done = () => {
      clearTimeout(give);
      clearTimeout(timer);
      resolve({ endedAfterMs: Date.now() - startedAt, response, bytesDripped: dripped });
    };
    socket.on("data", (chunk: Buffer) => (response += chunk.toString()));
    socket.on("error", () => undefined);
    socket.on("close", done);
    socket.write(head);
    const next = () => {
      if (dripped >= drip.length || socket.destroyed) return;
      socket.write(drip[dripped++]!);
      timer = setTimeout(next, DRIP_MS);
    };
    timer = setTimeout(next, DRIP_MS);
  });
}

const slowBody = (host: string, token: string) =>
  [
    slowClient,
    `POST /v1/conversations HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${token}\r\n` +
      "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n",
    `{"title":"${"s".repeat(86)}"}`,
  ] as const;
const slowHeaders = (host: string) =>
  [slowClient, `GET /health HTTP/1.1\r\nHost: ${host}\r\n`, "X-Slow: " + "a".repeat(60) + "\r\n\r\n"] as const;

describe("request timeouts", () => {
  let stack: Stack;
  let caddy: RunningCaddy;
  let token: string;
  const direct = () => tcpConnect(stack.apis[0]!.port, "127.0.0.1");
  const proxied = () =>
    tlsConnect({ host: "127.0.0.1", port: caddy.httpsPort, servername: "localhost", ca: caddy.ca() });

  beforeAll(async () => {
    stack = await startStack({ env: { REQUEST_TIMEOUT: LIMIT, SSE_KEEPALIVE: "500ms" } });
    caddy = await startCaddy({ upstreams: [`127.0.0.1:${stack.apis[0]!.port}`], requestTimeout: LIMIT });
    token = await tokenFor("rita");
  }, 60_000);
  afterAll(async () => {
    await caddy?.stop();
    await stack?.stop();
  });

  it("answers 408 in the API's error shape to a body sent a byte a second, and closes", async () => {
    const [run, head, drip] = slowBody("127.0.0.1", token);
    const result = await run(direct(), head, drip);
    expect(result.endedAfterMs).toBeLessThan(ENDED_WITHIN_MS);
    expect(result.bytesDripped).toBeLessThan(drip.length);
    expect(result.response).toMatch(/^HTTP\/1\.1 408 /);
    expect(JSON.parse(result.response.slice(result.response.indexOf("\r\n\r\n") + 4))).toMatchObject({
      error: { code: "request_timeout", message: expect.stringMatching(/REQUEST_TIMEOUT/) },
    });
  }, 60_000);

  it("closes a connection whose headers come a byte a second", async () => {
    const [run, head, drip] = slowHeaders("127.0.0.1");
    const result = await run(direct(), head, drip);
    expect(result.endedAfterMs).toBeLessThan(ENDED_WITHIN_MS);
    expect(result.bytesDripped).toBeLessThan(drip.length);
    expect(result.response).toMatch(/^HTTP\/1\.1 408 /);
  }, 60_000);

  it("ends both through Caddy, over TLS", async () => {
    for (const [run, head, drip] of [slowBody("localhost", token), slowHeaders("localhost")]) {
      const result = await run(proxied(), head, drip);
      expect(result.endedAfterMs, head.split("\r\n")[0]).toBeLessThan(ENDED_WITHIN_MS);
      expect(result.bytesDripped).toBeLessThan(drip.length);
      // Whatever Caddy says before closing, the request never succeeded.
      expect(result.response).not.toMatch(/^HTTP\/1\.1 2/);
    }
  }, 90_000);

  it("never cuts an answer that streams for longer than the limit, directly or through Caddy", async () => {
    const chunks = Array.from({ length: 14 }, (_, i) => `t${i} `);
    const clients = [
      new ChatClient(stack.apis[0]!.url, token),
      new ChatClient(`https://localhost:${caddy.httpsPort}`, token, { ca: caddy.ca() }),
    ];
    for (const client of clients) {
      // 14 x 500 ms: 7 s, over three times the 2 s limit.
      stack.llm.script({ kind: "stream", chunks, delayMs: 500 });
      const id = await client.createConversation();
      const startedAt = Date.now();
      const stream = await client.send(id, "take your time");
      await stream.ended;
      expect(Date.now() - startedAt).toBeGreaterThan(6_000);
      expect(stream.events.at(-1)?.event, client.baseUrl).toBe("done");
      expect(textOf(stream)).toBe(chunks.join(""));
    }
  }, 60_000);

  it("never cuts one through Caddy over HTTP/2 either, as browsers connect", async () => {
    const chunks = Array.from({ length: 14 }, (_, i) => `h${i} `);
    stack.llm.script({ kind: "stream", chunks, delayMs: 500 });
    const id = await new ChatClient(stack.apis[0]!.url, token).createConversation();
    const session = http2Connect(`https://localhost:${caddy.httpsPort}`, { ca: caddy.ca() });
    try {
      const startedAt = Date.now();
      const body = await new Promise<string>((resolve, reject) => {
        const req = session.request({
          ":method": "POST",
          ":path": `/v1/conversations/${id}/messages`,
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
        });
        let text = "";
        req.setEncoding("utf8");
        req.on("data", (chunk: string) => (text += chunk));
        req.on("end", () => resolve(text));
        req.on("error", reject);
        req.end(JSON.stringify({ content: "take your time over HTTP/2" }));
      });
      expect(Date.now() - startedAt).toBeGreaterThan(6_000);
      expect(body).toMatch(/event: done/);
      for (const chunk of chunks) expect(body).toContain(JSON.stringify({ text: chunk }));
    } finally {
      session.close();
    }
  }, 60_000);
});
