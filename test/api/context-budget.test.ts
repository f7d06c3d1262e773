// The context budget end to end, against the bundle, real NATS and the fake
// model: what reaches the model is measured at the fake, never over
// CONTEXT_MAX_TOKENS (4 characters a token), whatever the conversation did.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../../scripts/loopback/stack.js";

const UNLIMITED = { RATE_LIMIT_REQUESTS: "100000" };

/** The estimated tokens of the messages a request to the fake carried. */
function sentTokens(body: Record<string, unknown>): number {
  const messages = body.messages as Array<{ content: string }>;
  return messages.reduce((sum, m) => sum + Math.ceil(m.content.length / 4), 0);
}

describe("the context budget", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: UNLIMITED });
  });
  afterAll(() => stack?.stop());

  it("holds for 20 messages of 32,000 characters whose answers stored no text, and the conversation goes on", async () => {
    const client = await stack.client("uma");
    const id = await client.createConversation();
    const first = stack.llm.requests.length;
    for (let i = 0; i < 20; i++) {
      // The model fails before any text: the answer is stored without any.
      stack.llm.script({ kind: "stream", chunks: ["never sent"], failure: "error-event", failAfter: 0 });
      const stream = await client.send(id, `message ${i} `.padEnd(32_000, "x"));
      await stream.ended;
      expect(stream.events.at(-1)?.event).toBe("error");
    }
    stack.llm.script({ kind: "stream", chunks: ["still ", "here"] });
    const last = await client.send(id, "and now a short one");
    await last.ended;
    expect(last.events.at(-1)?.event).toBe("done");

    const sent = stack.llm.requests.slice(first);
    expect(sent).toHaveLength(21);
    // Each request: within the budget (32,000 by default), with its new message whole.
    for (const [i, request] of sent.entries()) {
      expect(sentTokens(request.body), `request ${i}`).toBeLessThanOrEqual(32_000);
      const newest = (request.body.messages as Array<{ content: string }>).at(-1)!.content;
      expect(newest.endsWith(i < 20 ? `message ${i} `.padEnd(32_000, "x") : "and now a short one")).toBe(true);
    }
    // Each new message is merged into the unanswered ones before it while
    // they fit: three of 8,000 tokens do (with the separators, 24,001), a
    // fourth would not, so the next context starts again from the new one.
    expect(sent.slice(0, 4).map((r) => sentTokens(r.body))).toEqual([8_000, 16_001, 24_001, 8_000]);
  }, 120_000);

  it("refuses up front, with 413 naming the settings, a message larger than the budget alone", async () => {
    const api = await stack.startInstance({ CONTEXT_MAX_TOKENS: "1000" });
    const client = await stack.client("vera", api);
    const id = await client.createConversation();
    const before = stack.llm.requests.length;
    const refused = await client.request("POST", `/v1/conversations/${id}/messages`, { content: "y".repeat(4_001) });
    expect(refused.status).toBe(413);
    expect(refused.body.error.code).toBe("message_too_large");
    expect(refused.body.error.message).toMatch(/CONTEXT_MAX_TOKENS=1000/);
    expect(refused.body.error.message).toMatch(/MAX_MESSAGE_CHARS/);
    expect(stack.llm.requests.length).toBe(before);
    // At the limit it goes.
    const fits = await client.send(id, "y".repeat(4_000));
    await fits.ended;
    expect(fits.events.at(-1)?.event).toBe("done");
    expect(sentTokens(stack.llm.requests.at(-1)!.body)).toBe(1_000);
  }, 60_000);
});
