// The chat rules (chat/start-answer.ts, follow-answer.ts, read-conversation.ts)
// through their routes with fastify.inject, on a double of the chat store
// (chat-store-double.ts says why): a real Fastify app, real Generations on
// the mock provider, and every branch's effect on the store read back
// exactly. The same rules against the real store: the other tests here.
import { randomUUID } from "node:crypto";
import { trace } from "@opentelemetry/api";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import pino from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ChatDeps } from "../../app/src/chat/chat-deps.js";
import { GenerationRegistry } from "../../app/src/chat/registry.js";
import { ResumeStreams } from "../../app/src/chat/resume-streams.js";
import { registerErrorHandling } from "../../app/src/http/errors.js";
import { createMetrics } from "../../app/src/observability/metrics.js";
import { mockProvider } from "../../app/src/providers/mock.js";
import type { LlmProvider } from "../../app/src/providers/types.js";
import { conversationRoutes } from "../../app/src/routes/conversations.js";
import { messageRoutes } from "../../app/src/routes/messages.js";
import type { ConversationRecord, LogRecord, UserMessageRecord } from "../../app/src/store/records.js";
import { StoreError } from "../../app/src/store/store-errors.js";
import { ChatStoreDouble, noBudgets, QuotaDouble } from "./chat-store-double.js";

const OWNER = "alice";
const LEASE_MS = 1_000;

interface Built {
  app: FastifyInstance;
  store: ChatStoreDouble;
  quota: QuotaDouble;
  generations: GenerationRegistry;
}

const built: Built[] = [];
afterEach(async () => {
  for (const { app, generations } of built.splice(0)) {
    await generations.drain(0);
    await app.close();
  }
});

function chatApp(
  config: Partial<ChatDeps["config"]> = {},
  provider: LlmProvider = mockProvider({ delayMs: 1 }),
): Built {
  const store = new ChatStoreDouble();
  const quota = new QuotaDouble(1024 * 1024);
  const metrics = createMetrics();
  const log = pino({ level: "silent" });
  const settings: ChatDeps["config"] = {
    model: "mock-model",
    allowedModels: ["mock-model"],
    maxMessageChars: 32_000,
    maxOutputTokens: 256,
    historyMaxMessages: 50,
    contextMaxTokens: 8_000,
    maxActiveAnswersPerUser: 2,
    instanceId: "api-test",
    generationLeaseMs: LEASE_MS,
    sseKeepAliveMs: 60_000,
    disconnectPolicy: "continue",
    ...config,
  };
  const generations = new GenerationRegistry({
    store,
    provider,
    metrics,
    tracer: trace.getTracer("chat-rules"),
    log,
    instanceId: settings.instanceId,
    leaseTtlMs: LEASE_MS,
    upstreamIdleTimeoutMs: 30_000,
    maxOutputTokens: settings.maxOutputTokens,
    contextLimits: { maxMessages: settings.historyMaxMessages, maxTokens: settings.contextMaxTokens },
  });
  const deps: ChatDeps = {
    config: settings,
    store,
    budgets: noBudgets,
    quota,
    metrics,
    provider: { name: "mock" },
    generations,
    resumeStreams: new ResumeStreams(),
    lifecycle: { state: "serving" },
  };
  const app: FastifyInstance = Fastify({ loggerInstance: log as FastifyBaseLogger });
  registerErrorHandling(app);
  app.decorateRequest("userId", "");
  // Stands in for authentication (tested in auth.test.ts): the user is named by a header.
  app.addHook("onRequest", async (request) => {
    request.userId = (request.headers["x-user"] as string | undefined) ?? OWNER;
  });
  conversationRoutes(app, deps);
  messageRoutes(app, deps);
  const result = { app, store, quota, generations };
  built.push(result);
  return result;
}

/** A conversation of OWNER: new (never sent to) unless `updatedAt` says otherwise. */
function conversation(fields: Partial<ConversationRecord> = {}): ConversationRecord {
  const createdAt = "2026-01-01T00:00:00.000Z";
  return { id: randomUUID(), title: null, createdAt, updatedAt: createdAt, ...fields };
}

function userMessage(replyId: string, content: string): UserMessageRecord {
  return {
    kind: "user",
    id: randomUUID(),
    replyId,
    content,
    model: "mock-model",
    provider: "mock",
    createdAt: "2026-01-01T00:00:01.000Z",
  };
}

function send(app: FastifyInstance, conversationId: string, body: object, user = OWNER) {
  return app.inject({
    method: "POST",
    url: `/v1/conversations/${conversationId}/messages`,
    headers: { "x-user": user },
    payload: body,
  });
}

/** A conversation whose one answer is still events in the log (its generator alive, or dead). */
function answerInProgress(): { c: ConversationRecord; replyId: string; log: LogRecord[] } {
  const replyId = randomUUID();
  const c = conversation({ updatedAt: "2026-01-01T00:05:00.000Z" });
  return {
    c,
    replyId,
    log: [
      userMessage(replyId, "hi"),
      { kind: "events", replyId, events: [{ seq: 1, type: "delta", data: { text: "Hel" } }] },
    ],
  };
}

/** The event types of an SSE body, in order. */
function eventTypes(body: string): string[] {
  return [...body.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]!);
}

describe("starting an answer", () => {
  it("streams the answer, stores the message and its answer, and releases the lease at the end", async () => {
    const { app, store } = chatApp();
    const c = conversation();
    store.seedConversation(OWNER, c);
    const res = await send(app, c.id, { content: "hello" });
    expect(res.statusCode).toBe(200);
    const replyId = res.headers["x-message-id"];
    expect(res.headers["content-location"]).toBe(`/v1/conversations/${c.id}/messages/${replyId}/stream`);
    expect(eventTypes(res.body).at(-1)).toBe("done");
    expect(store.logOf(c.id).map((r) => r.kind)).toEqual(["user", "answer"]);
    expect(store.leases.size).toBe(0);
    expect(store.contextOf(c.id)?.map((t) => t.role)).toEqual(["user", "assistant"]);
  });

  it("reads no log for a conversation never sent to, and records its first activity", async () => {
    const { app, store } = chatApp();
    const c = conversation();
    store.seedConversation(OWNER, c);
    await send(app, c.id, { content: "first" });
    expect(store.calls.filter((call) => call === "recentTurns")).toEqual([]);
    expect(store.calls.filter((call) => call === "touchConversation")).toHaveLength(1);
    expect(store.recordOf(OWNER, c.id)?.updatedAt).not.toBe(c.createdAt);
  });

  it("touches a conversation at most once a minute", async () => {
    const { app, store } = chatApp();
    // Sent to 10 s ago: its activity is recent enough.
    const c = conversation({ updatedAt: new Date(Date.now() - 10_000).toISOString() });
    store.seedConversation(OWNER, c);
    await send(app, c.id, { content: "again" });
    expect(store.calls).not.toContain("touchConversation");
  });

  it("rebuilds the context from the log when none is stored, and the model is sent it", async () => {
    const { app, store } = chatApp();
    const earlier = randomUUID();
    const c = conversation({ updatedAt: "2026-01-01T00:05:00.000Z" });
    store.seedConversation(OWNER, c, [
      userMessage(earlier, "my name is Ada"),
      {
        kind: "answer",
        replyId: earlier,
        deltas: ["Hello Ada"],
        end: {
          seq: 2,
          type: "done",
          data: { messageId: earlier, usage: { inputTokens: 1, outputTokens: 1 }, stopReason: "end_turn" },
        },
      },
    ]);
    await send(app, c.id, { content: "what is my name?" });
    expect(store.calls).toContain("recentTurns");
    expect(
      store
        .contextOf(c.id)
        ?.map((t) => t.content)
        .slice(0, 3),
    ).toEqual(["my name is Ada", "Hello Ada", "what is my name?"]);
  });

  it("refuses another user's conversation with 404, and gives its lease back", async () => {
    const { app, store } = chatApp();
    const c = conversation();
    store.seedConversation("bob", c);
    const res = await send(app, c.id, { content: "hi" });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: { code: "not_found", message: "No such conversation." } });
    expect(store.leases.size).toBe(0);
    expect(store.calls).toEqual(["release"]);
  });

  it("refuses with 429 and Retry-After 5 while every slot is leased, storing nothing", async () => {
    const { app, store } = chatApp({ maxActiveAnswersPerUser: 1 });
    const c = conversation();
    store.seedConversation(OWNER, c);
    store.seedLease(OWNER, 0, randomUUID());
    const res = await send(app, c.id, { content: "hi" });
    expect(res.statusCode).toBe(429);
    expect(res.headers["retry-after"]).toBe("5");
    expect(res.json().error.code).toBe("too_many_answers");
    expect(store.logOf(c.id)).toEqual([]);
    expect(store.leases.size).toBe(1);
  });

  it("gives back the lease and the storage quota when the message cannot be stored", async () => {
    const { app, store, quota } = chatApp();
    const c = conversation();
    store.seedConversation(OWNER, c);
    store.failNext.set("appendUserMessage", new StoreError("unavailable", new Error("NATS away")));
    const res = await send(app, c.id, { content: "hi" });
    expect(res.statusCode).toBe(503);
    expect(res.headers["retry-after"]).toBe("2");
    expect(store.leases.size).toBe(0);
    expect(quota.used.get(OWNER)).toBe(0);
    expect(store.logOf(c.id)).toEqual([]);
  });

  it("refuses with 507 a message over the storage quota, storing nothing and giving the lease back", async () => {
    const { app, store, quota } = chatApp();
    const c = conversation();
    store.seedConversation(OWNER, c);
    quota.used.set(OWNER, quota.limit - 10);
    const res = await send(app, c.id, { content: "a message of more than ten bytes" });
    expect([res.statusCode, res.json().error.code]).toEqual([507, "storage_quota_exceeded"]);
    expect(quota.used.get(OWNER)).toBe(quota.limit - 10);
    expect(store.logOf(c.id)).toEqual([]);
    expect(store.leases.size).toBe(0);
  });

  it("refuses a blank message, a model not enabled, and a message over the context budget", async () => {
    const { app, store } = chatApp({ contextMaxTokens: 10 });
    const c = conversation();
    store.seedConversation(OWNER, c);
    const blank = await send(app, c.id, { content: "   " });
    expect([blank.statusCode, blank.json().error.code]).toEqual([400, "invalid_request"]);
    const model = await send(app, c.id, { content: "hi", model: "other" });
    expect([model.statusCode, model.json().error.code]).toEqual([400, "model_not_allowed"]);
    const large = await send(app, c.id, { content: "x".repeat(44) });
    expect([large.statusCode, large.json().error.code]).toEqual([413, "message_too_large"]);
    expect(large.json().error.message).toContain("about 11 tokens");
    expect(store.calls).toEqual([]);
    expect(store.leases.size).toBe(0);
  });
});

describe("shutting down", () => {
  /** A provider whose answer to each message waits until the test lets it end. */
  function gatedProvider() {
    const gates = new Map<string, () => void>();
    const provider: LlmProvider = {
      name: "mock",
      async *stream(request) {
        const text = request.messages.at(-1)!.content;
        await new Promise<void>((resolve, reject) => {
          gates.set(text, resolve);
          request.signal.addEventListener("abort", () => reject(request.signal.reason as Error));
        });
        yield { type: "delta", text: `answer to ${text}` };
        yield { type: "stop", reason: "end_turn" };
      },
    };
    const started = (text: string) => vi.waitFor(() => expect(gates.has(text)).toBe(true));
    return { provider, gates, started };
  }

  it("waits for an answer that started after the drain began, not only for the ones it found", async () => {
    const { provider, gates, started } = gatedProvider();
    const { app, store, generations } = chatApp({}, provider);
    const [early, late] = [conversation(), conversation()];
    store.seedConversation(OWNER, early);
    store.seedConversation(OWNER, late);

    const earlyReply = send(app, early.id, { content: "early" });
    await started("early");
    const drained = generations.drain(60_000);
    // Its request passed the door before the drain; its answer starts now.
    const lateReply = send(app, late.id, { content: "late" });
    await started("late");
    gates.get("early")!();
    expect(eventTypes((await earlyReply).body).at(-1)).toBe("done");
    // Once the early answer and every reaction to its end are done, the
    // late one still runs: the drain waits for it rather than stopping it.
    await vi.waitFor(() => expect(generations.size).toBeLessThan(2));
    await new Promise((resolve) => setImmediate(resolve));
    expect(generations.size, "answers still running after the early one ended").toBe(1);
    gates.get("late")!();

    expect(await drained).toEqual({ finished: 2, stopped: 0 });
    expect(eventTypes((await lateReply).body).at(-1)).toBe("done");
  });
});

describe("following an answer", () => {
  function follow(app: FastifyInstance, conversationId: string, replyId: string, lastEventId?: string) {
    return app.inject({
      method: "GET",
      url: `/v1/conversations/${conversationId}/messages/${replyId}/stream`,
      headers: lastEventId === undefined ? {} : { "last-event-id": lastEventId },
    });
  }

  it("sends an ended answer's events after Last-Event-ID at once, and 204 when none are left", async () => {
    const { app, store } = chatApp();
    const c = conversation();
    store.seedConversation(OWNER, c);
    const replyId = (await send(app, c.id, { content: "one two" })).headers["x-message-id"] as string;
    const all = await follow(app, c.id, replyId);
    const count = eventTypes(all.body).length;
    const rest = await follow(app, c.id, replyId, String(count - 1));
    expect([rest.statusCode, eventTypes(rest.body)]).toEqual([200, ["done"]]);
    const none = await follow(app, c.id, replyId, String(count));
    expect(none.statusCode).toBe(204);
  });

  it("answers 404 for a message the conversation does not hold, and for another user's conversation", async () => {
    const { app, store } = chatApp();
    const mine = conversation();
    const theirs = conversation();
    store.seedConversation(OWNER, mine);
    store.seedConversation("bob", theirs);
    const unknown = await follow(app, mine.id, randomUUID());
    expect(unknown.json().error.message).toBe("No such message in this conversation.");
    const other = await follow(app, theirs.id, randomUUID());
    expect(other.json().error.message).toBe("No such conversation.");
  });

  it("ends an answer whose lease lapsed as interrupted, for this stream and in the store", async () => {
    const { app, store } = chatApp();
    const { c, replyId, log } = answerInProgress();
    store.seedConversation(OWNER, c, log);
    // No lease held: the generator is dead. The watchdog ends it after half a lease of quiet.
    const res = await follow(app, c.id, replyId);
    expect(eventTypes(res.body)).toEqual(["delta", "error"]);
    expect(res.body).toContain("generation_interrupted");
    const stored = await store.getAnswer(c.id, replyId);
    expect(stored?.deltas).toEqual(["Hel"]);
    expect(stored?.end.type).toBe("error");
  });
});

describe("reading a conversation compacts on read", () => {
  it("stores an answer whose lease lapsed as interrupted, and shows it so", async () => {
    const { app, store } = chatApp();
    const { c, replyId, log } = answerInProgress();
    store.seedConversation(OWNER, c, log);
    const res = await app.inject({ method: "GET", url: `/v1/conversations/${c.id}` });
    expect(res.json().messages.map((m: { status?: string }) => m.status)).toEqual([undefined, "error"]);
    expect((await store.getAnswer(c.id, replyId))?.end.type).toBe("error");
  });

  it("leaves an answer whose lease is held as it is: still streaming", async () => {
    const { app, store } = chatApp();
    const { c, replyId, log } = answerInProgress();
    store.seedConversation(OWNER, c, log);
    store.seedLease(OWNER, 1, replyId);
    const res = await app.inject({ method: "GET", url: `/v1/conversations/${c.id}` });
    expect(res.json().messages.map((m: { status?: string }) => m.status)).toEqual([undefined, "streaming"]);
    expect(store.calls).not.toContain("finishAnswerIfKept");
    expect(await store.getAnswer(c.id, replyId)).toBeNull();
  });

  it("answers 404 for another user's conversation and writes nothing", async () => {
    const { app, store } = chatApp();
    const { c, log } = answerInProgress();
    store.seedConversation("bob", c, log);
    const res = await app.inject({ method: "GET", url: `/v1/conversations/${c.id}` });
    expect(res.statusCode).toBe(404);
    expect(store.calls).toEqual([]);
  });
});

describe("creating a conversation", () => {
  const create = (app: FastifyInstance) => app.inject({ method: "POST", url: "/v1/conversations", payload: {} });

  it("charges its record to the storage quota, and refuses with 507 when the quota is used up", async () => {
    const { app, store, quota } = chatApp();
    const first = await create(app);
    expect(first.statusCode).toBe(201);
    const charged = quota.used.get(OWNER)!;
    expect(charged).toBeGreaterThan(0);
    quota.used.set(OWNER, quota.limit);
    const refused = await create(app);
    expect([refused.statusCode, refused.json().error.code]).toEqual([507, "storage_quota_exceeded"]);
    expect(await store.listConversations(OWNER)).toHaveLength(1);
  });

  it("gives the bytes back when the record cannot be stored", async () => {
    const { app, store, quota } = chatApp();
    store.failNext.set("createConversation", new StoreError("full", new Error("no space")));
    const res = await create(app);
    expect([res.statusCode, res.headers["retry-after"]]).toEqual([503, "60"]);
    expect(quota.used.get(OWNER)).toBe(0);
    expect(await store.listConversations(OWNER)).toEqual([]);
  });
});
