// SIGTERM: /health turns 503 at once, new streams are refused, streams in
// flight finish (up to SHUTDOWN_GRACE), then the process exits 0.
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { textOf } from "../../scripts/loopback/chat-client.js";
import { requestJson } from "../../scripts/loopback/http-client.js";
import type { RunningApi } from "../../scripts/loopback/api.js";
import { startStack, type Stack } from "../../scripts/loopback/stack.js";

describe("SIGTERM draining", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { SHUTDOWN_GRACE: "20s" } });
  });
  afterAll(() => stack?.stop());

  it("finishes streams in flight, refuses new ones and exits 0", async () => {
    const api = stack.apis[0]!;
    const chunks = Array.from({ length: 10 }, (_, i) => `part${i} `);
    stack.llm.script({ kind: "stream", chunks, delayMs: 150 });
    const client = await stack.client("sam");
    const id = await client.createConversation();
    const inFlight = await client.send(id, "a long answer please");
    await inFlight.waitForEvents(2);

    api.process.signal("SIGTERM");
    await sleep(100);
    const health = await requestJson("GET", `${api.url}/health`);
    expect(health.status).toBe(503);
    expect(health.body).toEqual({ status: "unavailable" });
    const details = await requestJson("GET", `${api.url}/health/details`);
    expect(details.status).toBe(503);
    expect(details.body.reason).toBe("draining");
    const refused = await client.request("POST", `/v1/conversations/${id}/messages`, { content: "new one" });
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe("draining");
    expect(refused.headers["retry-after"]).toBe("1");

    await inFlight.ended;
    expect(textOf(inFlight)).toBe(chunks.join(""));
    expect(inFlight.events.at(-1)!.event).toBe("done");
    expect(await api.process.exited).toBe(0);
  });
});

describe("SIGTERM past the grace period", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { SHUTDOWN_GRACE: "1s" } });
  });
  afterAll(() => stack?.stop());

  it("ends unfinished answers with a clear error, keeps what was generated, and still exits 0", async () => {
    const api = stack.apis[0]!;
    stack.llm.script({ kind: "stream", chunks: Array.from({ length: 50 }, (_, i) => `p${i} `), delayMs: 200 });
    const client = await stack.client("tess");
    const id = await client.createConversation();
    const stream = await client.send(id, "never finishes in time");
    await stream.waitForEvents(2);
    api.process.signal("SIGTERM");
    await stream.ended;
    expect(stream.events.at(-1)).toMatchObject({ event: "error", data: { code: "server_shutdown" } });
    expect(await api.process.exited).toBe(0);

    const next = await stack.startInstance();
    const history = await (await stack.client("tess", next)).conversation(id);
    expect(history.messages[1]).toMatchObject({
      status: "error",
      content: textOf(stream),
      error: { code: "server_shutdown" },
    });
    // The model call was cancelled upstream, not left running.
    expect(stack.llm.aborted).toBe(1);
  });
});

describe("SIGTERM with DRAIN_DELAY", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { DRAIN_DELAY: "2s", SHUTDOWN_GRACE: "5s" } });
  });
  afterAll(() => stack?.stop());

  it("reports 503 at once but still serves new streams until the delay ends", async () => {
    const api = stack.apis[0]!;
    const client = await stack.client("val");
    const id = await client.createConversation();
    // A long answer keeps the process alive past the delay.
    stack.llm.script({ kind: "stream", chunks: Array.from({ length: 20 }, (_, i) => `s${i} `), delayMs: 250 });
    const long = await client.send(id, "a long one");
    await long.waitForEvents(1);
    api.process.signal("SIGTERM");
    await sleep(200);
    expect((await requestJson("GET", `${api.url}/health`)).status).toBe(503);
    const during = await client.send(id, "still welcome");
    await during.ended;
    expect(during.events.at(-1)!.event).toBe("done");
    await sleep(2200);
    const after = await client.request("POST", `/v1/conversations/${id}/messages`, { content: "too late" });
    expect(after.status).toBe(503);
    await long.ended;
    expect(long.events.at(-1)!.event).toBe("done");
    expect(await api.process.exited).toBe(0);
  });
});

describe("SIGTERM with resume streams of answers generated elsewhere", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ instances: 2, env: { SHUTDOWN_GRACE: "20s" } });
  });
  afterAll(() => stack?.stop());

  it("ends them once its own answers are settled, so the instance exits long before the grace period", async () => {
    const [generating, resuming] = stack.apis as [RunningApi, RunningApi];
    stack.llm.script({ kind: "stream", chunks: Array.from({ length: 40 }, (_, i) => `p${i} `), delayMs: 250 });
    const owner = await stack.client("tess", generating);
    const id = await owner.createConversation();
    const live = await owner.send(id, "slow please");
    await live.waitForEvents(2);
    const follower = await (await stack.client("tess", resuming)).resume(id, live.headers["x-message-id"] as string);
    await follower.waitForEvents(2);

    const started = Date.now();
    resuming.process.signal("SIGTERM");
    expect(await resuming.process.exited).toBe(0);
    // The answer takes 10 s; the instance that only followed it leaves at once.
    expect(Date.now() - started).toBeLessThan(5_000);
    await follower.ended;
    expect(follower.events.at(-1)?.event).toBe("delta");
    live.disconnect();
  }, 30_000);
});
