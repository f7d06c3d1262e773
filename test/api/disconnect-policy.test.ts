// DISCONNECT_POLICY=cancel: a client hanging up cancels generation upstream,
// and the partial answer and its token usage are still recorded.
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requestJson } from "../../scripts/loopback/http-client.js";
import { startStack, type Stack } from "../../scripts/loopback/stack.js";

describe.each(["anthropic", "openai"] as const)("DISCONNECT_POLICY=cancel (%s)", (provider) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ provider, env: { DISCONNECT_POLICY: "cancel" } });
  });
  afterAll(() => stack?.stop());

  it("aborts the upstream request and stores the partial answer with usage", async () => {
    stack.llm.script({
      kind: "stream",
      chunks: Array.from({ length: 40 }, (_, i) => `t${i} `),
      delayMs: 50,
      inputTokens: 33,
    });
    const client = await stack.client("uma");
    const id = await client.createConversation();
    const stream = await client.send(id, "go on and on");
    await stream.waitForEvents(3);
    stream.disconnect();

    const deadline = Date.now() + 5000;
    while (stack.llm.aborted === 0 && Date.now() < deadline) await sleep(20);
    expect(stack.llm.aborted).toBe(1);

    let answer;
    for (;;) {
      answer = (await client.conversation(id)).messages[1]!;
      if (answer.status !== "streaming" || Date.now() > deadline) break;
      await sleep(50);
    }
    expect(answer.status).toBe("complete");
    expect(answer.stopReason).toBe("cancelled");
    expect(answer.content.length).toBeGreaterThan(0);
    // Anthropic reports input tokens at the start; OpenAI only at the end,
    // so a cancelled OpenAI answer carries an estimate.
    if (provider === "anthropic") expect(answer.usage!.inputTokens).toBe(33);
    expect(answer.usage!.inputTokens).toBeGreaterThan(0);
    expect(answer.usage!.outputTokens).toBeGreaterThan(0);

    const metrics = await requestJson("GET", `${stack.apis[0]!.url}/metrics`);
    expect(metrics.text).toMatch(
      new RegExp(`llm_tokens_total\\{provider="${provider}",model="[^"]+",direction="output"\\} [1-9]`),
    );
  });
});
