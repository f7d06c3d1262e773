// Per-user token budgets (USER_INPUT_TOKENS_PER_WINDOW,
// USER_OUTPUT_TOKENS_PER_WINDOW per USER_TOKEN_WINDOW), shared by two
// instances through NATS: each message reserves its estimated input and its
// whole output limit before the model is called, and is settled with the
// usage the provider reports when its answer ends.
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChatClient } from "../../scripts/loopback/chat-client.js";
import { requestJson, type SseStream } from "../../scripts/loopback/http-client.js";
import { startStack, type Stack } from "../../scripts/loopback/stack.js";
import { tokenFor } from "../../scripts/loopback/tokens.js";

const MAX_OUTPUT = 100;

/** The refusal's JSON body (an SSE request refused before its stream opens). */
function errorOf(stream: SseStream): { code: string; message: string } {
  return (JSON.parse(stream.raw.join("")) as { error: { code: string; message: string } }).error;
}

describe("per-user token budgets across two instances", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      instances: 2,
      env: {
        LLM_MAX_TOKENS: String(MAX_OUTPUT),
        CONTEXT_MAX_TOKENS: "1000",
        USER_INPUT_TOKENS_PER_WINDOW: "1000",
        // Three answers' worth of output limit.
        USER_OUTPUT_TOKENS_PER_WINDOW: String(3 * MAX_OUTPUT),
        USER_TOKEN_WINDOW: "1h",
        MAX_ACTIVE_ANSWERS_PER_USER: "10",
      },
    });
  });
  afterAll(() => stack?.stop());

  /** The user's client on instance `i % 2`. */
  async function clients(user: string): Promise<[ChatClient, ChatClient]> {
    const token = await tokenFor(user);
    return [new ChatClient(stack.apis[0]!.url, token), new ChatClient(stack.apis[1]!.url, token)];
  }

  it("reserves each answer's output limit before calling the model, so a user cannot start answers past the budget", async () => {
    const [a, b] = await clients("many-at-once");
    const id = await a.createConversation();
    // Slow answers: all three are still running when the fourth is asked for.
    const slow = { kind: "stream" as const, chunks: ["one", " two", " three", " four"], delayMs: 250, outputTokens: 4 };
    stack.llm.script(slow, slow, slow);
    const calls = stack.llm.requests.length;
    const running = [await a.send(id, "first"), await b.send(id, "second"), await a.send(id, "third")];
    expect(running.map((s) => s.status)).toEqual([200, 200, 200]);

    const refused = await b.send(id, "fourth");
    expect(refused.status).toBe(429);
    expect(errorOf(refused).code).toBe("token_budget_exceeded");
    expect(errorOf(refused).message).toMatch(/output token budget is used up \(300 tokens of answers per hour\)/);
    const retryAfter = Number(refused.headers["retry-after"]);
    expect(retryAfter).toBeGreaterThan(3000);
    expect(retryAfter).toBeLessThanOrEqual(3600);
    // Nothing sent for the refused one, and nothing stored.
    expect(stack.llm.requests.length - calls).toBe(3);
    await Promise.all(running.map((s) => s.ended));
    const conversation = await a.conversation(id);
    expect(conversation.messages.filter((m) => m.role === "user").map((m) => m.content)).toEqual([
      "first",
      "second",
      "third",
    ]);

    // Each answer used 4 of its 100: the rest is given back when it ends.
    expect(running.map((s) => s.events.at(-1)!.data.usage.outputTokens)).toEqual([4, 4, 4]);
    const next = await b.send(id, "fifth");
    expect(next.status).toBe(200);
    await next.ended;
  });

  it("counts the input tokens the provider reports, not only the estimate", async () => {
    const [a, b] = await clients("long-prompts");
    const id = await a.createConversation();
    // The estimate of these short messages is a few tokens; the provider says 700.
    const reported = { kind: "stream" as const, chunks: ["ok"], inputTokens: 700, outputTokens: 1 };
    stack.llm.script(reported, reported);
    const first = await a.send(id, "hello");
    await first.ended;
    expect(first.events.at(-1)!.data.usage.inputTokens).toBe(700);
    const second = await b.send(id, "hello again");
    await second.ended;
    expect(second.status).toBe(200);

    const third = await a.send(id, "and again");
    expect(third.status).toBe(429);
    expect(errorOf(third).message).toMatch(/input token budget is used up \(1000 tokens sent to the model per hour\)/);

    // Another user's budget is their own.
    const [other] = await clients("someone-else");
    const theirs = await other.send(await other.createConversation(), "hello");
    expect(theirs.status).toBe(200);
    await theirs.ended;
  });

  it("counts refusals in /metrics", async () => {
    const metrics = await requestJson("GET", `${stack.apis[1]!.url}/metrics`);
    expect(metrics.text).toMatch(/rate_limit_rejections_total\{scope="tokens"\} [1-9]/);
  });
});

describe("a token budget's window", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      env: {
        LLM_MAX_TOKENS: String(MAX_OUTPUT),
        USER_OUTPUT_TOKENS_PER_WINDOW: String(MAX_OUTPUT),
        USER_TOKEN_WINDOW: "5s",
      },
    });
  });
  afterAll(() => stack?.stop());

  it("is whole again when it ends, as Retry-After said", async () => {
    const client = await stack.client("waits");
    const id = await client.createConversation();
    const first = await client.send(id, "one");
    await first.ended;
    const refused = await client.send(id, "two");
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers["retry-after"]);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(5);

    await sleep(retryAfter * 1000 + 500);
    const again = await client.send(id, "two");
    expect(again.status).toBe(200);
    await again.ended;
  });
});
