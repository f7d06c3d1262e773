// CORS proven in a real browser (headless chromium): a page served from an
// origin in CORS_ORIGINS creates a conversation, streams an answer with fetch
// (EventSource cannot send Authorization), hangs up, and resumes it on the
// other instance with Last-Event-ID; a page from any other origin is refused
// by the browser itself, and its request never reaches the API.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBrowser, type RunningBrowser } from "../harness/browser.js";
import { ChatClient } from "../../scripts/loopback/chat-client.js";
import { startStack, type Stack } from "../../scripts/loopback/stack.js";
import { tokenFor } from "../../scripts/loopback/tokens.js";

interface PageEvent {
  id: number;
  event: string;
  data: { text?: string; code?: string };
}

/** A web client's page, from its own origin. */
async function servePage(): Promise<{ origin: string; server: Server }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end("<!doctype html><title>chat client</title>");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/**
 * Runs in the page: a conversation, an answer read from a fetch stream until
 * `stopAfter` events, then a resume with Last-Event-ID on `resumeApi`.
 */
async function chatInPage(args: { api: string; resumeApi: string; token: string; stopAfter: number }) {
  const auth = { authorization: `Bearer ${args.token}` };
  const readEvents = async (body: ReadableStream<Uint8Array>, stopAfter: number) => {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    const events: PageEvent[] = [];
    let buffer = "";
    while (events.length < stopAfter) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const fields: Record<string, string | undefined> = Object.fromEntries(
          block
            .split("\n")
            .filter((line) => !line.startsWith(":"))
            .map((line) => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 1).trim()]),
        );
        if (fields.id && fields.event && fields.data)
          events.push({
            id: Number(fields.id),
            event: fields.event,
            data: JSON.parse(fields.data) as PageEvent["data"],
          });
      }
    }
    await reader.cancel();
    return events;
  };

  const created = await fetch(`${args.api}/v1/conversations`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: "{}",
  });
  const conversation = (await created.json()) as { id: string };
  const hangUp = new AbortController();
  const answer = await fetch(`${args.api}/v1/conversations/${conversation.id}/messages`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json", accept: "text/event-stream" },
    body: JSON.stringify({ content: "Tell me a story" }),
    signal: hangUp.signal,
  });
  const messageId = answer.headers.get("x-message-id");
  const first = await readEvents(answer.body!, args.stopAfter);
  hangUp.abort();

  const resumed = await fetch(`${args.resumeApi}/v1/conversations/${conversation.id}/messages/${messageId}/stream`, {
    headers: { ...auth, "last-event-id": String(first.at(-1)!.id), accept: "text/event-stream" },
  });
  const rest = await readEvents(resumed.body!, Number.MAX_SAFE_INTEGER);
  return { created: created.status, status: answer.status, messageId, first, resumeStatus: resumed.status, rest };
}

/** Runs in the page: what the browser lets a script see of a cross-origin call. */
async function tryInPage(args: { api: string; token: string }) {
  const attempt = async (call: () => Promise<Response>) => {
    try {
      return { status: (await call()).status };
    } catch (err) {
      return { error: String(err) };
    }
  };
  return {
    create: await attempt(() =>
      fetch(`${args.api}/v1/conversations`, {
        method: "POST",
        headers: { authorization: `Bearer ${args.token}`, "content-type": "application/json" },
        body: "{}",
      }),
    ),
    health: await attempt(() => fetch(`${args.api}/health`)),
  };
}

describe("CORS in a real browser", () => {
  let stack: Stack;
  let browser: RunningBrowser;
  let allowed: { origin: string; server: Server };
  let other: { origin: string; server: Server };
  beforeAll(async () => {
    [allowed, other] = await Promise.all([servePage(), servePage()]);
    stack = await startStack({ instances: 2, env: { CORS_ORIGINS: allowed.origin } });
    browser = await startBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    for (const page of [allowed, other]) page?.server.close();
  });

  it("streams an answer to a page on an allowed origin, and resumes it after Last-Event-ID on the other instance", async () => {
    const chunks = ["Once", " upon", " a", " time", " there", " was", " a", " stream."];
    stack.llm.script({ kind: "stream", chunks, delayMs: 150 });
    const page = await browser.context.newPage();
    await page.goto(allowed.origin);
    const result = await page.evaluate(chatInPage, {
      api: stack.apis[0]!.url,
      resumeApi: stack.apis[1]!.url,
      token: await tokenFor("browser-user"),
      stopAfter: 3,
    });
    await page.close();

    expect([result.created, result.status, result.resumeStatus]).toEqual([201, 200, 200]);
    // Readable only because the API exposes it.
    expect(result.messageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(result.first.map((e) => e.id)).toEqual([1, 2, 3]);
    expect(result.rest.map((e) => e.id)).toEqual([4, 5, 6, 7, 8, 9]);
    expect(result.rest.at(-1)!.event).toBe("done");
    const text = [...result.first, ...result.rest].map((e) => e.data.text ?? "").join("");
    expect(text).toBe(chunks.join(""));
  });

  it("refuses a page on another origin in the browser, before its request reaches the API", async () => {
    const page = await browser.context.newPage();
    await page.goto(other.origin);
    const calls = stack.llm.requests.length;
    const result = await page.evaluate(tryInPage, { api: stack.apis[0]!.url, token: await tokenFor("elsewhere") });
    await page.close();

    expect(result.create).toEqual({ error: "TypeError: Failed to fetch" });
    expect(result.health).toEqual({ error: "TypeError: Failed to fetch" });
    // The preflight failed, so the POST was never sent: nothing was created.
    const client = new ChatClient(stack.apis[0]!.url, await tokenFor("elsewhere"));
    expect((await client.request("GET", "/v1/conversations")).body.conversations).toEqual([]);
    expect(stack.llm.requests.length).toBe(calls);
  });
});
