// Bad and hostile input gets a clear JSON error and changes nothing.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChatClient } from "../harness/chat-client.js";
import { startStack, type Stack } from "../harness/stack.js";

describe("hostile input", () => {
  let stack: Stack;
  let client: ChatClient;
  let id: string;
  beforeAll(async () => {
    stack = await startStack({ env: { MAX_MESSAGE_CHARS: "1000" } });
    client = await stack.client("henry");
    id = await client.createConversation();
  });
  afterAll(() => stack?.stop());

  const post = (body: unknown, headers: Record<string, string> = {}) =>
    client.request("POST", `/v1/conversations/${id}/messages`, body, { headers });

  it("refuses a body over the size limit with 413", async () => {
    const res = await post(JSON.stringify({ content: "x".repeat(300 * 1024) }));
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe("payload_too_large");
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
