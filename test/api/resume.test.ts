// Streams survive a lost connection and a lost instance: an answer can be
// resumed from JetStream on any API instance with Last-Event-ID.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChatClient, textOf } from "../../scripts/loopback/chat-client.js";
import { startStack, type Stack } from "../../scripts/loopback/stack.js";
import { tokenFor } from "../../scripts/loopback/tokens.js";

const CHUNKS = Array.from({ length: 12 }, (_, i) => `w${i} `);

describe("resume with Last-Event-ID", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ instances: 2 });
  });
  afterAll(() => stack?.stop());

  it("continues a stream on a second instance after the client disconnects mid-stream", async () => {
    stack.llm.script({ kind: "stream", chunks: CHUNKS, delayMs: 60 });
    const token = await tokenFor("erin");
    const [a, b] = [new ChatClient(stack.apis[0]!.url, token), new ChatClient(stack.apis[1]!.url, token)];
    const id = await a.createConversation();
    const first = await a.send(id, "count slowly");
    const messageId = first.headers["x-message-id"] as string;
    await first.waitForEvents(3);
    first.disconnect();
    const seen = first.events.at(-1)!.id!;

    const resumed = await b.resume(id, messageId, seen);
    await resumed.ended;
    expect(resumed.status).toBe(200);
    const ids = resumed.events.map((e) => Number(e.id));
    expect(ids[0]).toBe(Number(seen) + 1);
    expect(ids).toEqual(ids.map((_, i) => Number(seen) + 1 + i));
    expect(resumed.events.at(-1)!.event).toBe("done");
    // What the client had plus what it resumed is the whole answer, once.
    expect(textOf(first) + textOf(resumed)).toBe(CHUNKS.join(""));
    // Generation went on while nobody listened (DISCONNECT_POLICY=continue).
    expect(stack.llm.aborted).toBe(0);
  });

  it("replays a finished answer from JetStream, from the start or after an id", async () => {
    stack.llm.script({ kind: "stream", chunks: ["one ", "two ", "three"] });
    const client = await stack.client("frank", stack.apis[1]);
    const id = await client.createConversation();
    const original = await client.send(id, "hi");
    await original.ended;
    const messageId = original.headers["x-message-id"] as string;

    const all = await (await stack.client("frank", stack.apis[0])).resume(id, messageId);
    await all.ended;
    expect(all.events.map((e) => [e.id, e.event, e.data])).toEqual(original.events.map((e) => [e.id, e.event, e.data]));

    const tail = await client.resume(id, messageId, "2");
    await tail.ended;
    expect(tail.events.map((e) => e.id)).toEqual(["3", "4"]);
  });

  it("refuses a malformed Last-Event-ID and unknown messages", async () => {
    const client = await stack.client("gina");
    const id = await client.createConversation();
    const bad = await client.request(
      "GET",
      `/v1/conversations/${id}/messages/${crypto.randomUUID()}/stream`,
      undefined,
      {
        headers: { "last-event-id": "abc" },
      },
    );
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/Last-Event-ID/);
    const missing = await client.request("GET", `/v1/conversations/${id}/messages/${crypto.randomUUID()}/stream`);
    expect(missing.status).toBe(404);
  });
});

describe("resume after the generating instance is killed", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ instances: 2 });
  });
  afterAll(() => stack?.stop());

  it("serves what was stored, then ends the answer as interrupted instead of hanging", async () => {
    stack.llm.script({ kind: "stream", chunks: CHUNKS, delayMs: 100 });
    const token = await tokenFor("hank");
    const [a, b] = [new ChatClient(stack.apis[0]!.url, token), new ChatClient(stack.apis[1]!.url, token)];
    const id = await a.createConversation();
    const first = await a.send(id, "count slowly");
    const messageId = first.headers["x-message-id"] as string;
    await first.waitForEvents(4);
    stack.apis[0]!.process.signal("SIGKILL");
    await stack.apis[0]!.process.exited;

    const resumed = await b.resume(id, messageId, "2");
    await resumed.ended;
    const deltas = resumed.events.filter((e) => e.event === "delta");
    // What was stored before the kill follows id 2 in order, with no gap,
    // and joins the client's first two deltas into a prefix of the answer.
    expect(deltas.map((e) => Number(e.id))).toEqual(deltas.map((_, i) => 3 + i));
    const firstTwo = first.events
      .slice(0, 2)
      .map((e) => e.data.text as string)
      .join("");
    expect(CHUNKS.join("").startsWith(firstTwo + deltas.map((e) => e.data.text as string).join(""))).toBe(true);
    expect(resumed.events.at(-1)).toMatchObject({ event: "error", data: { code: "generation_interrupted" } });

    // The partial answer is in the history, marked as ended by an error.
    const history = await b.conversation(id);
    const answer = history.messages.find((m) => m.id === messageId)!;
    expect(answer.status).toBe("error");
    expect(CHUNKS.join("").startsWith(answer.content)).toBe(true);
    expect(answer.content.length).toBeGreaterThan(0);

    // Another resume ends the same way, at once.
    const again = await b.resume(id, messageId);
    await again.ended;
    expect(again.events.at(-1)).toMatchObject({ event: "error", data: { code: "generation_interrupted" } });
  });
});
