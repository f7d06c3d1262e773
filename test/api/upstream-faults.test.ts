// Upstream failures become a clear `error` event: never a hung stream, never
// a crash. The API keeps serving afterwards.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { textOf } from "../../scripts/loopback/chat-client.js";
import { errorBody, type FakeReply } from "../../scripts/loopback/fake-llm.js";
import { requestJson } from "../../scripts/loopback/http-client.js";
import { startStack, type Stack } from "../../scripts/loopback/stack.js";

describe.each(["anthropic", "openai"] as const)("upstream faults (%s)", (provider) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ provider, env: { UPSTREAM_IDLE_TIMEOUT: "1s" } });
  });
  afterAll(() => stack?.stop());

  const cases: Array<[string, FakeReply, string, string]> = [
    [
      "429 rate limited",
      {
        kind: "status",
        status: 429,
        body: errorBody(provider, "rate_limit_error", "slow down"),
        headers: { "retry-after": "5" },
      },
      "upstream_rate_limited",
      "",
    ],
    [
      "529 overloaded",
      { kind: "status", status: 529, body: errorBody(provider, "overloaded_error", "Overloaded") },
      "upstream_overloaded",
      "",
    ],
    [
      "500 server error",
      { kind: "status", status: 500, body: errorBody(provider, "api_error", "boom") },
      "upstream_error",
      "",
    ],
    [
      "400 bad request",
      { kind: "status", status: 400, body: errorBody(provider, "invalid_request_error", "bad") },
      "upstream_rejected",
      "",
    ],
    [
      "an error event mid-stream",
      { kind: "stream", chunks: ["par", "tial", "x"], failure: "error-event", failAfter: 2 },
      provider === "anthropic" ? "upstream_overloaded" : "upstream_error",
      "partial",
    ],
    [
      "a dropped connection mid-stream",
      { kind: "stream", chunks: ["par", "tial", "x"], failure: "break", failAfter: 2 },
      "upstream_stream_broken",
      "partial",
    ],
    [
      "a stalled stream",
      { kind: "stream", chunks: ["par", "tial", "x"], failure: "stall", failAfter: 2 },
      "upstream_timeout",
      "partial",
    ],
  ];

  it.each(cases)("turns %s into an error event", async (_name, reply, code, partial) => {
    stack.llm.script(reply);
    const client = await stack.client("ursula");
    const id = await client.createConversation();
    const stream = await client.send(id, "hello");
    await stream.ended;
    expect(stream.status).toBe(200);
    expect(textOf(stream)).toBe(partial);
    const last = stream.events.at(-1)!;
    expect(last.event).toBe("error");
    expect(last.data.code).toBe(code);
    expect(last.data.message).toMatch(new RegExp(provider));
    // Keys never leak into error messages.
    expect(JSON.stringify(stream.events)).not.toContain(stack.llm.apiKey);

    const answer = (await client.conversation(id)).messages[1]!;
    expect(answer).toMatchObject({ status: "error", content: partial, error: { code } });
  });

  it("is still healthy and serving afterwards, and counted the errors", async () => {
    const health = await requestJson("GET", `${stack.apis[0]!.url}/health`);
    expect(health.status).toBe(200);
    const client = await stack.client("ursula");
    const stream = await client.send(await client.createConversation(), "again");
    await stream.ended;
    expect(stream.events.at(-1)!.event).toBe("done");
    const metrics = await requestJson("GET", `${stack.apis[0]!.url}/metrics`);
    expect(metrics.text).toMatch(
      new RegExp(`llm_upstream_errors_total\\{provider="${provider}",code="upstream_timeout"\\} 1`),
    );
    expect(stack.apis[0]!.process.running).toBe(true);
  });
});
