// The chat store in production shape, against real nats-server: answers
// compacted once ended (with resume and history unchanged), a full store
// that degrades and recovers, deletes during an answer, one cap on answers
// in progress across instances, and settings that reach a running store.
import { setTimeout as sleep } from "node:timers/promises";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { EventSource } from "eventsource";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ownerKey } from "../../app/src/store/subjects.js";
import { textOf } from "../../scripts/loopback/chat-client.js";
import type { ReceivedEvent } from "../../scripts/loopback/http-client.js";
import { startStack, type Stack } from "../../scripts/loopback/stack.js";
import { tokenFor } from "../../scripts/loopback/tokens.js";

const UNLIMITED = { RATE_LIMIT_REQUESTS: "100000" };
const words = (n: number) => Array.from({ length: n }, (_, i) => `w${i} `);
const wire = (events: ReceivedEvent[]) => events.map(({ id, event, data }) => ({ id, event, data }));

async function storeOf(stack: Stack): Promise<{ nc: NatsConnection; jsm: JetStreamManager }> {
  const nc = await connect({ servers: stack.nats.url, token: stack.nats.token });
  return { nc, jsm: await jetstreamManager(nc) };
}

/** The subjects a conversation still has in the log, by kind (msg, live, ans, evt). */
async function subjectKinds(jsm: JetStreamManager, conversationId: string): Promise<string[]> {
  const info = await jsm.streams.info("CONVERSATIONS", { subjects_filter: `conv.${conversationId}.>` });
  return Object.keys(info.state.subjects ?? {})
    .map((s) => s.split(".")[2]!)
    .sort();
}

/** A stack of a describe block's own, with a JetStream manager on its NATS. */
function useStack(options: Parameters<typeof startStack>[0]) {
  const ctx = {} as { stack: Stack; store: Awaited<ReturnType<typeof storeOf>> };
  beforeAll(async () => {
    ctx.stack = await startStack(options);
    ctx.store = await storeOf(ctx.stack);
  }, 60_000);
  afterAll(async () => {
    await ctx.store?.nc.close();
    await ctx.stack?.stop();
  });
  return ctx;
}

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe("compacted answers", () => {
  const ctx = useStack({ instances: 2, env: UNLIMITED });

  it("keeps resume and history identical once an answer is one record, and stores nothing per token", async () => {
    ctx.stack.llm.script({ kind: "stream", chunks: words(60), delayMs: 25 });
    const a = await ctx.stack.client("carol", ctx.stack.apis[0]);
    const b = await ctx.stack.client("carol", ctx.stack.apis[1]);
    const id = await a.createConversation();
    const live = await a.send(id, "tell me");
    const replyId = live.headers["x-message-id"] as string;
    await live.waitForEvents(10);
    // Followed from the other instance while it is generated, from event 5.
    const following = await b.resume(id, replyId, "5");
    await Promise.all([live.ended, following.ended]);
    expect(wire(following.events)).toEqual(wire(live.events.filter((e) => Number(e.id) > 5)));

    // Ended: the user's message and one answer record, no event left.
    expect(await subjectKinds(ctx.store.jsm, id)).toEqual(["ans", "msg"]);
    const history = await b.conversation(id);
    expect(history.messages[1]).toMatchObject({ role: "assistant", status: "complete", content: textOf(live) });
    const replay = await b.resume(id, replyId);
    await replay.ended;
    expect(replay.status).toBe(200);
    expect(wire(replay.events)).toEqual(wire(live.events));
    const fromMiddle = await b.resume(id, replyId, "30");
    await fromMiddle.ended;
    expect(wire(fromMiddle.events)).toEqual(wire(live.events.filter((e) => Number(e.id) > 30)));
  }, 30_000);

  it("answers 204 to a resume after the last event, so an EventSource stops reconnecting", async () => {
    const client = await ctx.stack.client("dave");
    const id = await client.createConversation();
    const live = await client.send(id, "hi");
    await live.ended;
    const replyId = live.headers["x-message-id"] as string;
    const after = await client.resume(id, replyId, live.events.at(-1)!.id);
    await after.ended;
    expect(after.status).toBe(204);

    // A standard client: replays the answer, reconnects once with the last
    // id (WHATWG semantics), gets 204 and closes for good.
    const token = await tokenFor("dave");
    const requests: Array<string | null> = [];
    const received: string[] = [];
    const source = new EventSource(`${ctx.stack.apis[1]!.url}/v1/conversations/${id}/messages/${replyId}/stream`, {
      fetch: (url, init) => {
        const headers = new Headers(init?.headers);
        requests.push(headers.get("last-event-id"));
        headers.set("authorization", `Bearer ${token}`);
        return fetch(url, { ...init, headers });
      },
    });
    for (const type of ["delta", "done"]) source.addEventListener(type, (e) => received.push(e.lastEventId));
    await until(async () => source.readyState === EventSource.CLOSED, 15_000, "the EventSource to close");
    await sleep(4_000);
    source.close();
    expect(received).toEqual(live.events.map((e) => e.id));
    expect(requests).toEqual([null, live.events.at(-1)!.id]);
  }, 30_000);
});

describe("resume streams", () => {
  const ctx = useStack({ env: UNLIMITED });

  it("leave no consumer behind when clients leave during set-up or mid-stream", async () => {
    ctx.stack.llm.script({ kind: "stream", chunks: words(100), delayMs: 30 });
    const client = await ctx.stack.client("kate");
    const id = await client.createConversation();
    const live = await client.send(id, "go on");
    await live.waitForEvents(2);
    const replyId = live.headers["x-message-id"] as string;
    const url = `${ctx.stack.apis[0]!.url}/v1/conversations/${id}/messages/${replyId}/stream`;
    const token = await tokenFor("kate");
    // Ten clients that give up at once, while the API sets their stream up.
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        const abort = new AbortController();
        const request = fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
        abort.abort();
        await request.catch(() => undefined);
      }),
    );
    // And five that read a little, then hang up.
    const readers = await Promise.all(Array.from({ length: 5 }, () => client.resume(id, replyId)));
    await Promise.all(readers.map((r) => r.waitForEvents(3)));
    for (const r of readers) r.disconnect();
    await until(
      async () => (await ctx.store.jsm.consumers.list("CONVERSATIONS").next()).length === 0,
      5_000,
      "every resume consumer to be deleted",
    );
    live.disconnect();
  }, 30_000);
});

describe("a full store", () => {
  // One user fills the store here: their storage quota (USER_MAX_STORED_BYTES) is off.
  const ctx = useStack({ env: { ...UNLIMITED, CHAT_MAX_BYTES: "1MB", USER_MAX_STORED_BYTES: "0" } });

  it("reports degraded before refusing, refuses new messages with 503 and Retry-After, and recovers when room is made", async () => {
    const client = await ctx.stack.client("erin");
    // The host's view, read after `since`: the API reads the store at most once a second.
    const health = async (since = Date.now()) => {
      for (const deadline = since + 10_000; ; await sleep(100)) {
        const body = (await client.request("GET", "/health/details")).body as Record<string, any>;
        if (Date.parse(body.storage?.readAt) >= since) return body;
        if (Date.now() > deadline) throw new Error(`no fresh reading of the store: ${JSON.stringify(body)}`);
      }
    };
    const id = await client.createConversation();
    const big = "x".repeat(30_000);
    let refused: Awaited<ReturnType<typeof client.request<any>>> | undefined;
    let sawDegraded = false;
    for (let i = 0; i < 60 && !refused; i++) {
      const stream = await client.send(id, big);
      await stream.ended;
      if (stream.status === 200) {
        if ((await health()).status === "degraded") sawDegraded = true;
        continue;
      }
      refused = await client.request("POST", `/v1/conversations/${id}/messages`, { content: big });
    }
    expect(sawDegraded).toBe(true);
    expect(refused?.status).toBe(503);
    expect(refused?.body.error.code).toBe("store_full");
    // 60 s, not the 2 s of an outage: a full store waits for an operator.
    expect(refused?.headers["retry-after"]).toBe("60");
    const full = await health();
    expect(full).toMatchObject({ status: "degraded", storage: { limitBytes: 1024 * 1024 } });
    expect(await client.request("GET", "/health")).toMatchObject({ status: 200, body: { status: "degraded" } });
    // Reads still work, and /metrics tells how full each stream is.
    expect((await client.request("GET", `/v1/conversations/${id}`)).status).toBe(200);
    const metrics = (await client.request("GET", "/metrics")).text;
    expect(metrics).toMatch(/chat_store_limit_bytes\{stream="CONVERSATIONS"\} 1048576/);
    expect(metrics).toMatch(/chat_store_bytes\{stream="CONVERSATIONS"\} \d{6,}/);

    expect((await client.request("DELETE", `/v1/conversations/${id}`)).status).toBe(204);
    expect((await health()).status).toBe("ok");
    const fresh = await client.createConversation();
    const answer = await client.send(fresh, "hello again");
    await answer.ended;
    expect(answer.events.at(-1)?.event).toBe("done");
  }, 120_000);
});

describe("deleting a conversation while it is answered", () => {
  const ctx = useStack({ instances: 2, env: UNLIMITED });

  it("stops the answer on the instance generating it and leaves nothing behind, even with a resume open", async () => {
    const a = await ctx.stack.client("frank", ctx.stack.apis[0]);
    const b = await ctx.stack.client("frank", ctx.stack.apis[1]);
    const id = await a.createConversation();
    const first = await a.send(id, "first");
    await first.ended;
    ctx.stack.llm.script({ kind: "stream", chunks: words(400), delayMs: 20 });
    const live = await a.send(id, "a long one");
    await live.waitForEvents(5);
    // A client following the answer from the other instance: its stream
    // goes quiet with the delete, and must not end the answer into a log
    // that is gone.
    const following = await b.resume(id, live.headers["x-message-id"] as string);
    await following.waitForEvents(5);
    const abortedBefore = ctx.stack.llm.aborted;

    expect((await b.request("DELETE", `/v1/conversations/${id}`)).status).toBe(204);
    await live.ended;
    expect(live.events.length).toBeLessThan(200);
    await until(async () => ctx.stack.llm.aborted > abortedBefore, 5_000, "the model call to be stopped");
    await until(async () => (await subjectKinds(ctx.store.jsm, id)).length === 0, 5_000, "the log to be empty");
    // Past the lease (2 s here): the resume's watchdog has looked by now.
    await sleep(3_000);
    following.disconnect();
    const left = await ctx.store.jsm.streams.info("CONVERSATIONS", { subjects_filter: `conv.${id}.>` });
    expect(left.state.subjects ?? {}).toEqual({});
    const contexts = await ctx.store.jsm.streams.info("KV_conversation-contexts", {
      subjects_filter: `$KV.conversation-contexts.${id}`,
    });
    expect(Object.keys(contexts.state.subjects ?? {})).toEqual([]);
    const active = await ctx.store.jsm.streams.info("KV_active-answers", {
      subjects_filter: `$KV.active-answers.${ownerKey("frank")}.*`,
    });
    expect(Object.keys(active.state.subjects ?? {})).toEqual([]);
    expect((await a.request("GET", `/v1/conversations/${id}`)).status).toBe(404);
  }, 30_000);
});

describe("answers in progress per user", () => {
  const ctx = useStack({ instances: 2, env: { ...UNLIMITED, MAX_ACTIVE_ANSWERS_PER_USER: "2" } });

  it("are capped across instances, per user", async () => {
    ctx.stack.llm.setDefault({ kind: "stream", chunks: words(60), delayMs: 25 });
    const a = await ctx.stack.client("gina", ctx.stack.apis[0]);
    const b = await ctx.stack.client("gina", ctx.stack.apis[1]);
    const ids = await Promise.all([a.createConversation(), a.createConversation(), a.createConversation()]);
    const first = await a.send(ids[0]!, "one");
    const second = await b.send(ids[1]!, "two");
    const third = await a.request("POST", `/v1/conversations/${ids[2]}/messages`, { content: "three" });
    expect(third.status).toBe(429);
    expect(third.body.error.code).toBe("too_many_answers");
    expect(third.headers["retry-after"]).toBe("5");
    // Another user is not affected.
    const other = await ctx.stack.client("hank", ctx.stack.apis[1]);
    const theirs = await other.send(await other.createConversation(), "mine");
    expect(theirs.status).toBe(200);
    await Promise.all([first.ended, second.ended, theirs.ended]);
    const later = await b.send(ids[2]!, "three again");
    await later.ended;
    expect(later.events.at(-1)?.event).toBe("done");
  }, 30_000);
});

describe("the hot path", () => {
  const ctx = useStack({ env: UNLIMITED });

  it("makes no queued JetStream API request before the first token, for a new conversation or one of 60 messages", async () => {
    const { stack, store } = ctx;
    const client = await stack.client("nina");
    const long = await client.createConversation();
    for (let i = 0; i < 30; i++) await (await client.send(long, `turn ${i}`)).ended;
    const fresh = await client.createConversation();
    await sleep(500);
    // Core NATS delivers a copy of every JetStream API request to this
    // subscriber (reading the log would create a consumer:
    // $JS.API.CONSUMER.CREATE), and of every batch of an answer's events
    // the API stores, the first right after the first token goes to the
    // client. One connection gets both in the order the API sent them, so a
    // request sent before the first token comes before the first batch,
    // however late its copy arrives.
    const seen: string[] = [];
    const record = (_err: unknown, msg: { subject: string }) => {
      // Direct gets are reads any replica serves at once; the rest queue on the server.
      if (!msg.subject.startsWith("$JS.API.DIRECT.GET.")) seen.push(msg.subject);
    };
    const watches = [
      store.nc.subscribe("$JS.API.>", { callback: record }),
      store.nc.subscribe("conv.*.live.*", { callback: record }),
    ];
    await store.nc.flush();
    try {
      for (const id of [fresh, long]) {
        stack.llm.script({ kind: "stream", chunks: words(5), delayMs: 50 });
        seen.length = 0;
        const stream = await client.send(id, "and now?");
        await stream.ended;
        await store.nc.flush();
        const firstBatch = seen.findIndex((subject) => subject.startsWith(`conv.${id}.live.`));
        expect(firstBatch, `no stored batch of events in ${JSON.stringify(seen)}`).toBeGreaterThanOrEqual(0);
        expect(
          seen.slice(0, firstBatch),
          id === fresh ? "a new conversation" : "a conversation of 60 messages",
        ).toEqual([]);
        // The answer's own clean-up (releasing its slot) follows its last event.
        await sleep(500);
      }
    } finally {
      for (const watch of watches) watch.unsubscribe();
    }
  }, 60_000);
});

describe("a conversation's context and the list", () => {
  const ctx = useStack({ env: { ...UNLIMITED, CONTEXT_MAX_TOKENS: "1000" } });

  it("keeps both exchanges of two messages sent at once in the next context", async () => {
    const client = await ctx.stack.client("olga");
    const id = await client.createConversation();
    await (
      await client.send(id, "first")
    ).ended;
    ctx.stack.llm.script(
      { kind: "stream", chunks: ["answer A"], delayMs: 300 },
      { kind: "stream", chunks: ["answer B"], delayMs: 300 },
    );
    const [a, b] = await Promise.all([client.send(id, "question A"), client.send(id, "question B")]);
    await Promise.all([a.ended, b.ended]);
    await (
      await client.send(id, "third")
    ).ended;
    const sent = JSON.stringify(ctx.stack.llm.requests.at(-1)!.body.messages);
    for (const text of ["question A", "answer A", "question B", "answer B"]) expect(sent).toContain(text);
  }, 30_000);

  it("sends the model only the latest turns that fit in CONTEXT_MAX_TOKENS", async () => {
    const client = await ctx.stack.client("liam");
    const id = await client.createConversation();
    for (const mark of ["a", "b", "c"]) {
      const stream = await client.send(id, mark + "x".repeat(1_599));
      await stream.ended;
    }
    const sent = ctx.stack.llm.requests.at(-1)!.body.messages as Array<{ role: string; content: unknown }>;
    const text = JSON.stringify(sent);
    // 1,600 characters are 400 estimated tokens: the oldest message no longer fits.
    expect(text).not.toContain("a" + "x".repeat(20));
    expect(text).toContain("b" + "x".repeat(20));
    expect(text).toContain("c" + "x".repeat(20));
  }, 30_000);

  it("pages the conversation list, most recently active first", async () => {
    const client = await ctx.stack.client("mona");
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await client.createConversation(`c${i}`));
    const seen: Array<{ id: string; updatedAt: string }> = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: any } = await client.request(
        "GET",
        `/v1/conversations?limit=2${cursor ? `&cursor=${cursor}` : ""}`,
      );
      expect(page.status).toBe(200);
      expect(page.body.conversations.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.conversations);
      cursor = page.body.nextCursor;
    } while (cursor);
    // Each once, newest activity first (ties, within a millisecond, by id).
    expect(seen.map((c) => c.id).sort()).toEqual([...ids].sort());
    const activity = seen.map((c) => c.updatedAt);
    expect(activity).toEqual([...activity].sort().reverse());
    const bad = await client.request("GET", "/v1/conversations?cursor=not-ours");
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/cursor/);
  }, 30_000);
});

describe("an answer's slot through a NATS outage longer than its lease", () => {
  const ctx = useStack({ env: { ...UNLIMITED, MAX_ACTIVE_ANSWERS_PER_USER: "1" } });

  it("is taken again when NATS is back, so the cap still holds", async () => {
    const client = await ctx.stack.client("pete");
    const [busy, other] = await Promise.all([client.createConversation(), client.createConversation()]);
    ctx.stack.llm.script({ kind: "stream", chunks: words(60), delayMs: 200 });
    const live = await client.send(busy, "a slow one");
    await live.waitForEvents(2);
    // Down for twice the lease (2 s): the slot expires meanwhile.
    await ctx.stack.nats.nodes[0]!.stop();
    await sleep(4_000);
    await ctx.stack.nats.nodes[0]!.start();
    // A renewal (every lease / 3) after the reconnect takes the slot again.
    await sleep(3_000);
    const refused = await client.request("POST", `/v1/conversations/${other}/messages`, { content: "another" });
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe("too_many_answers");
    live.disconnect();
  }, 60_000);
});

describe("storage settings", () => {
  const ctx = useStack({ env: UNLIMITED });

  it("reach the running store when the API restarts with a changed lease and retention", async () => {
    const seconds = (ns: number) => ns / 1e9;
    expect(seconds((await ctx.store.jsm.streams.info("KV_active-answers")).config.max_age)).toBe(2);
    expect((await ctx.store.jsm.streams.info("CONVERSATIONS")).config.max_age).toBe(0);
    await ctx.stack.apis[0]!.stop();
    const restarted = await ctx.stack.startInstance({ GENERATION_LEASE: "9s", CHAT_RETENTION: "30d" });
    expect(seconds((await ctx.store.jsm.streams.info("KV_active-answers")).config.max_age)).toBe(9);
    for (const stream of ["CONVERSATIONS", "KV_conversations", "KV_conversation-contexts"]) {
      expect(seconds((await ctx.store.jsm.streams.info(stream)).config.max_age)).toBe(30 * 86_400);
    }
    expect(restarted.logs().some((l) => l.msg === "applied changed storage settings")).toBe(true);
    // And down again: a bucket's duplicate window must shrink with its max age.
    await restarted.stop();
    await ctx.stack.startInstance({ GENERATION_LEASE: "5s", CHAT_RETENTION: "30d" });
    expect(seconds((await ctx.store.jsm.streams.info("KV_active-answers")).config.max_age)).toBe(5);
  }, 60_000);

  it("answers 503 with Retry-After, never 500, while NATS is away", async () => {
    const api = ctx.stack.apis.at(-1)!;
    const client = await ctx.stack.client("ivan", api);
    const id = await client.createConversation();
    await ctx.stack.nats.nodes[0]!.stop();
    try {
      for (const [method, path, body] of [
        ["GET", `/v1/conversations/${id}`, undefined],
        ["GET", "/v1/conversations", undefined],
        ["POST", `/v1/conversations/${id}/messages`, { content: "hello?" }],
        ["DELETE", `/v1/conversations/${id}`, undefined],
      ] as const) {
        const res = await client.request(method, path, body);
        // 2 s, not the 60 s of a full store: an outage passes by itself.
        expect({
          path,
          method,
          status: res.status,
          code: res.body?.error?.code,
          retryAfter: res.headers["retry-after"],
        }).toEqual({ path, method, status: 503, code: "store_unavailable", retryAfter: "2" });
      }
    } finally {
      await ctx.stack.nats.nodes[0]!.start();
    }
  }, 60_000);
});

describe("a client that sends its next message as soon as an answer ends", () => {
  const ctx = useStack({ env: { ...UNLIMITED, MAX_ACTIVE_ANSWERS_PER_USER: "1" } });

  it("finds the answer neither still counted nor missing from the context", async () => {
    const client = await ctx.stack.client("quinn");
    const id = await client.createConversation();
    let previous: Awaited<ReturnType<typeof client.send>> | undefined;
    for (let i = 0; i < 10; i++) {
      ctx.stack.llm.script({ kind: "stream", chunks: [`reply ${i}`], delayMs: 0 });
      // Sent the moment the previous answer's last event arrives, not when its response ends.
      if (previous) await previous.waitForEvents(2);
      const stream = await client.send(id, `message ${i}`);
      expect(stream.status, `message ${i}`).toBe(200);
      await stream.waitForEvents(1); // the model has been asked by now
      if (i > 0) expect(JSON.stringify(ctx.stack.llm.requests.at(-1)!.body.messages)).toContain(`reply ${i - 1}`);
      previous = stream;
    }
    await previous!.ended;
  }, 30_000);
});
