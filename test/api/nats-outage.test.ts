// NATS stopped and restarted: the API reports it, refuses what it cannot
// store, recovers on its own, and loses no message it acknowledged.
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { textOf } from "../../scripts/loopback/chat-client.js";
import { requestJson } from "../../scripts/loopback/http-client.js";
import { startStack, type Stack } from "../../scripts/loopback/stack.js";

async function waitForStatus(url: string, status: number, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await requestJson("GET", url).catch(() => undefined);
    if (res?.status === status) return res;
    if (Date.now() > deadline) throw new Error(`${url} did not answer ${status}; last: ${res?.status} ${res?.text}`);
    await sleep(100);
  }
}

describe("NATS stopped and restarted", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack?.stop());

  it("keeps every acknowledged message across the outage", async () => {
    const api = stack.apis[0]!;
    const client = await stack.client("nora");
    const id = await client.createConversation();
    const answers: string[] = [];
    for (let i = 0; i < 3; i++) {
      stack.llm.script({ kind: "stream", chunks: [`answer ${i}`] });
      const stream = await client.send(id, `question ${i}`);
      await stream.ended;
      expect(stream.events.at(-1)!.event).toBe("done");
      answers.push(textOf(stream));
    }

    await stack.nats.nodes[0]!.stop();
    const down = await waitForStatus(`${api.url}/health/details`, 503);
    expect(down.body).toMatchObject({ status: "unavailable", reason: "nats_unreachable" });
    const refused = await client.request("POST", `/v1/conversations/${id}/messages`, { content: "during the outage" });
    expect(refused.status).toBeGreaterThanOrEqual(500);
    expect(refused.body.error.message).toMatch(/./);
    const metricsDown = await requestJson("GET", `${api.url}/metrics`);
    expect(metricsDown.text).toMatch(/^nats_connected 0$/m);

    await stack.nats.nodes[0]!.start();
    await waitForStatus(`${api.url}/health`, 200);
    const history = await client.conversation(id);
    expect(history.messages.map((m) => m.content)).toEqual([
      "question 0",
      answers[0],
      "question 1",
      answers[1],
      "question 2",
      answers[2],
    ]);
    expect(history.messages.some((m) => m.content === "during the outage")).toBe(false);

    // And it works again.
    const after = await client.send(id, "after the outage");
    await after.ended;
    expect(after.events.at(-1)!.event).toBe("done");
    expect(api.process.running).toBe(true);
  });
});

describe("a 3-node NATS cluster losing a node", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ natsNodes: 3, env: { NATS_STREAM_REPLICAS: "3" } });
  });
  afterAll(() => stack?.stop());

  it("keeps serving and keeps every message with replicated streams", async () => {
    const client = await stack.client("quinn");
    const id = await client.createConversation();
    await (
      await client.send(id, "before")
    ).ended;

    // Kill the node the API is connected to; the client fails over, and
    // the cluster moves stream leaders to the nodes left (a few seconds; far
    // more on a loaded 2-core machine, hence the generous bounds).
    await stack.nats.nodes[0]!.kill();
    const deadline = Date.now() + 60_000;
    for (;;) {
      const stream = await client.send(id, "after");
      await stream.ended;
      if (stream.status === 200 && stream.events.at(-1)?.event === "done") break;
      if (Date.now() > deadline) throw new Error(`no recovery: ${stream.status} ${stream.raw.join("")}`);
      await sleep(250);
    }
    // Reads may still meet a leader election for a moment: retry those too.
    let history;
    for (;;) {
      const res = await client.request("GET", `/v1/conversations/${id}`);
      if (res.status === 200) {
        history = res.body as { messages: Array<{ role: string; content: string }> };
        break;
      }
      if (Date.now() > deadline) throw new Error(`history unreadable: ${res.status} ${res.text}`);
      await sleep(250);
    }
    const contents = history.messages.filter((m) => m.role === "user").map((m) => m.content);
    expect(contents[0]).toBe("before");
    expect(contents.at(-1)).toBe("after");
  }, 90_000);
});
