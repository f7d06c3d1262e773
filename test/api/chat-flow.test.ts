// The full chat flow through the bundled API, against both providers' exact
// wire formats.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { textOf } from "../../scripts/loopback/chat-client.js";
import { startStack, type Stack } from "../../scripts/loopback/stack.js";

describe.each(["anthropic", "openai"] as const)("chat flow with the %s wire format", (provider) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ provider });
  });
  afterAll(() => stack?.stop());

  it("streams an answer as delta events, then done with usage, and stores both messages", async () => {
    stack.llm.script({ kind: "stream", chunks: ["Bonjour", ", ", "le monde"], inputTokens: 12, outputTokens: 7 });
    const client = await stack.client("alice");
    const id = await client.createConversation("greetings");
    const stream = await client.send(id, "Say hello in French");
    await stream.ended;

    expect(stream.status).toBe(200);
    expect(stream.headers["content-type"]).toBe("text/event-stream; charset=utf-8");
    expect(stream.headers["cache-control"]).toContain("no-cache");
    expect(stream.headers["x-accel-buffering"]).toBe("no");
    const messageId = stream.headers["x-message-id"] as string;
    expect(stream.events.map((e) => [e.id, e.event])).toEqual([
      ["1", "delta"],
      ["2", "delta"],
      ["3", "delta"],
      ["4", "done"],
    ]);
    expect(textOf(stream)).toBe("Bonjour, le monde");
    expect(stream.events.at(-1)!.data).toEqual({
      messageId,
      usage: { inputTokens: 12, outputTokens: 7 },
      stopReason: provider === "anthropic" ? "end_turn" : "stop",
    });

    const conversation = await client.conversation(id);
    expect(conversation.messages.map((m) => [m.role, m.content, m.status])).toEqual([
      ["user", "Say hello in French", undefined],
      ["assistant", "Bonjour, le monde", "complete"],
    ]);
    expect(conversation.messages[1]!.id).toBe(messageId);
  });

  it("sends the conversation so far to the model as context", async () => {
    stack.llm.script({ kind: "stream", chunks: ["first answer"] }, { kind: "stream", chunks: ["second answer"] });
    const client = await stack.client("bob");
    const id = await client.createConversation();
    await (
      await client.send(id, "first question")
    ).ended;
    await (
      await client.send(id, "second question")
    ).ended;

    const last = stack.llm.requests.at(-1)!.body;
    expect(last.stream).toBe(true);
    const messages = last.messages as Array<{ role: string; content: string }>;
    expect(messages).toEqual([
      { role: "user", content: "first question" },
      { role: "assistant", content: "first answer" },
      { role: "user", content: "second question" },
    ]);
    if (provider === "openai") expect(last.stream_options).toEqual({ include_usage: true });
    else expect(last.max_tokens).toBe(1024);
  });

  it("lists, reads and deletes conversations", async () => {
    const client = await stack.client("carol");
    const a = await client.createConversation("a");
    const b = await client.createConversation("b");
    const list = await client.request("GET", "/v1/conversations");
    expect(list.status).toBe(200);
    expect(list.body.conversations.map((c: { id: string }) => c.id).sort()).toEqual([a, b].sort());

    expect((await client.request("DELETE", `/v1/conversations/${a}`)).status).toBe(204);
    expect((await client.request("GET", `/v1/conversations/${a}`)).status).toBe(404);
    expect((await client.request("DELETE", `/v1/conversations/${a}`)).status).toBe(404);
    const after = await client.request("GET", "/v1/conversations");
    expect(after.body.conversations.map((c: { id: string }) => c.id)).toEqual([b]);
  });

  it("refuses a model that is not enabled", async () => {
    const client = await stack.client("dave");
    const id = await client.createConversation();
    const res = await client.request("POST", `/v1/conversations/${id}/messages`, {
      content: "hi",
      model: "expensive-model",
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("model_not_allowed");
  });
});
